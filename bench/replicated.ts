// `npm run bench -- replicated`: 4 KiB random read and write at QD 32 and 128 through a
// nexus of three replicas (one local lvol, two remote lvols over NVMe/TCP), against a
// single remote lvol replica, in the same run and the same process layout:
//   - the two remote replicas (an lvol on a RAM pool each) on core --replica-core: by
//     default one polling engine process serves both (two pools, two subsystems);
//     --replica-processes 2 gives each its own process, with adaptive reactors so that
//     they share the core without spinning against each other;
//   - the volume engine polls on --host-core: it holds the local replica (an lvol on a RAM
//     pool), the nexus, and the nvmf:// host bdevs, and runs engine.bench natively on them.
// Each trial starts fresh replica processes and a fresh volume engine; the report gives
// the median over trials, every trial, and the ratios nexus / single.
import { Engine, type Bdev } from '../src/index.js';
import { median, startServingProcess } from './processes.js';
import { machine, progressBar, publish } from './report.js';
import { lineChart } from './svg.js';

export interface ReplicatedBenchOptions {
  seconds: number;
  trials: number;
  replicaCore: number;
  hostCore: number;
  readPolicy: 'least-loaded' | 'round-robin';
  /** 1: both remote replicas served by one polling engine process; 2: a process each (adaptive). */
  replicaProcesses: 1 | 2;
  out: string;
}

const SIZE_MB = 256; // small enough that every engine of the layout gets hugepages (2 GiB in all here)
const CHILDREN = ['local/replica', 'remote0', 'remote1']; // the nexus's child bdevs
const CASES = [
  { workload: 'randread', queueDepth: 32 },
  { workload: 'randread', queueDepth: 128 },
  { workload: 'randwrite', queueDepth: 32 },
  { workload: 'randwrite', queueDepth: 128 },
] as const;

interface ReplicaNode {
  uris: string[];
  stop: () => Promise<void>;
}

async function startReplicaNode(core: number, replicas: number, idle: 'poll' | 'adaptive'): Promise<ReplicaNode> {
  const args = ['--core', String(core), '--size-mb', String(SIZE_MB), '--replicas', String(replicas), '--idle', idle];
  const node = await startServingProcess<{ uris: string[] }>('replica-node.js', args);
  return { uris: node.ready.uris, stop: node.stop };
}

