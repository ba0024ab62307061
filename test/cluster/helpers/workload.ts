// A host's verified I/O against a model of acknowledged writes. Each 4 KiB block written
// carries its block number and a sequence number in every 8 bytes, so a read tells which
// write it returns. A block has at most one write in flight; a read must return the last
// acknowledged write or one issued after it whose outcome is not known (in flight, or
// failed when the target died), never older data or bytes no write produced.
import { createHash } from 'node:crypto';
import type { Bdev } from '../../../src/index.js';

export const BLOCK = 4096;

export class BlockModel {
  readonly #acked: Uint32Array;
  readonly #possible = new Map<number, Set<number>>(); // block -> seqs that may have landed
  readonly #busy = new Set<number>();
  #nextSeq = 1;

  constructor(readonly blocks: number) {
    this.#acked = new Uint32Array(blocks);
  }

  static data(block: number, seq: number): Buffer {
    const out = Buffer.alloc(BLOCK);
    if (seq === 0) return out;
    for (let i = 0; i < BLOCK; i += 8) {
      out.writeUInt32LE(block, i);
      out.writeUInt32LE(seq, i + 4);
    }
    return out;
  }

  isBusy(block: number): boolean {
    return this.#busy.has(block);
  }

  begin(block: number): number {
    const seq = this.#nextSeq++;
    this.#busy.add(block);
    this.#possibleOf(block).add(seq);
    return seq;
  }

  acked(block: number, seq: number): void {
    this.#busy.delete(block);
    this.#acked[block] = seq;
    this.#possible.delete(block); // writes to a block are serial: older ones are superseded
  }

  /** The write failed: it may or may not have landed. */
  failed(block: number): void {
    this.#busy.delete(block);
  }

  ackedSeq(block: number): number {
    return this.#acked[block]!;
  }

  /** Why `bytes`, read from `block`, is not allowed; undefined when it is. */
  check(block: number, bytes: Uint8Array): string | undefined {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, BLOCK);
    const seq = buf.readUInt32LE(4);
    const acked = this.#acked[block]!;
    if (!buf.equals(BlockModel.data(block, seq)))
      return `block ${block}: bytes no write produced`;
    if (seq === acked) return undefined;
    if (seq > acked && this.#possible.get(block)?.has(seq)) return undefined;
    return `block ${block}: read write #${seq}, but #${acked} was acknowledged`;
  }

  /** SHA-256 per segment of what the volume must hold when every write was acknowledged. */
  segmentHashes(segmentBytes: number): string[] {
    const perSegment = segmentBytes / BLOCK;
    const hashes: string[] = [];
    for (let first = 0; first < this.blocks; first += perSegment) {
      const hash = createHash('sha256');
      for (let b = first; b < first + perSegment; b++) hash.update(BlockModel.data(b, this.#acked[b]!));
      hashes.push(hash.digest('hex'));
    }
    return hashes;
  }

  #possibleOf(block: number): Set<number> {
    let set = this.#possible.get(block);
    if (!set) this.#possible.set(block, (set = new Set()));
    return set;
  }
}

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
