import { binding, type NativeEngine, type NativeLvol, type NativePoolInfo } from '../binding.js';
import type { Bdev } from '../bdev/bdev.js';
import { Lifecycle, type HandleStatus } from '../lifecycle.js';
import { NodestorError, withCallerStack } from '../errors.js';
import { requireInteger, requireString } from '../validate.js';
import { Lvol } from './lvol.js';

/** What a pool needs from its engine. @internal */
export interface PoolHost {
  readonly native: NativeEngine;
  assertRunning(op: string, resource?: string): void;
  adoptBdev(created: NativeLvol['bdev']): Bdev;
  forgetBdev(bdev: Bdev): void;
  forgetPool(pool: Pool): void;
}

export interface CreateLvolOptions {
  name: string;
  sizeBytes: number;
  /** Allocate clusters on first write (default false: all at creation). */
  thin?: boolean;
}

/**
 * An lvol store on one disk: many thin or thick lvols with snapshots and clones, that
 * survive restarts and crashes. Space figures are as of the last operation on the pool;
 * `await pool.refresh()` reads them afresh (thin lvols allocate as they are written).
 */
export class Pool {
  readonly name: string;
  readonly uuid: string;
  readonly clusterSizeBytes: number;
  /** The bdev the pool lives on. */
  readonly disk: string;
  #info: NativePoolInfo;
  #host: PoolHost;
  #lvols = new Map<string, Lvol>();
  #life: Lifecycle;

  /** @internal Created by Engine.createPool / importPool. */
  constructor(host: PoolHost, info: NativePoolInfo, lvols: NativeLvol[]) {
    this.#host = host;
    this.name = info.name;
    this.#life = new Lifecycle('pool', info.name);
    this.uuid = info.uuid;
    this.clusterSizeBytes = info.clusterSizeBytes;
    this.disk = info.disk;
    this.#info = info;
    for (const lvol of lvols) this.adopt(lvol);
  }

  get status(): HandleStatus {
    return this.#life.status;
  }
  get totalBytes(): number {
    return this.#info.totalBytes;
  }
  get usedBytes(): number {
    return this.#info.usedBytes;
  }
  /** Sizes of writable lvols (thin ones count in full) plus what snapshots hold. */
  get committedBytes(): number {
    return this.#info.committedBytes;
  }
  get availableBytes(): number {
    return this.#info.availableBytes;
  }
  /** True when the last import found the pool not cleanly exported (and recovered it). */
  get importedDirty(): boolean {
    return this.#info.importedDirty;
  }

  /** Re-reads space figures and lvol information from the engine. */
  refresh(): Promise<this> {
    return this.#op('refresh', async (engine) => {
      const { pool, lvols } = await binding().poolInfo(engine, this.name);
      this.#info = pool;
      for (const info of lvols) this.#lvols.get(info.name)?.update(info);
      return this;
    });
  }

  /** Verifies the pool's metadata: every cluster referenced at most once, accounting exact. */
  check(): Promise<void> {
    return this.#op('check', (engine) => binding().poolCheck(engine, this.name));
  }

  createLvol(options: CreateLvolOptions): Promise<Lvol> {
    return this.#op('createLvol', async (engine) => {
      if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
      requireString(options.name, 'name');
      requireInteger(options.sizeBytes, 'sizeBytes', 1);
      const lvol = this.adopt(await binding().lvolCreate(engine, this.name, options.name, options.sizeBytes, options.thin === true));
      await this.refresh();
      return lvol;
    });
  }

  async getLvol(name: string): Promise<Lvol | undefined> {
    requireString(name, 'name');
    await this.refresh();
    return this.#lvols.get(name);
  }

  /** The lvols as of the last operation or listing, without asking the engine. */
  lvolsNow(): Lvol[] {
    return [...this.#lvols.values()];
  }

  async listLvols(): Promise<Lvol[]> {
    await this.refresh();
    return [...this.#lvols.values()];
  }

  /** Detaches the pool, keeping its data: import it again later. */
  export(): Promise<void> {
    return this.#close('export', (engine) => binding().poolExport(engine, this.name));
  }

  /** Wipes the pool's metadata: its lvols and data are gone. */
  destroy(): Promise<void> {
    return this.#close('destroy', (engine) => binding().poolDestroy(engine, this.name));
  }

  /** Uses the space of a disk that has grown since the pool was created. */
  grow(): Promise<void> {
    return this.#op('grow', async (engine) => {
      this.#info = await binding().poolGrow(engine, this.name);
    });
  }

  /** @internal */
  nativeEngine(op: string): NativeEngine {
    this.#host.assertRunning(op, this.name);
    this.#life.assertOpen(op);
    return this.#host.native;
  }

  /** @internal An lvol the engine opened: wrap it and its bdev. */
  adopt(native: NativeLvol): Lvol {
    const lvol = new Lvol(this, native, this.#host.adoptBdev(native.bdev));
    this.#lvols.set(lvol.name, lvol);
    return lvol;
  }

  /** @internal */
  forget(lvol: Lvol): void {
    this.#lvols.delete(lvol.name);
    this.#host.forgetBdev(lvol.bdev);
    lvol.bdev.markClosed();
  }

  /** @internal The pool was exported or destroyed (by this handle or by the stopping engine). */
  markGone(reason: 'destroyed' | 'exported' = 'exported'): void {
    this.#life.close(reason);
    for (const lvol of this.#lvols.values()) lvol.markGone(reason);
    this.#lvols.clear();
  }

  #close(op: 'export' | 'destroy', call: (engine: NativeEngine) => Promise<void>): Promise<void> {
    if (this.#life.isClosed) return Promise.resolve();
    return this.#op(op, async (engine) => {
      const reopeners = await Promise.all([...this.#lvols.values()].map((l) => l.bdev.closeForOwner()));
      try {
        await call(engine);
      } catch (error) {
        for (const reopen of reopeners) reopen();
        throw error;
      }
      for (const lvol of this.#lvols.values()) this.#host.forgetBdev(lvol.bdev);
      this.markGone(op === 'export' ? 'exported' : 'destroyed');
      this.#host.forgetPool(this);
    });
  }

  #op<T>(op: string, body: (engine: NativeEngine) => Promise<T>): Promise<T> {
    return withCallerStack(op, this.name, async () => body(this.nativeEngine(op)));
  }
}