export async function replicatedBench(o: ReplicatedBenchOptions): Promise<void> {
  // samples[case] = { nexus: iops per trial, single: iops per trial }
  const samples = CASES.map(() => ({ nexus: [] as number[], single: [] as number[], localShare: [] as number[], errors: 0 }));
  let hugepages: unknown;
  const bar = progressBar(o.trials * CASES.length * 2, 'replicated');
  for (let trial = 0; trial < o.trials; ++trial) {
    const nodes =
      o.replicaProcesses === 1
        ? [await startReplicaNode(o.replicaCore, 2, 'poll')]
        : [await startReplicaNode(o.replicaCore, 1, 'adaptive'), await startReplicaNode(o.replicaCore, 1, 'adaptive')];
    const remotes = nodes.flatMap((n) => n.uris);
    const engine = await Engine.start({ cores: [o.hostCore], memoryMb: SIZE_MB + 384, hugepages: 'auto', idle: 'poll' });
    hugepages = engine.info().memory.hugepages;
    try {
      const pool = await engine.createPool({ name: 'local', disk: `malloc:///disk?size_mb=${SIZE_MB + 64}&blk_size=4096` });
      await pool.createLvol({ name: 'replica', sizeBytes: SIZE_MB << 20 });
      const single = await engine.createBdev(`${remotes[0]}?name=single`);
      const nexus = await engine.createNexus({
        name: 'volume',
        children: ['bdev:///local/replica', `${remotes[0]}?name=remote0`, `${remotes[1]}?name=remote1`],
        readPolicy: o.readPolicy,
      });
      // Both remote replicas start identical to the local one (fresh, zeroed), so no rebuild runs.
      for (const [i, c] of CASES.entries()) {
        // Alternate: single, nexus, so drift in the machine's speed hits both alike.
        for (const [which, bdev] of [['single', single], ['nexus', nexus.bdev]] as [string, Bdev][]) {
          const before = engine.stats();
          const r = await engine.bench({ bdev, workload: c.workload, blockSize: 4096, queueDepth: c.queueDepth, seconds: o.seconds, cores: [o.hostCore] });
          (which === 'single' ? samples[i]!.single : samples[i]!.nexus).push(r.iops);
          samples[i]!.errors += r.errors;
          let spread = '';
          if (which === 'nexus' && c.workload === 'randread') {
            // Where the nexus sent its reads: the local share is what the read policy buys.
            const after = engine.stats();
            const reads = CHILDREN.map((name) => (after[name]?.readOps ?? 0) - (before[name]?.readOps ?? 0));
            const total = reads.reduce((a, b) => a + b, 0) || 1;
            samples[i]!.localShare.push(Number((reads[0]! / total).toFixed(3)));
            spread = ` reads local/remote0/remote1 ${reads.map((n) => ((100 * n) / total).toFixed(1) + '%').join('/')}`;
          }
          bar.step(`trial ${trial + 1} ${which.padEnd(6)} ${c.workload.padEnd(9)} QD${String(c.queueDepth).padEnd(3)} ${r.iops.toLocaleString('en').padStart(9)} IOPS p99 ${r.latencyUs.p99} us${spread}`);
        }
      }
      await nexus.destroy();
      await single.destroy();
    } finally {
      await engine.stop();
      for (const node of nodes) await node.stop();
    }
  }
  bar.stop();
  const runs = CASES.map((c, i) => {
    const s = samples[i]!;
    const nexusIops = median(s.nexus), singleIops = median(s.single);
    return {
      ...c,
      blockSize: 4096,
      nexusIops,
      singleIops,
      ratio: Number((nexusIops / singleIops).toFixed(3)),
      target: c.workload === 'randread' ? 1.6 : 0.55,
      ...(c.workload === 'randread' ? { localReadShare: s.localShare } : {}),
      nexusTrials: s.nexus,
      singleTrials: s.single,
      errors: s.errors,
    };
  });
  const output = {
    date: new Date().toISOString(),
    benchmark: 'replicated',
    setup: {
      machine: machine(),
      layout:
        (o.replicaProcesses === 1
          ? `one replica process polling on core ${o.replicaCore}, serving both remote replicas (two pools, two subsystems, one port)`
          : `two replica processes on core ${o.replicaCore}, adaptive reactors`) +
        `; the volume engine polling on core ${o.hostCore}: local replica, nexus, nvmf:// host bdevs, engine.bench`,
      replicas: `thick lvols of ${SIZE_MB} MiB on RAM pools (malloc disks, 4 KiB blocks), one NVMe/TCP subsystem each over loopback`,
      nexus: `local lvol + 2 remote lvols, readPolicy ${o.readPolicy}`,
      single: 'one remote lvol replica (the first remote replica), nvmf:// bdev on the volume engine',
      secondsPerRun: o.seconds,
      trials: o.trials,
      figures: 'median IOPS over trials (single and nexus alternate within a trial); ratio = nexus / single',
      hugepages,
    },
    runs,
  };
  for (const r of runs)
    process.stderr.write(
      `median ${r.workload.padEnd(9)} QD${String(r.queueDepth).padEnd(3)} nexus ${r.nexusIops.toLocaleString('en').padStart(9)} ` +
        `single ${r.singleIops.toLocaleString('en').padStart(9)} ratio ${r.ratio} (target ${r.target})\n`,
    );
  const series = ['randread', 'randwrite'].flatMap((w) => [
    { name: `${w} nexus`, points: runs.filter((r) => r.workload === w).map((r) => [r.queueDepth, r.nexusIops] as [number, number]) },
    { name: `${w} single`, points: runs.filter((r) => r.workload === w).map((r) => [r.queueDepth, r.singleIops] as [number, number]) },
  ]);
  publish(o.out, 'replicated', output, { '': lineChart('nodestor: 3-replica nexus vs one remote replica, 4 KiB', 'queue depth', 'IOPS', series, output.setup.layout.slice(0, 90)) });
}
