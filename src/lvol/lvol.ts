import { binding, type NativeLvolInfo } from '../binding.js';
import type { Bdev } from '../bdev/bdev.js';
import { withCallerStack } from '../errors.js';
import { Lifecycle } from '../lifecycle.js';
import { requireInteger, requireString } from '../validate.js';
import type { Pool } from './pool.js';

/**
 * A logical volume in a pool (a replica, in Mayastor's words). Its data is served by
 * `lvol.bdev`, a Bdev named `<pool>/<lvol>`. Snapshots are read-only lvols; clones are
 * thin, writable children of a snapshot.
 */
export class Lvol {
  readonly pool: Pool;
  readonly name: string;
  readonly uuid: string;
  /** The bdev serving this lvol's blocks. */
  readonly bdev: Bdev;
  #info: NativeLvolInfo;
  #life: Lifecycle;

  /** @internal Created by Pool. */
  constructor(pool: Pool, info: NativeLvolInfo, bdev: Bdev) {
    this.pool = pool;
    this.name = info.name;
    this.uuid = info.uuid;
    this.#life = new Lifecycle('lvol', `${pool.name}/${info.name}`);
    this.bdev = bdev;
    this.#info = info;
  }

  /** Size in bytes (a whole number of clusters). */
  get sizeBytes(): number {
    return this.#info.sizeBytes;
  }
  /** Clusters are allocated on first write (thin) or all at creation (thick). */
  get thin(): boolean {
    return this.#info.thin;
  }
  /** Snapshots are read-only. */
  get readOnly(): boolean {
    return this.#info.readOnly;
  }
  /** The name of the snapshot this lvol reads unwritten clusters from, or null. */
  get parent(): string | null {
    return this.#info.parent;
  }
  /** Bytes of clusters this lvol holds itself (as of the last operation or listing). */
  get allocatedBytes(): number {
    return this.#info.allocatedBytes;
  }
  /** User properties, stored in the lvol's metadata. */
  get properties(): Readonly<Record<string, string>> {
    return { ...this.#info.properties };
  }
  get destroyed(): boolean {
    return this.#life.isClosed;
  }

  /** A read-only snapshot of the lvol as it is now; the lvol keeps serving I/O. */
  snapshot(name: string): Promise<Lvol> {
    return this.#op('snapshot', async (engine) => {
      requireString(name, 'name');
      const { snapshot, origin } = await binding().lvolSnapshot(engine, this.pool.name, this.name, name);
      this.#info = origin;
      return this.pool.adopt(snapshot);
    });
  }

  /** A thin, writable clone of this snapshot. EINVAL if this lvol is not a snapshot. */
  clone(name: string): Promise<Lvol> {
    return this.#op('clone', async (engine) => {
      requireString(name, 'name');
      return this.pool.adopt(await binding().lvolClone(engine, this.pool.name, this.name, name));
    });
  }

  /** Grows or shrinks the lvol (rounded up to a whole cluster); shrinking frees clusters. */
  resize(sizeBytes: number): Promise<void> {
    return this.#op('resize', async (engine) => {
      requireInteger(sizeBytes, 'sizeBytes', 1);
      this.#update(await binding().lvolResize(engine, this.pool.name, this.name, sizeBytes));
    });
  }

  /** Copies every cluster it reads from its ancestors (or zeroes) and drops the parent. */
  inflate(): Promise<void> {
    return this.#op('inflate', async (engine) => this.#update(await binding().lvolInflate(engine, this.pool.name, this.name)));
  }

  /** Copies the clusters its parent holds itself, then takes the parent's parent. */
  decoupleParent(): Promise<void> {
    return this.#op('decoupleParent', async (engine) =>
      this.#update(await binding().lvolDecoupleParent(engine, this.pool.name, this.name)),
    );
  }

  setProperty(key: string, value: string): Promise<void> {
    return this.#op('setProperty', async (engine) => {
      requireString(key, 'key');
      requireString(value, 'value');
      this.#update(await binding().lvolSetProperty(engine, this.pool.name, this.name, key, value));
    });
  }

  /** Makes the lvol read-only for good, as SPDK's bdev_lvol_set_read_only: writes then get EROFS, and it can be cloned. */
  setReadOnly(): Promise<void> {
    return this.#op('setReadOnly', async (engine) => {
      this.#update(await binding().lvolSetReadOnly(engine, this.pool.name, this.name));
    });
  }

  /** Destroys the lvol and frees its clusters. EBUSY while it has clones. */
  destroy(): Promise<void> {
    if (this.#life.isClosed) return Promise.resolve();
    return this.#op('destroy', async (engine) => {
      const reopen = await this.bdev.closeForOwner();
      try {
        await binding().lvolDestroy(engine, this.pool.name, this.name);
      } catch (error) {
        reopen();
        throw error;
      }
      this.#life.close();
      this.pool.forget(this);
    });
  }

  /** @internal Fresh information from the engine. */
  update(info: NativeLvolInfo): void {
    this.#update(info);
  }

  /** @internal The pool was exported or destroyed, or the engine stopped. */
  markGone(reason: 'destroyed' | 'exported'): void {
    this.#life.close(reason);
    this.bdev.markClosed(reason);
  }

  #update(info: NativeLvolInfo): void {
    this.#info = info;
    this.bdev.resized(info.sizeBytes);
  }

  #op<T>(op: string, body: (engine: ReturnType<Pool['nativeEngine']>) => Promise<T>): Promise<T> {
    const resource = `${this.pool.name}/${this.name}`;
    return withCallerStack(op, resource, async () => {
      this.#life.assertOpen(op);
      return body(this.pool.nativeEngine(op));
    });
  }
}
