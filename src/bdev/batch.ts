import { binding, IoOp, type NativeBatch } from '../binding.js';
import { codeForErrno, NodestorError, type ErrorCode } from '../errors.js';
import type { BatchSubmission, IoDispatcher, IoOwner } from '../io/dispatcher.js';
import { requireBytes, requireInteger } from '../validate.js';

export interface BatchResult {
  /** I/Os in the batch. */
  count: number;
  /** How many failed. */
  failed: number;
  /** Per I/O, in the order added: 0 or a negative errno. Valid until the batch is reused. */
  statuses: Int32Array;
  /** Per failed I/O: its index and code. */
  errors: { index: number; code: ErrorCode }[];
}

/** What a batch needs from its bdev. @internal */
export interface BatchHost extends IoOwner {
  readonly blockSize: number;
  readonly sizeBytes: number;
  readonly dispatcher: IoDispatcher;
  checkBatchable(op: string): void;
}

/**
 * Many I/Os on one bdev submitted with one native call and completed with one
 * completion: the volume path. Add I/Os, `submit()`, await, reuse. With buffers from
 * `engine.allocBuffer` (4 KiB aligned) nothing is copied; plain buffers are copied like the
 * single-I/O path. Get one from `bdev.createBatch(capacity)`.
 */
export class IoBatch {
  readonly capacity: number;
  #host: BatchHost;
  #submission: BatchSubmission;
  #inFlight = false;

  /** @internal */
  constructor(host: BatchHost, capacity: number) {
    this.#host = host;
    this.capacity = capacity;
    this.#submission = {
      native: binding().batchCreate(capacity) as NativeBatch,
      count: 0,
      ops: new Uint8Array(capacity),
      offsets: new Float64Array(capacity),
      lengths: new Float64Array(capacity),
      buffers: new Array<Uint8Array | null>(capacity).fill(null),
      statuses: new Int32Array(capacity),
    };
  }

  /** I/Os added since the last submit. */
  get length(): number {
    return this.#submission.count;
  }

  /** Adds a read filling all of `target`. */
  read(offset: number, target: Uint8Array): this {
    requireBytes(target, 'target');
    return this.#add(IoOp.read, 'read', offset, target.byteLength, target);
  }

  /** Adds a write of all of `data` (plain buffers are copied at submit()). */
  write(offset: number, data: Uint8Array): this {
    requireBytes(data, 'data');
    return this.#add(IoOp.write, 'write', offset, data.byteLength, data);
  }

  unmap(offset: number, length: number): this {
    return this.#add(IoOp.unmap, 'unmap', offset, length, null);
  }

  writeZeroes(offset: number, length: number): this {
    return this.#add(IoOp.writeZeroes, 'writeZeroes', offset, length, null);
  }

  /** Drops the I/Os added so far. */
  clear(): void {
    if (this.#inFlight) throw new NodestorError('EBUSY', 'the batch is in flight', { op: 'clear', resource: this.#host.name });
    this.#submission.buffers.fill(null, 0, this.#submission.count);
    this.#submission.count = 0;
  }

  /** Submits every I/O added; resolves when all completed. The batch is then empty again. */
  async submit(): Promise<BatchResult> {
    if (this.#inFlight)
      throw new NodestorError('EBUSY', 'the batch is already in flight', { op: 'submit', resource: this.#host.name });
    this.#host.checkBatchable('submit');
    const s = this.#submission;
    if (s.count === 0) return { count: 0, failed: 0, statuses: s.statuses.subarray(0, 0), errors: [] };
    this.#inFlight = true;
    try {
      const failed = await this.#host.dispatcher.submitBatch(this.#host, s);
      const statuses = s.statuses.subarray(0, s.count);
      const errors: BatchResult['errors'] = [];
      if (failed > 0) statuses.forEach((st, index) => st !== 0 && errors.push({ index, code: codeForErrno(st) }));
      return { count: s.count, failed, statuses, errors };
    } finally {
      this.#inFlight = false;
      s.buffers.fill(null, 0, s.count); // let the caller's buffers go
      s.count = 0;
    }
  }

  #add(op: number, opName: string, offset: number, length: number, buffer: Uint8Array | null): this {
    requireInteger(offset, 'offset', 0);
    requireInteger(length, 'length', 1);
    const host = this.#host;
    host.checkBatchable(opName);
    if (this.#inFlight) throw new NodestorError('EBUSY', 'the batch is in flight', { op: opName, resource: host.name });
    const s = this.#submission;
    if (s.count === this.capacity)
      throw new RangeError(`the batch is full (capacity ${this.capacity}); submit it or create a larger one`);
    if (offset % host.blockSize !== 0 || length % host.blockSize !== 0 || offset + length > host.sizeBytes)
      throw new NodestorError(
        'EINVAL',
        `${opName} at offset ${offset} length ${length} is not block-aligned or is beyond the end of bdev ${host.name}`,
        { op: opName, resource: host.name },
      );
    const i = s.count++;
    s.ops[i] = op;
    s.offsets[i] = offset;
    s.lengths[i] = length;
    s.buffers[i] = buffer;
    return this;
  }
}
