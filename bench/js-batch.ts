// `npm run bench -- js-batch`: 4 KiB random reads on a malloc bdev from TypeScript through
// IoBatch (one native call and one completion per batch) into DMA buffers, several
// batches in flight, one reactor core. Prints JSON and writes it under bench/results/.
import { Engine } from '../src/index.js';
import { machine, publish } from './report.js';

export interface JsBatchOptions {
  seconds: number;
  batchSize: number;
  batchesInFlight: number[];
  core: number;
  out: string;
}

export async function jsBatch(o: JsBatchOptions): Promise<void> {
  const engine = await Engine.start({ cores: [o.core], memoryMb: 512, hugepages: 'auto', idle: 'poll' });
  const runs: { batchesInFlight: number; batchSize: number; iops: number; mibps: number }[] = [];
  try {
    const bdev = await engine.createBdev('malloc:///batch?size_mb=256&blk_size=4096');
    const blocks = bdev.numBlocks;
    for (const inFlight of o.batchesInFlight) {
      let ios = 0;
      let rng = 7;
      const end = performance.now() + o.seconds * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          const batch = bdev.createBatch(o.batchSize);
          const targets = Array.from({ length: o.batchSize }, () => engine.allocBuffer(4096));
          while (performance.now() < end) {
            for (let i = 0; i < o.batchSize; i++) {
              rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
              batch.read((rng % blocks) * 4096, targets[i]!);
            }
            const result = await batch.submit();
            if (result.failed > 0) throw new Error(`${result.failed} reads failed`);
            ios += result.count;
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const iops = Math.round(ios / seconds);
      runs.push({ batchesInFlight: inFlight, batchSize: o.batchSize, iops, mibps: Number(((iops * 4096) / (1 << 20)).toFixed(1)) });
      process.stderr.write(`${inFlight} x ${o.batchSize}: ${iops.toLocaleString('en')} IOPS\n`);
    }
  } finally {
    await engine.stop();
  }
  const output = {
    benchmark: 'js-batch',
    setup: {
      description: 'IoBatch reads into DMA buffers from allocBuffer (zero-copy), malloc 256 MiB, 4 KiB random',
      reactorCores: [o.core],
      idle: 'poll',
      secondsPerRun: o.seconds,
      machine: machine(),
    },
    date: new Date().toISOString(),
    runs,
  };
  publish(o.out, 'js-batch', output);
}
