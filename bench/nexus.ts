// `npm run bench -- nexus`: a nexus over three malloc children against one malloc bdev in
// the same run (4 KiB random read and write, QD 128, one core, engine.bench), then the
// full rebuild rate of a malloc child with no application I/O and with random writes
// running on the nexus.
import { Engine, type Bdev, type BenchOptions, type Nexus } from '../src/index.js';
import { machine, publish } from './report.js';

export interface NexusBenchOptions {
  seconds: number;
  core: number;
  out: string;
}

const MiB = 1 << 20;

function rebuildEnd(nexus: Nexus, uri: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rebuild of ${uri} did not end in 120 s`)), 120_000);
    nexus.on('rebuild', (e) => {
      if (e.uri !== uri || !['Completed', 'Failed', 'Stopped'].includes(e.state)) return;
      clearTimeout(timer);
      if (e.state === 'Completed') resolve();
      else reject(new Error(`rebuild of ${uri} ended ${e.state}: ${e.stats?.error ?? ''}`));
    });
  });
}

/** The best IOPS of each bdev over three alternating runs, so drift hits them alike. */
async function bestOfAlternating(engine: Engine, bdevs: Bdev[], common: Omit<BenchOptions, 'bdev'>): Promise<{ best: number[]; runs: number[][] }> {
  const runs: number[][] = bdevs.map(() => []);
  for (let round = 0; round < 3; round++)
    for (const [i, bdev] of bdevs.entries()) runs[i]!.push((await engine.bench({ bdev, ...common })).iops);
  return { best: runs.map((r) => Math.max(...r)), runs };
}

export async function nexusBench(o: NexusBenchOptions): Promise<void> {
  const sizeMb = 128;
  const engine = await Engine.start({ cores: [o.core], memoryMb: 1536, hugepages: 'auto', idle: 'poll' });
  const result: Record<string, unknown> = {};
  try {
    result.hugepages = engine.info().memory.hugepages;
    const single = await engine.createBdev(`malloc:///single?size_mb=${sizeMb}&blk_size=4096`);
    const children = [0, 1, 2].map((i) => `malloc:///child${i}?size_mb=${sizeMb}&blk_size=4096`);
    const nexus = await engine.createNexus({ name: 'bench', children, readPolicy: 'round-robin' });
    const striped = await engine.createNexus({ name: 'striped', children: [0, 1, 2].map((i) => `malloc:///schild${i}?size_mb=${sizeMb}&blk_size=4096`), readPolicy: 'striped' });
    const comparisons = [];
    for (const workload of ['randread', 'randwrite'] as const) {
      const common = { workload, blockSize: 4096, queueDepth: 128, seconds: o.seconds, cores: [o.core] };
      const bdevs = workload === 'randread' ? [single, nexus.bdev, striped.bdev] : [single, nexus.bdev];
      const { best, runs } = await bestOfAlternating(engine, bdevs, common);
      const [singleBest, nexusBest, stripedBest] = best as [number, number, number | undefined];
      const ratio = Number((nexusBest / singleBest).toFixed(3));
      const entry: Record<string, unknown> = { workload, singleIops: singleBest, nexusIops: nexusBest, ratio, singleRuns: runs[0], nexusRuns: runs[1] };
      if (stripedBest !== undefined)
        Object.assign(entry, { stripedIops: stripedBest, stripedRatio: Number((stripedBest / singleBest).toFixed(3)), stripedRuns: runs[2] });
      comparisons.push(entry);
      process.stderr.write(`${workload}: single ${singleBest.toLocaleString('en')} nexus ${nexusBest.toLocaleString('en')} IOPS (${ratio})${stripedBest !== undefined ? ` striped ${stripedBest.toLocaleString('en')}` : ''}\n`);
    }
    result.nexusVsSingle = comparisons;
    await striped.destroy();

    // The nexus layer's own cost per I/O: the same comparison over null bdevs, which move
    // no data, so the difference in time per I/O is the nexus and nothing else.
    const nullSingle = await engine.createBdev('null:///nullsingle?num_blocks=32768&blk_size=4096');
    const nullNexus = await engine.createNexus({ name: 'nulls', children: [0, 1, 2].map((i) => `null:///nullchild${i}?num_blocks=32768&blk_size=4096`) });
    const layerCost: Record<string, unknown>[] = [];
    for (const workload of ['randread', 'randwrite'] as const) {
      const { best } = await bestOfAlternating(engine, [nullSingle, nullNexus.bdev], { workload, blockSize: 4096, queueDepth: 128, seconds: o.seconds, cores: [o.core] });
      const [singleIops, nexusIops] = best as [number, number];
      const nsPerIo = Number((1e9 / nexusIops - 1e9 / singleIops).toFixed(1));
      layerCost.push({ workload, singleIops, nexusIops, nexusNsPerIo: nsPerIo });
      process.stderr.write(`null children, ${workload}: the nexus adds ${nsPerIo} ns per I/O\n`);
    }
    result.nexusLayerCost = layerCost;
    await nullNexus.destroy();
    await nullSingle.destroy();

    // Full rebuild of a fresh malloc child, nothing else running.
    const added = `malloc:///child3?size_mb=${sizeMb}&blk_size=4096`;
    let done = rebuildEnd(nexus, added);
    await nexus.addChild(added);
    await done;
    const idle = nexus.rebuildStats(added)!;
    result.rebuildIdle = { bytes: idle.bytesRebuilt, bytesPerSec: Math.round(idle.bytesPerSec), gbPerSec: Number((idle.bytesPerSec / 1e9).toFixed(2)) };
    process.stderr.write(`rebuild, no I/O: ${(idle.bytesPerSec / 1e9).toFixed(2)} GB/s\n`);

    // Again with 4 KiB random writes at QD 32 on the nexus meanwhile.
    await nexus.removeChild(added);
    done = rebuildEnd(nexus, added);
    const writing = engine.bench({ bdev: nexus.bdev, workload: 'randwrite', blockSize: 4096, queueDepth: 32, seconds: o.seconds, cores: [o.core] });
    await new Promise((r) => setTimeout(r, 100));
    await nexus.addChild(added);
    await done;
    const busy = nexus.rebuildStats(added)!;
    const io = await writing;
    result.rebuildUnderWrites = {
      bytes: busy.bytesRebuilt,
      bytesPerSec: Math.round(busy.bytesPerSec),
      gbPerSec: Number((busy.bytesPerSec / 1e9).toFixed(2)),
      writeIops: io.iops,
      writeErrors: io.errors,
    };
    process.stderr.write(`rebuild under writes: ${(busy.bytesPerSec / 1e9).toFixed(2)} GB/s, writes ${io.iops.toLocaleString('en')} IOPS\n`);
    await nexus.destroy();
  } finally {
    await engine.stop();
  }
  const output = {
    benchmark: 'nexus',
    setup: {
      nexus: `3 malloc children of ${sizeMb} MiB (4 KiB blocks), reads round-robin; 'striped': the same with readPolicy striped (1 MiB); single: one malloc bdev of ${sizeMb} MiB`,
      io: '4 KiB, QD 128, engine.bench on one reactor (poll); best of 3 alternating runs',
      layerCost: 'the same over 3 null children against one null bdev: 1e9/nexusIops - 1e9/singleIops',
      rebuild: 'full rebuild of a 4th malloc child: 1 MiB segments, 4 in flight; then again under 4 KiB randwrite QD 32',
      secondsPerRun: o.seconds,
      core: o.core,
      machine: machine(),
    },
    date: new Date().toISOString(),
    ...result,
  };
  publish(o.out, 'nexus', output);
}
