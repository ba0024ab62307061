import { constants } from 'node:os';
import { InjectMode, IoOp, type NativeInjection } from '../binding.js';
import { requireInteger, requireOneOf } from '../validate.js';

export type InjectIoType = 'read' | 'write' | 'unmap' | 'flush' | 'all';

/**
 * A fault to inject into an error bdev's I/O.
 * - `mode: 'fail'` (default): matching I/O fails with `errno` (default 'EIO').
 * - `mode: 'corrupt'`: reads return, and writes store, data with one flipped byte per block.
 * - `mode: 'gone'`: every I/O of every type fails with ENODEV until cleared.
 * - `mode: 'delay'`: matching I/O succeeds after `latencyUs`. Given `latencyUs` and
 *   neither `mode` nor `errno`, this is the mode.
 * - `mode: 'pending'`: matching I/O is held, neither served nor failed, until the
 *   injection is cleared (then it is served) or the I/O is aborted (a timeout above it).
 * - `mode: 'nomem'`: matching I/O is handed back to the engine's bdev layer as out of
 *   resources, which submits it again later; each attempt uses one of `count`.
 * `latencyUs` also delays the completion of the other modes. `count` limits the injection
 * to that many I/Os; without it the injection lasts until cleared. A new injection on an
 * I/O type replaces the previous one.
 */
export interface ErrorInjection {
  ioType?: InjectIoType;
  count?: number;
  errno?: 'EIO' | 'ENOSPC' | 'ETIMEDOUT';
  mode?: 'fail' | 'corrupt' | 'gone' | 'delay' | 'pending' | 'nomem';
  latencyUs?: number;
}

const IO_TYPE_BITS: Record<InjectIoType, number> = {
  read: 1 << IoOp.read,
  write: 1 << IoOp.write,
  unmap: 1 << IoOp.unmap,
  flush: 1 << IoOp.flush,
  all: (1 << IoOp.read) | (1 << IoOp.write) | (1 << IoOp.unmap) | (1 << IoOp.flush) | (1 << IoOp.writeZeroes),
};

export function toNativeInjection(injection: ErrorInjection): NativeInjection {
  if (injection === null || typeof injection !== 'object') throw new TypeError('injection must be an object');
  const ioType = requireOneOf(injection.ioType ?? 'all', 'ioType', ['read', 'write', 'unmap', 'flush', 'all'] as const);
  const defaultMode = injection.latencyUs !== undefined && injection.errno === undefined ? 'delay' : 'fail';
  const mode = requireOneOf(injection.mode ?? defaultMode, 'mode', ['fail', 'corrupt', 'gone', 'delay', 'pending', 'nomem'] as const);
  const errno = requireOneOf(injection.errno ?? 'EIO', 'errno', ['EIO', 'ENOSPC', 'ETIMEDOUT'] as const);
  return {
    ioTypes: IO_TYPE_BITS[ioType],
    mode: InjectMode[mode],
    errno: -constants.errno[errno],
    count: requireInteger(injection.count ?? 0, 'count', 0),
    latencyUs: requireInteger(injection.latencyUs ?? 0, 'latencyUs', 0, 60_000_000),
  };
}
