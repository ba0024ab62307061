// The soak's I/O on one volume, from a host engine through the volume's host-side proxy:
// random 4 KiB writes recorded in a model of acknowledged writes, and random reads checked
// against it as they return. A block is read or written by one request at a time, so each
// read has one answer the model allows. pause() drains the I/O for the checks; verify()
// reads every block and names each one that holds older data or bytes no write produced.
import type { Bdev } from '../../src/index.js';
import { BLOCK, BlockModel } from '../block-model.js';
import type { Random } from './random.js';

export interface WorkloadCounts {
  writesAcked: number;
  writesFailed: number;
  reads: number;
  readsFailed: number;
}

export class VolumeWorkload {
  readonly model: BlockModel;
  readonly counts: WorkloadCounts = { writesAcked: 0, writesFailed: 0, reads: 0, readsFailed: 0 };
  /** Reads that returned what the model forbids (each a lost or corrupted write). */
  readonly violations: string[] = [];
  /** The last I/O errors seen (kept short), for the report. */
  readonly lastErrors: string[] = [];
  readonly #reading = new Set<number>();
  #running = false;
  #workers: Promise<void>[] = [];

  constructor(
    readonly name: string,
    readonly bdev: Bdev,
    readonly random: Random,
    readonly queueDepth: number,
  ) {
    this.model = new BlockModel(bdev.sizeBytes / BLOCK);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#workers = Array.from({ length: this.queueDepth }, (_, i) => this.#worker(i % 4 === 3 ? 'read' : 'write'));
  }

  /** Stops issuing I/O and waits for what is in flight. */
  async pause(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
    this.#workers = [];
  }

  /** Every block read back (1 MiB at a time) and checked; returns the violations found. */
  async verify(): Promise<string[]> {
    const found: string[] = [];
    const chunk = 1 << 20;
    for (let offset = 0; offset < this.bdev.sizeBytes; offset += chunk) {
      const data = await this.bdev.read(offset, Math.min(chunk, this.bdev.sizeBytes - offset));
      for (let at = 0; at < data.length; at += BLOCK) {
        const why = this.model.check((offset + at) / BLOCK, data.subarray(at, at + BLOCK));
        if (why) found.push(why);
      }
    }
    return found;
  }

  #pick(): number | undefined {
    for (let tries = 0; tries < 16; tries++) {
      const block = this.random.int(this.model.blocks);
      if (!this.model.isBusy(block) && !this.#reading.has(block)) return block;
    }
    return undefined;
  }

  #error(what: string, error: unknown): void {
    this.lastErrors.push(`${new Date().toISOString()} ${what}: ${(error as Error).message}`);
    if (this.lastErrors.length > 20) this.lastErrors.shift();
  }

  async #worker(kind: 'read' | 'write'): Promise<void> {
    while (this.#running) {
      const block = this.#pick();
      if (block === undefined) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (kind === 'write') {
        const seq = this.model.begin(block);
        try {
          await this.bdev.write(block * BLOCK, BlockModel.data(block, seq));
          this.model.acked(block, seq);
          this.counts.writesAcked++;
        } catch (error) {
          this.model.failed(block); // it may or may not have landed: either is allowed
          this.counts.writesFailed++;
          this.#error(`write of block ${block}`, error);
          await new Promise((r) => setTimeout(r, 50));
        }
        continue;
      }
      this.#reading.add(block);
      try {
        const data = await this.bdev.read(block * BLOCK, BLOCK);
        this.counts.reads++;
        const why = this.model.check(block, data);
        if (why) this.violations.push(`${new Date().toISOString()} ${why}`);
      } catch (error) {
        this.counts.readsFailed++;
        this.#error(`read of block ${block}`, error);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        this.#reading.delete(block);
      }
    }
  }
}
