import { binding, IoOp, type NativeBdev, type NativeBdevCreated } from '../binding.js';
import { fromNative, NodestorError, withCallerStack } from '../errors.js';
import type { IoDispatcher, IoOwner } from '../io/dispatcher.js';
import { Lifecycle, type CloseReason, type HandleStatus } from '../lifecycle.js';
import { requireBytes, requireInteger } from '../validate.js';
import { IoBatch, type BatchHost } from './batch.js';
import { toNativeInjection, type ErrorInjection } from './injection.js';
import { shapeStats, type BdevStats } from './stats.js';

export type { HandleStatus } from '../lifecycle.js';

export interface BdevHealth {
  state: 'online' | 'reconnecting' | 'gone' | 'destroyed';
  /** Why it is reconnecting or gone (the controller's last failure), else null. */
  reason: string | null;
}

/** What a Bdev needs from its engine (kept narrow so the two files stay independent). @internal */
export interface BdevHost {
  readonly dispatcher: IoDispatcher;
  assertRunning(op: string, resource: string): void;
  destroyNativeBdev(bdev: Bdev): Promise<void>;
  forgetBdev(bdev: Bdev): void;
}


/**
 * A block device served by the engine. Offsets and lengths are in bytes and must be
 * multiples of blockSize inside the device. Get one from `engine.createBdev(uri)`.
 */
// A Bdev is the IoOwner of its I/O and the BatchHost of its batches, checked where it is
// handed over rather than with `implements`, which would publish those internal types.
export class Bdev {
  readonly name: string;
  readonly uuid: string;
  readonly module: string;
  readonly blockSize: number;
  /** @internal */
  readonly native: NativeBdev;
  #life: Lifecycle;
  #inFlight = 0;
  #host: BdevHost;
  #destroying: Promise<void> | undefined;

  /** @internal Created by Engine.createBdev. */
  constructor(host: BdevHost, created: NativeBdevCreated) {
    this.#host = host;
    this.native = created.handle;
    this.name = created.name;
    this.#life = new Lifecycle('bdev', created.name);
    this.uuid = created.uuid;
    this.module = created.module;
    this.blockSize = created.blockSize;
    this.#numBlocks = created.numBlocks;
  }

  #numBlocks: number;

  /** Size in blocks (an lvol's changes when it is resized). */
  get numBlocks(): number {
    return this.#numBlocks;
  }

  get sizeBytes(): number {
    return this.blockSize * this.#numBlocks;
  }

  /** @internal The device was resized (lvol resize). */
  resized(sizeBytes: number): void {
    this.#numBlocks = sizeBytes / this.blockSize;
  }

  get status(): HandleStatus {
    return this.#life.status;
  }

