import { constants } from 'node:os';

/**
 * Stable error codes. Each is documented in the README; tests assert them exactly.
 * Errno-style codes come from the engine; ENGINE_STOPPED and DESTROYED are states of a
 * JavaScript handle.
 */
export const ErrorCodes = [
  'EINVAL', // bad URI, parameter, alignment or range
  'ENOENT', // no such bdev (or other named resource)
  'EEXIST', // a resource with that name exists
  'EBUSY', // claimed, in use, or an engine already runs in this process
  'ENOSPC', // no space left on the device or pool
  'ENOMEM', // not enough DMA memory (raise memoryMb) or hugepages
  'EIO', // the device failed the I/O
  'ENOTSUP', // the bdev's module does not support that I/O type
  'EPERM', // write through a read-only descriptor
  'EROFS', // write to a read-only snapshot
  'EAGAIN', // an internal queue is full; retry
  'ETIMEDOUT', // a device or peer did not answer in time
  'ENODEV', // the device is gone
  'EACCES', // an NVMe-oF host not on the subsystem's allowlist
  'ECONNREFUSED', // nothing listens at that NVMe-oF address
  'ECONNRESET', // the NVMe-oF connection was lost
  'EPROTO', // the NVMe-oF peer broke the protocol
  'ENOTCONN', // an NVMe-oF queue is not connected (yet)
  'ECONNABORTED', // an NVMe-oF command ended because its queue was torn down
  'ECANCELED', // the I/O was aborted (by request, or the target lost power)
  'EILSEQ', // a compare found different data
  'ERANGE', // a value out of the range the protocol allows
  'EADDRINUSE', // a listener's address and port are already in use
  'EADDRNOTAVAIL', // a listener's address is not on this machine
  'ENETUNREACH', // no route to the NVMe-oF target's network
  'EHOSTUNREACH', // no route to the NVMe-oF target's host
  'EMFILE', // the process has too many open files or sockets
  'ENGINE_STOPPED', // the engine was stopped
  'DESTROYED', // the handle (bdev, pool, lvol, nexus) was destroyed, exported or released
  'EUNKNOWN', // an errno this list does not name (the message says which)
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorDetails {
  /** The operation, e.g. 'createBdev', 'read'. */
  op: string;
  /** The resource the operation was about, e.g. a bdev name or a URI. */
  resource?: string | undefined;
  /** The negative errno reported by the engine, when there was one. */
  errno?: number | undefined;
}

/** The one error class of nodestor: `code` is stable, `message` explains. */
export class NodestorError extends Error {
  readonly code: ErrorCode;
  readonly op: string;
  readonly resource: string | undefined;
  readonly errno: number | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails) {
    super(message);
    this.name = 'NodestorError';
    this.code = code;
    this.op = details.op;
    this.resource = details.resource;
    this.errno = details.errno;
  }
}

const codeByErrno = new Map<number, ErrorCode>();
for (const code of ErrorCodes) {
  const value = (constants.errno as Record<string, number | undefined>)[code];
  if (value !== undefined) codeByErrno.set(value, code);
}
const ESHUTDOWN = 108; // Linux; not in os.constants.errno
codeByErrno.set(ESHUTDOWN, 'ENGINE_STOPPED');
codeByErrno.set(constants.errno.EOPNOTSUPP, 'ENOTSUP');

/** Maps an engine errno (negative or positive) to a code. */
export function codeForErrno(errno: number): ErrorCode {
  return codeByErrno.get(Math.abs(errno)) ?? 'EUNKNOWN';
}

/** Turns an error thrown or rejected by the native binding into a NodestorError. */
export function fromNative(error: unknown, op: string, resource?: string): NodestorError {
  if (error instanceof NodestorError) return error;
  const errno = typeof (error as { errno?: unknown })?.errno === 'number' ? (error as { errno: number }).errno : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (errno === undefined) return new NodestorError('EUNKNOWN', message, { op, resource });
  return new NodestorError(codeForErrno(errno), message, { op, resource, errno });
}

/** An error for a failed I/O, from its errno. */
export function ioError(errno: number, op: string, bdevName: string): NodestorError {
  const code = codeForErrno(errno);
  const name = code === 'EUNKNOWN' ? `errno ${-Math.abs(errno)}` : code;
  return new NodestorError(code, `${op} on bdev ${bdevName} failed: ${name}`, { op, resource: bdevName, errno });
}

/**
 * Runs a native management call so that a rejection carries the caller's stack: the
 * stack is captured synchronously, before the await, and replaces the native one.
 */
export async function withCallerStack<T>(op: string, resource: string | undefined, call: () => Promise<T>): Promise<T> {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, withCallerStack);
  try {
    return await call();
  } catch (error) {
    // Argument errors were thrown by our own validation, with the right stack already.
    if (error instanceof TypeError || error instanceof RangeError) throw error;
    const coded = fromNative(error, op, resource);
    const callerFrames = site.stack?.split('\n').slice(1).join('\n');
    if (callerFrames) coded.stack = `${coded.name}: ${coded.message}\n${callerFrames}`;
    throw coded;
  }
}
