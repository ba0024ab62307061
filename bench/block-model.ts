// A model of acknowledged writes, for verified I/O against a volume while faults happen
// (the cluster tests and the soak share it). Each 4 KiB block written carries its block
// number and a sequence number in every 8 bytes, so a read tells which write it returns.
// A block has at most one write in flight; a read must return the last acknowledged write
// or one issued after it whose outcome is not known (in flight, or failed when the target
// died), never older data or bytes no write produced.
import { createHash } from 'node:crypto';

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
