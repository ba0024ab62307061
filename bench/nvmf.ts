// `npm run bench -- nvmf`: our NVMe/TCP target on one core (a separate process) and our
// host on the other, over loopback. engine.bench drives the nvmf:// bdev natively on the
// host's reactor: 4 KiB random read and write at QD 32 and 128 (IOPS, p99) and 128 KiB
// sequential read (MB/s), with digests off and on.
//
// Each trial starts a fresh target process and a fresh host engine. On this virtual
// machine one pair runs consistently but two pairs can differ by up to 2x (where the
// kernel and the hypervisor place their memory, socket buffers included), so a single
// pair proves little: the report gives every trial and the median.
import { Engine } from '../src/index.js';
import { median, startServingProcess } from './processes.js';
import { machine, progressBar, publish } from './report.js';

export interface NvmfBenchOptions {
  seconds: number;
  trials: number;
  targetCore: number;
  hostCore: number;
  out: string;
}

const NQN = 'nqn.2026-11.io.nodestor:bench';
const CASES = [
  { workload: 'randread', blockSize: 4096, queueDepth: 32 },
  { workload: 'randread', blockSize: 4096, queueDepth: 128 },
  { workload: 'randwrite', blockSize: 4096, queueDepth: 32 },
  { workload: 'randwrite', blockSize: 4096, queueDepth: 128 },
  { workload: 'read', blockSize: 131072, queueDepth: 16 },
] as const;

interface Sample {
  iops: number;
  p99Us: number;
  errors: number;
}

async function startTarget(core: number): Promise<{ port: number; hugepages: unknown; stop: () => Promise<void> }> {
  const target = await startServingProcess<{ port: number; hugepages: unknown }>('nvmf-target.js', ['--core', String(core), '--nqn', NQN]);
  return { ...target.ready, stop: target.stop };
}

export async function nvmfBench(o: NvmfBenchOptions): Promise<void> {
  let hostHugepages: unknown;
  let targetHugepages: unknown;
  // samples[digests][case] = one Sample per trial
  const samples = [false, true].map(() => CASES.map((): Sample[] => []));
  const bar = progressBar(o.trials * 2 * CASES.length, 'nvmf');
  for (let trial = 0; trial < o.trials; ++trial) {
    const target = await startTarget(o.targetCore);
    targetHugepages = target.hugepages;
    const engine = await Engine.start({ cores: [o.hostCore], memoryMb: 1024, hugepages: 'auto', idle: 'poll' });
    hostHugepages = engine.info().memory.hugepages;
    try {
      for (const digests of [false, true]) {
        const query = digests ? '&hdgst=1&ddgst=1' : '';
        const bdev = await engine.createBdev(
          `nvmf://127.0.0.1:${target.port}/${NQN}?name=remote${trial}${digests ? 'd' : ''}${query}`,
        );
        for (const [i, c] of CASES.entries()) {
          const r = await engine.bench({ bdev, ...c, seconds: o.seconds, cores: [o.hostCore] });
          samples[Number(digests)]![i]!.push({ iops: r.iops, p99Us: r.latencyUs.p99, errors: r.errors });
          bar.step(
            `trial ${trial + 1} ${digests ? 'digests' : 'plain  '} ${c.workload.padEnd(9)} ${String(c.blockSize).padStart(6)} ` +
              `QD${String(c.queueDepth).padEnd(3)} ${r.iops.toLocaleString('en').padStart(9)} IOPS ` +
              `${String(Math.round((r.iops * c.blockSize) / 1e6)).padStart(5)} MB/s p99 ${r.latencyUs.p99} us`,
          );
        }
        await bdev.destroy();
      }
    } finally {
      await engine.stop();
      await target.stop();
    }
  }
  bar.stop();
  const runs = [false, true].flatMap((digests) =>
    CASES.map((c, i) => {
      const trials = samples[Number(digests)]![i]!;
      const iops = median(trials.map((t) => t.iops));
      return {
        digests,
        ...c,
        iops,  // median over trials
        mbps: Math.round((iops * c.blockSize) / 1e6),
        p99Us: median(trials.map((t) => t.p99Us)),
        iopsRange: [Math.min(...trials.map((t) => t.iops)), Math.max(...trials.map((t) => t.iops))],
        trials: trials.map((t) => t.iops),
        errors: trials.reduce((sum, t) => sum + t.errors, 0),
      };
    }),
  );
  const output = {
    date: new Date().toISOString(),
    benchmark: 'nvmf',
    setup: {
      machine: machine(),
      target: `separate process per trial, engine on core ${o.targetCore}, poll mode, malloc 512 MiB namespace (4 KiB blocks)`,
      host: `engine on core ${o.hostCore}, poll mode, one I/O queue, engine.bench on the nvmf:// bdev`,
      transport: 'NVMe/TCP over loopback (127.0.0.1)',
      secondsPerRun: o.seconds,
      trials: o.trials,
      figures: 'iops and p99Us are the median over trials; iopsRange and trials show the spread',
      hugepages: { target: targetHugepages, host: hostHugepages },
    },
    runs,
  };
  process.stderr.write(
    runs
      .map(
        (r) =>
          `median ${r.digests ? 'digests' : 'plain  '} ${r.workload.padEnd(9)} ${String(r.blockSize).padStart(6)} QD${String(r.queueDepth).padEnd(3)} ` +
          `${r.iops.toLocaleString('en').padStart(9)} IOPS ${String(r.mbps).padStart(5)} MB/s (${r.iopsRange.join('..')})\n`,
      )
      .join(''),
  );
  publish(o.out, 'nvmf', output);
}
