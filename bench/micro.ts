// `npm run bench -- micro`: per-call cost of the TypeScript I/O paths with benchmark.js:
// one read, one write, and a batch of 64 reads (zero-copy DMA buffers), on a malloc bdev.
import { createRequire } from 'node:module';
import { Engine } from '../src/index.js';
import { publish } from './report.js';

interface BenchmarkTarget {
  name: string;
  hz: number;
  stats: { rme: number; mean: number; sample: number[] };
}
interface Suite {
  add(name: string, options: { defer: true; fn: (deferred: { resolve(): void }) => void }): Suite;
  on(event: 'cycle', fn: (event: { target: BenchmarkTarget }) => void): Suite;
  run(options: { async: boolean }): void;
  on(event: 'complete', fn: () => void): Suite;
}

export async function micro(out: string, core: number): Promise<void> {
  const require = createRequire(import.meta.url);
  const Benchmark = require('benchmark') as { Suite: new () => Suite };
  const engine = await Engine.start({ cores: [core], memoryMb: 256, hugepages: 'auto', idle: 'poll' });
  const results: { name: string; opsPerSec: number; ioPerSec: number; usPerCall: number; rmePercent: number }[] = [];
  try {
    const bdev = await engine.createBdev('malloc:///micro?size_mb=64&blk_size=4096');
    const data = Buffer.alloc(4096, 1);
    const dma = engine.allocBuffer(4096);
    const batch = bdev.createBatch(64);
    const targets = Array.from({ length: 64 }, () => engine.allocBuffer(4096));
    let n = 0;
    await new Promise<void>((done) => {
      new Benchmark.Suite()
        .add('read 4 KiB (one promise per I/O)', { defer: true, fn: (d) => void bdev.read(((n++ * 7) % 16384) * 4096, 4096).then(() => d.resolve()) })
        .add('write 4 KiB (plain buffer, copied)', { defer: true, fn: (d) => void bdev.write(((n++ * 7) % 16384) * 4096, data).then(() => d.resolve()) })
        .add('readInto 4 KiB (DMA buffer, zero-copy)', { defer: true, fn: (d) => void bdev.readInto(((n++ * 7) % 16384) * 4096, dma).then(() => d.resolve()) })
        .add('batch of 64 x 4 KiB reads (DMA buffers)', {
          defer: true,
          fn: (d) => {
            for (let i = 0; i < 64; i++) batch.read(((n++ * 7) % 16384) * 4096, targets[i]!);
            void batch.submit().then(() => d.resolve());
          },
        })
        .on('cycle', (event) => {
          const t = event.target;
          const perCall = t.name.startsWith('batch') ? 64 : 1;
          results.push({
            name: t.name,
            opsPerSec: Math.round(t.hz),
            ioPerSec: Math.round(t.hz * perCall),
            usPerCall: Number((t.stats.mean * 1e6).toFixed(3)),
            rmePercent: Number(t.stats.rme.toFixed(2)),
          });
          process.stderr.write(`${t.name}: ${Math.round(t.hz * perCall).toLocaleString('en')} I/O per s (±${t.stats.rme.toFixed(1)}%)\n`);
        })
        .on('complete', () => done())
        .run({ async: true });
    });
  } finally {
    await engine.stop();
  }
  const output = {
    benchmark: 'micro',
    setup: {
      description: 'benchmark.js, one call in flight at a time: the per-call cost of each TypeScript path (latency-bound, not throughput)',
      bdev: 'malloc 64 MiB, 4 KiB blocks',
      reactorCores: [core],
      idle: 'poll',
      node: process.version,
    },
    date: new Date().toISOString(),
    results,
  };
  publish(out, 'micro', output);
}
