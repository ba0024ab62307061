// The JavaScript half of the completion queue. Every I/O takes a slot; the native side
// reports completions in batches as (slot, status) pairs written into one shared
// Int32Array, followed by a single call of `onIo(count)`, so a batch of completions costs
// one crossing from native code, not one per I/O.
import { binding, type NativeBatch, type NativeBdev, type NativeEngine } from '../binding.js';
import { ioError } from '../errors.js';

// Copies of the addon's numbers (binding().constants; test/engine/constants.test.ts compares).
export const EAGAIN = -11;
export const MAX_IN_FLIGHT = 65536; // JsEngine::kMaxIoInFlight
const RESULT_PAIRS = 4096;

/** What a bdev needs from the dispatcher to account for its own in-flight I/O. @internal */
export interface IoOwner {
  readonly name: string;
  readonly native: NativeBdev;
  ioStarted(): void;
  ioFinished(): void;
}

/** A batch as the dispatcher submits it (src/bdev/batch.ts fills it). */
export interface BatchSubmission {
  native: NativeBatch;
  count: number;
  ops: Uint8Array;
  offsets: Float64Array;
  lengths: Float64Array;
  buffers: (Uint8Array | null)[];
  statuses: Int32Array;
}

interface PendingIo {
  owner: IoOwner;
  batch: BatchSubmission | undefined;
  op: number;
  opName: string;
  offset: number;
  length: number;
  buffer: Uint8Array | null; // kept referenced until completion: native code writes into it
  value: unknown; // what the promise resolves with
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class IoDispatcher {
  readonly results = new Int32Array(RESULT_PAIRS * 2);
  private readonly pending: (PendingIo | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private readonly backlog: PendingIo[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private engine: NativeEngine | undefined;

  /** The function the native side calls with a batch size. */
  readonly onIo = (count: number): void => {
    const results = this.results;
    for (let i = 0; i < count; i++) {
      const slot = results[2 * i]!;
      const status = results[2 * i + 1]!;
      const io = this.pending[slot]!;
      this.pending[slot] = undefined;
      this.freeSlots.push(slot);
      this.finish(io, status);
    }
    if (this.backlog.length > 0) this.drainBacklog();
  };

  attach(engine: NativeEngine): void {
    this.engine = engine;
  }

  get ioInFlight(): number {
    return this.inFlight;
  }

  submit(
    owner: IoOwner,
    op: number,
    opName: string,
    offset: number,
    length: number,
    buffer: Uint8Array | null,
    value: unknown,
    batch?: BatchSubmission,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const io: PendingIo = { owner, batch, op, opName, offset, length, buffer, value, resolve, reject };
      this.inFlight++;
      owner.ioStarted();
      if (this.backlog.length > 0 || !this.trySubmit(io)) {
        this.backlog.push(io);
        // Completions retry the backlog; with nothing in flight none would come.
        if (this.nextSlot === this.freeSlots.length) setImmediate(() => this.drainBacklog());
      }
    });
  }

  /** Submits a whole batch; resolves with the number of its I/Os that failed. */
  submitBatch(owner: IoOwner, batch: BatchSubmission): Promise<number> {
    return this.submit(owner, -1, 'batch', 0, 0, null, undefined, batch) as Promise<number>;
  }

  /** Resolves once no I/O is in flight (used by destroy and stop). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private trySubmit(io: PendingIo): boolean {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.nextSlot === MAX_IN_FLIGHT) return false;
      slot = this.nextSlot++;
    }
    const b = io.batch;
    const rc = b
      ? binding().batchSubmit(this.engine!, io.owner.native, b.native, slot, b.count, b.ops, b.offsets, b.lengths, b.buffers, b.statuses)
      : binding().bdevIo(this.engine!, io.owner.native, io.op, slot, io.offset, io.length, io.buffer);
    if (rc === 0) {
      this.pending[slot] = io;
      return true;
    }
    this.freeSlots.push(slot);
    if (rc === EAGAIN) return false;
    this.finish(io, rc);
    return true;
  }

  private drainBacklog(): void {
    while (this.backlog.length > 0) {
      if (!this.trySubmit(this.backlog[0]!)) {
        // Refused for want of a slot or a bounce buffer: completions retry, and with none
        // in flight the retry is scheduled here (the native side then says ENOMEM if the
        // memory is too small for the I/O even when idle).
        if (this.nextSlot === this.freeSlots.length) setImmediate(() => this.drainBacklog());
        return;
      }
      this.backlog.shift();
    }
  }

  private finish(io: PendingIo, status: number): void {
    this.inFlight--;
    io.owner.ioFinished();
    // A batch completes with the count of its I/Os that failed; only a negative status
    // (the batch could not be submitted) rejects it.
    if (io.batch && status >= 0) io.resolve(status);
    else if (status === 0) io.resolve(io.value);
    else io.reject(ioError(status, io.opName, io.owner.name));
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

}