  /**
   * The device's own state: 'online'; 'reconnecting' while an nvmf:// bdev's controller
   * is reconnecting (I/O waits); 'gone' once it is lost for good (every I/O fails with
   * ENODEV); 'destroyed' once this handle is closed. `reason` says why, or is null.
   */
  get health(): BdevHealth {
    if (!this.#life.isOpen) return { state: 'destroyed', reason: null };
    return binding().bdevHealth(this.native);
  }

  /** The device vanished for good (see health). */
  get gone(): boolean {
    return this.health.state === 'gone';
  }

  /** Reads `length` bytes at `offset` into a new Buffer. */
  read(offset: number, length: number): Promise<Buffer> {
    // Not an async function (one promise per read, not two), so errors are rejected by hand.
    try {
      this.#checkRange('read', offset, length);
    } catch (error) {
      return Promise.reject(error);
    }
    const target = Buffer.allocUnsafe(length);
    return this.#submit(IoOp.read, 'read', offset, length, target, target) as Promise<Buffer>;
  }

  /**
   * Reads into `target` (its whole length) and resolves with it. With a buffer from
   * `engine.allocBuffer` the device reads straight into it: no copy.
   */
  readInto<T extends Uint8Array>(offset: number, target: T): Promise<T> {
    try {
      requireBytes(target, 'target');
      this.#checkRange('read', offset, target.byteLength);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#submit(IoOp.read, 'read', offset, target.byteLength, target, target) as Promise<T>;
  }

  /**
   * Writes all of `data` at `offset`. Plain buffers are copied when the call is made, so
   * the caller may reuse them at once; `engine.allocBuffer` buffers are written in place
   * and must not change until the promise settles.
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    requireBytes(data, 'data');
    this.#checkRange('write', offset, data.byteLength);
    await this.#submit(IoOp.write, 'write', offset, data.byteLength, data, undefined);
  }

  /** Makes completed writes durable (a no-op on memory bdevs). */
  async flush(): Promise<void> {
    this.#assertOpen('flush');
    await this.#submit(IoOp.flush, 'flush', 0, this.sizeBytes, null, undefined);
  }

  /** Deallocates a range; it then reads as zeroes on malloc and null bdevs. */
  async unmap(offset: number, length: number): Promise<void> {
    this.#checkRange('unmap', offset, length);
    await this.#submit(IoOp.unmap, 'unmap', offset, length, null, undefined);
  }

  /** Writes zeroes over a range without sending a buffer. */
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.#checkRange('writeZeroes', offset, length);
    await this.#submit(IoOp.writeZeroes, 'writeZeroes', offset, length, null, undefined);
  }

  /**
   * A reusable batch of up to `capacity` I/Os submitted in one native call and completed
   * in one drain: the path for volume from TypeScript.
   */
  createBatch(capacity = 256): IoBatch {
    requireInteger(capacity, 'capacity', 1, 65536);
    this.#assertOpen('createBatch');
    return new IoBatch(this, capacity);
  }

  /**
   * Error bdevs (`error:///name?base=...`) only: make matching I/O fail, return corrupted
   * data, vanish, or slow down. See ErrorInjection. EINVAL on any other module.
   */
  injectError(injection: ErrorInjection = {}): void {
    const native = toNativeInjection(injection);
    this.#assertOpen('injectError');
    this.#assertErrorModule('injectError');
    try {
      binding().bdevControl(this.native, 'inject', { ...native });
    } catch (error) {
      throw fromNative(error, 'injectError', this.name);
    }
  }

  /** Error bdevs only: every injection is cleared and I/O passes through again. */
  clearInjectedErrors(): void {
    this.#assertOpen('clearInjectedErrors');
    this.#assertErrorModule('clearInjectedErrors');
    try {
      binding().bdevControl(this.native, 'clear', {});
    } catch (error) {
      throw fromNative(error, 'clearInjectedErrors', this.name);
    }
  }

  /** I/O statistics since creation or the last resetStats(). */
  stats(): BdevStats {
    this.#assertOpen('stats');
    return shapeStats(binding().bdevStats(this.native));
  }

  resetStats(): void {
    this.#assertOpen('resetStats');
    binding().bdevResetStats(this.native);
  }

  /**
   * Waits for this bdev's in-flight I/O, then removes it from the engine and frees its
   * resources (a malloc bdev's data is gone). Idempotent. EBUSY if something claimed it.
   */
  destroy(): Promise<void> {
    if (this.#life.isClosed) return Promise.resolve();
    if (this.#destroying) return this.#destroying;
    this.#host.assertRunning('destroy', this.name);
    const reopen = this.#life.beginClose();
    this.#destroying = withCallerStack('destroy', this.name, async () => {
      try {
        await this.#idle();
        await this.#host.destroyNativeBdev(this);
        this.#life.close();
        this.#host.forgetBdev(this);
      } catch (error) {
        reopen();
        throw error;
      } finally {
        this.#destroying = undefined;
      }
    });
    return this.#destroying;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  /** @internal The engine stopped or the owner let go: the handle is closed without native calls. */
  markClosed(reason: CloseReason = 'destroyed'): void {
    this.#life.close(reason);
  }

  /**
   * @internal Its owner (an lvol or pool) is taking the bdev away: refuse new I/O, wait
   * for what is in flight. Returns a function that reopens it if the owner fails.
   */
  async closeForOwner(): Promise<() => void> {
    const reopen = this.#life.beginClose();
    await this.#idle();
    return reopen;
  }

  /** @internal BatchHost */
  get dispatcher(): IoDispatcher {
    return this.#host.dispatcher;
  }

  /** @internal BatchHost */
  checkBatchable(op: string): void {
    this.#assertOpen(op);
  }

  /** @internal IoOwner */
  ioStarted(): void {
    this.#inFlight++;
  }

  /** @internal IoOwner */
  ioFinished(): void {
    if (--this.#inFlight === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #idleWaiters: (() => void)[] = [];

  #idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #submit(op: number, opName: string, offset: number, length: number, buffer: Uint8Array | null, value: unknown) {
    return this.#host.dispatcher.submit(this, op, opName, offset, length, buffer, value);
  }

  #assertOpen(op: string): void {
    this.#host.assertRunning(op, this.name);
    this.#life.assertOpen(op);
  }

  #assertErrorModule(op: string): void {
    if (this.module !== 'error')
      throw new NodestorError('EINVAL', `bdev ${this.name} is not an error bdev (module ${this.module})`, { op, resource: this.name });
  }

  #checkRange(op: string, offset: number, length: number): void {
    requireInteger(offset, 'offset', 0);
    requireInteger(length, 'length', 1);
    this.#assertOpen(op);
    if (offset % this.blockSize !== 0 || length % this.blockSize !== 0)
      throw new NodestorError(
        'EINVAL',
        `${op} at offset ${offset} length ${length} is not aligned to the block size ${this.blockSize} of bdev ${this.name}`,
        { op, resource: this.name },
      );
    if (offset + length > this.sizeBytes)
      throw new NodestorError(
        'EINVAL',
        `${op} at offset ${offset} length ${length} is beyond the end of bdev ${this.name} (${this.sizeBytes} bytes)`,
        { op, resource: this.name },
      );
  }
}
