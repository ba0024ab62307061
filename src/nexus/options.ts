import type { NativeNexusOptions } from '../binding.js';
import { requireInteger, requireOneOf, requireString } from '../validate.js';
import type { NexusPersistInfo } from './nexus.js';

export interface CreateNexusOptions {
  /** 1-63 bytes, no '/': also the nexus bdev's name. */
  name: string;
  /** At most the smallest child; default the smallest child's size. A multiple of the block size. */
  sizeBytes?: number;
  /** 1-16 bdev URIs: `bdev:///name` (an existing bdev) or any URI createBdev takes (owned by the nexus). */
  children: string[];
  uuid?: string;
  /**
   * Called with the children's health whenever it changes, and on clean shutdown; I/O that
   * depends on the change waits until it resolves. A rejection fails that I/O.
   */
  persist?: (info: NexusPersistInfo) => Promise<void> | void;
  /**
   * 'least-loaded' (default): each read goes to the healthy child with the fewest I/Os in
   * flight, round-robin among equals, so a local replica, which answers sooner, takes most
   * reads while remote ones are slower. 'round-robin': each read to the next healthy child.
   * 'striped': reads of a rebuild segment always go to the same healthy child, so each
   * child caches a share.
   */
  readPolicy?: 'least-loaded' | 'round-robin' | 'striped';
  /**
   * A child that holds an I/O this long (0-3,600,000 ms; default 30,000; 0 turns it off) is
   * faulted `TimedOut`, seen within twice this. The nexus then asks the child to end its
   * I/Os with ETIMEDOUT and sends them to the other children. A local child can end only
   * what it still holds (an injected delay, say); an I/O the kernel is carrying out goes
   * on until the device lets go of it, because it owns its buffer until then.
   */
  ioTimeoutMs?: number;
  rebuild?: {
    /** Copy and log granularity: a power of two from 64 KiB to 64 MiB; default 1 MiB. */
    segmentBytes?: number;
    /** Segments copied at once, 1-32; default 4. */
    parallel?: number;
    /** Read each copied segment back and compare it with the source; default false. */
    verify?: boolean;
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates createNexus options (TypeError / RangeError naming the parameter). */
export function createNexusOptions(options: CreateNexusOptions): {
  native: NativeNexusOptions;
  persist: CreateNexusOptions['persist'];
} {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const name = requireString(options.name, 'options.name');
  if (name.length === 0 || name.length > 63 || name.includes('/'))
    throw new RangeError(`options.name must be 1-63 bytes without '/', got '${name}'`);
  if (!Array.isArray(options.children)) throw new TypeError('options.children must be an array of bdev URIs');
  if (options.children.length < 1 || options.children.length > 16)
    throw new RangeError(`options.children must list 1-16 URIs, got ${options.children.length}`);
  const children = options.children.map((c, i) => requireString(c, `options.children[${i}]`));
  const sizeBytes = options.sizeBytes === undefined ? 0 : requireInteger(options.sizeBytes, 'options.sizeBytes', 1);
  if (options.uuid !== undefined && (typeof options.uuid !== 'string' || !UUID.test(options.uuid)))
    throw new RangeError('options.uuid must be a UUID');
  if (options.persist !== undefined && typeof options.persist !== 'function')
    throw new TypeError('options.persist must be a function');
  const rebuild = options.rebuild ?? {};
  if (rebuild === null || typeof rebuild !== 'object') throw new TypeError('options.rebuild must be an object');
  const segmentBytes = requireInteger(rebuild.segmentBytes ?? 1 << 20, 'options.rebuild.segmentBytes', 64 << 10, 64 << 20);
  if ((segmentBytes & (segmentBytes - 1)) !== 0)
    throw new RangeError(`options.rebuild.segmentBytes must be a power of two, got ${segmentBytes}`);
  const parallel = requireInteger(rebuild.parallel ?? 4, 'options.rebuild.parallel', 1, 32);
  const verify = rebuild.verify ?? false;
  if (typeof verify !== 'boolean') throw new TypeError('options.rebuild.verify must be a boolean');
  const readPolicy = requireOneOf(options.readPolicy ?? 'least-loaded', 'options.readPolicy', ['least-loaded', 'round-robin', 'striped'] as const);
  const ioTimeoutMs = requireInteger(options.ioTimeoutMs ?? 30_000, 'options.ioTimeoutMs', 0, 3_600_000);
  return {
    native: { name, uuid: options.uuid ?? null, sizeBytes, children, persist: options.persist !== undefined, segmentBytes, parallel, verify, readPolicy, ioTimeoutMs },
    persist: options.persist,
  };
}
