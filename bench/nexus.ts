// `npm run bench -- nexus`: a nexus over three malloc children against one malloc bdev in
// the same run (4 KiB random read and write, QD 128, one core, engine.bench), then the
// full rebuild rate of a malloc child with no application I/O and with random writes
// running on the nexus.
import { Engine, type Nexus } from '../src/index.js';
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

export async function nexusBench(o: NexusBenchOptions): Promise<void> {
  const sizeMb = 128;
  const engine = await Engine.start({ cores: [o.core], memoryMb: 1536, hugepages: 'auto', idle: 'poll' });
  const result: Record<string, unknown> = {};
  try {
    result.hugepages = engine.info().memory.hugepages;
    const single = await engine.createBdev(`malloc:///single?size_mb=${sizeMb}&blk_size=4096`);
    const children = [0, 1, 2].map((i) => `malloc:///child${i}?size_mb=${sizeMb}&blk_size=4096`);
    const nexus = await engine.createNexus({ name: 'bench', children });
    const striped = await engine.createNexus({ name: 'striped', children: [0, 1, 2].map((i) => `malloc:///schild${i}?size_mb=${sizeMb}&blk_size=4096`), readPolicy: 'striped' });
    const comparisons = [];
    for (const workload of ['randread', 'randwrite'] as const) {
      const common = { workload, blockSize: 4096, queueDepth: 128, seconds: o.seconds, cores: [o.core] };
      // Alternate single / nexus three times and keep the best of each, so drift hits both alike.
      const singleRuns: number[] = [];
      const nexusRuns: number[] = [];
      const stripedRuns: number[] = [];
      for (let round = 0; round < 3; round++) {
        singleRuns.push((await engine.bench({ bdev: single, ...common })).iops);
        nexusRuns.push((await engine.bench({ bdev: nexus.bdev, ...common })).iops);
        if (workload === 'randread') stripedRuns.push((await engine.bench({ bdev: striped.bdev, ...common })).iops);
      }
      const singleBest = Math.max(...singleRuns);
      const nexusBest = Math.max(...nexusRuns);
      const ratio = Number((nexusBest / singleBest).toFixed(3));
      const entry: Record<string, unknown> = { workload, singleIops: singleBest, nexusIops: nexusBest, ratio, singleRuns, nexusRuns };
      if (stripedRuns.length) {
        const best = Math.max(...stripedRuns);
        Object.assign(entry, { stripedIops: best, stripedRatio: Number((best / singleBest).toFixed(3)), stripedRuns });
      }
      comparisons.push(entry);
      process.stderr.write(`${workload}: single ${singleBest.toLocaleString('en')} nexus ${nexusBest.toLocaleString('en')} IOPS (${ratio})${stripedRuns.length ? ` striped ${Math.max(...stripedRuns).toLocaleString('en')}` : ''}\n`);
    }
    result.nexusVsSingle = comparisons;
    await striped.destroy();

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
