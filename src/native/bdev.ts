// Native binding types for one area: js_bdev.cc (bdevs, I/O, batches, buffers, health,
// module controls).
import type { NativeEngine } from './engine.js';

export type NativeBdev = { readonly __brand: 'NativeBdev' };

export type NativeBatch = { readonly __brand: 'NativeBatch' };

/** I/O type numbers, as native/engine/bdev/iostat.h orders them. */
export const IoOp = { read: 0, write: 1, flush: 2, unmap: 3, writeZeroes: 4, reset: 5 } as const;

export type IoOpName = keyof typeof IoOp;

export interface NativeBdevCreated {
  handle: NativeBdev;
  name: string;
  uuid: string;
  module: string;
  blockSize: number;
  numBlocks: number;
}

export interface NativeIoTypeStats {
  ops: number;
  bytes: number;
  errors: number;
  latencySumNs: number;
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  /** Ops faster than 2^10 .. 2^30 ns, cumulative (21 counts). */
  cumulativeByPow2Ns: number[];
}

export type NativeBdevStats = Record<
  'read' | 'write' | 'flush' | 'unmap' | 'write_zeroes' | 'reset',
  NativeIoTypeStats
>;

/** Injection modes, as native/engine/bdev/error/error_bdev.h numbers them. */
export const InjectMode = { fail: 1, corrupt: 2, gone: 3, delay: 4, pending: 5, nomem: 6 } as const;

export interface NativeInjection {
  ioTypes: number; // bit (1 << IoOp)
  mode: number;
  errno: number; // negative
  count: number; // 0: until cleared
  latencyUs: number;
}

/** What the app thread alone may read about a bdev (bdevDescribeAll). */
export interface NativeBdevDescription {
  name: string;
  claimedBy: string | null;
  belongsTo: string | null;
  /** Bit (1 << IoOp) for each I/O type the module serves. */
  ioTypes: number;
}

/** The functions of js_bdev.cc. */
export interface NativeBdevFunctions {
  /** BdevCreate: creates a bdev from a URI and opens it. */
  bdevCreate(engine: NativeEngine, uri: string): Promise<NativeBdevCreated>;
  /** BdevDestroy */
  bdevDestroy(engine: NativeEngine, bdev: NativeBdev): Promise<void>;
  /** BdevStats */
  bdevStats(bdev: NativeBdev): NativeBdevStats;
  /** Per bdev, per I/O type (read, write, flush, unmap, write zeroes, reset): ops, bytes, errors. */
  bdevCounts(bdevs: NativeBdev[]): Float64Array;
  /** BdevResetStats */
  bdevResetStats(bdev: NativeBdev): void;
  /** BdevIo: 0 when submitted (completion comes through onIo), else a negative errno. */
  bdevIo(
    engine: NativeEngine,
    bdev: NativeBdev,
    op: number,
    slot: number,
    offset: number,
    length: number,
    buffer: Uint8Array | null,
  ): number;
  /** AllocBuffer: a Buffer over DMA memory. */
  allocBuffer(engine: NativeEngine, size: number): Buffer;
  /**
   * BdevControl: a module's own command on one of its bdevs (EINVAL if its module has no
   * such command): the error module's 'inject' (a NativeInjection) and 'clear'.
   */
  bdevControl(bdev: NativeBdev, command: string, args: Record<string, number>): void;
  /** BatchCreate: a reusable batch of up to `capacity` I/Os. */
  batchCreate(capacity: number): NativeBatch;
  /** BatchSubmit: 0 when submitted (one completion through onIo, status = failed count), else -errno. */
  batchSubmit(
    engine: NativeEngine,
    bdev: NativeBdev,
    batch: NativeBatch,
    slot: number,
    count: number,
    ops: Uint8Array,
    offsets: Float64Array,
    lengths: Float64Array,
    buffers: (Uint8Array | null)[],
    statuses: Int32Array,
  ): number;
  /** BdevDescribeAll: claims, owners and I/O types of every bdev, read on the app thread. */
  bdevDescribeAll(engine: NativeEngine): Promise<NativeBdevDescription[]>;
  /** BdevHealth: the device's state, and why it is reconnecting or gone. */
  bdevHealth(bdev: NativeBdev): { state: 'online' | 'reconnecting' | 'gone'; reason: string | null };
}
