// A host's verified I/O against a model of acknowledged writes. Each 4 KiB block written
// carries its block number and a sequence number in every 8 bytes, so a read tells which
// write it returns. A block has at most one write in flight; a read must return the last
// acknowledged write or one issued after it whose outcome is not known (in flight, or
// failed when the target died), never older data or bytes no write produced.
import type { Bdev } from '../../../src/index.js';

export { BLOCK, BlockModel } from '../../../bench/block-model.js';
import { BLOCK, BlockModel } from '../../../bench/block-model.js';

export interface WriteRun {
  acked: number;
  errors: string[];
  /** Every write begun (its block and when), in the order begun. */
  begun: { block: number; at: number }[];
  stop(): Promise<void>;
}

let rng = 0x9e3779b9;
function random(n: number): number {
  rng ^= rng << 13;
  rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  rng >>>= 0;
  return rng % n;
}

/**
 * Random 4 KiB writes at queue depth `qd` into blocks [first, end) until stop(), each
 * acknowledged write recorded in the model and each failure in `errors`.
 */
export function startWrites(bdev: Bdev, model: BlockModel, range: { first: number; end: number }, qd: number): WriteRun {
  let running = true;
  const run: WriteRun = { acked: 0, errors: [], begun: [], stop: async () => {} };
  const worker = async (): Promise<void> => {
    while (running) {
      let block = range.first + random(range.end - range.first);
      for (let tries = 0; model.isBusy(block) && tries < 16; tries++) block = range.first + random(range.end - range.first);
      if (model.isBusy(block)) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const seq = model.begin(block);
      run.begun.push({ block, at: Date.now() });
      try {
        await bdev.write(block * BLOCK, BlockModel.data(block, seq));
        model.acked(block, seq);
        run.acked++;
      } catch (error) {
        model.failed(block);
        run.errors.push(`write of block ${block}: ${(error as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: qd }, () => worker());
  run.stop = async () => {
    running = false;
    await Promise.all(workers);
  };
  return run;
}

/** Writes each of `blocks` once (serially per block) and waits for all. */
export async function writeBlocks(bdev: Bdev, model: BlockModel, blocks: number[]): Promise<void> {
  await Promise.all(
    blocks.map(async (block) => {
      const seq = model.begin(block);
      await bdev.write(block * BLOCK, BlockModel.data(block, seq));
      model.acked(block, seq);
    }),
  );
}

/** Reads the whole volume in 1 MiB pieces; resolves with every block the model refuses. */
export async function verifyVolume(bdev: Bdev, model: BlockModel): Promise<string[]> {
  const problems: string[] = [];
  const chunk = 1 << 20;
  for (let offset = 0; offset < model.blocks * BLOCK; offset += chunk) {
    const bytes = await bdev.read(offset, chunk);
    for (let i = 0; i < chunk / BLOCK; i++) {
      const why = model.check(offset / BLOCK + i, bytes.subarray(i * BLOCK, (i + 1) * BLOCK));
      if (why) problems.push(why);
    }
  }
  return problems;
}
