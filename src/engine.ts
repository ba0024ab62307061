import { binding, IoOp, type IoOpName, type NativeBdevCreated, type NativeEngine, type NativeEngineInfo, type NativePoolOpened } from './binding.js';
import { Pool, type PoolHost } from './lvol/pool.js';
import { Bdev, type BdevHost, type HandleStatus } from './bdev/bdev.js';
import { resolveBenchOptions, shapeBenchResult, type BenchOptions, type BenchResult } from './bench.js';
import { IO_TYPE_NAMES, type BdevIoCounts, type BdevStats } from './bdev/stats.js';
import { fromNative, NodestorError, withCallerStack } from './errors.js';
import { IoDispatcher } from './io/dispatcher.js';
import { NvmfTarget, type NvmfHost } from './nvmf-target/target.js';
import { Keyring } from './keyring.js';
import { createNexusOptions, type CreateNexusOptions } from './nexus/options.js';
import { Nexus, type NexusHost, type NexusPersistInfo } from './nexus/nexus.js';
import { redactSecrets, requireInteger, requireOneOf, requireString } from './validate.js';

type PersistHook = NonNullable<CreateNexusOptions['persist']>;

export interface EngineOptions {
  /** Cores to run reactors on, one pinned reactor each; the first hosts the app thread. Default [0]. */
  cores?: number[];
  /** DMA memory to reserve at start, in MiB (rounded up to 2 MiB). Default 256. */
  memoryMb?: number;
  /**
   * 'auto' (default): 2 MiB hugepages, else ordinary pages with a warning;
   * 'require': fail if hugepages are short; 'off': ordinary pages.
   */
  hugepages?: 'auto' | 'require' | 'off';
  /** 'adaptive' (default): reactors sleep when idle; 'poll': busy-poll, lowest latency. */
  idle?: 'poll' | 'adaptive';
}

import type { EngineInfo } from './native/engine.js';
export type { EngineInfo };

export interface BdevDescription {
  name: string;
  /** Who claimed it (a pool, a nexus, an error bdev), or null. */
  claimedBy: string | null;
  /** The module whose object it is (an lvol's store), or null. */
  belongsTo: string | null;
  ioTypes: IoOpName[];
}

export interface CreatePoolOptions {
  /** 1-63 bytes, no '/'. */
  name: string;
  /** A bdev URI (created for the pool and removed with it) or `bdev:///name` of an existing bdev. */
  disk: string;
  /** A multiple of 1 MiB; default 4 MiB. */
  clusterSizeBytes?: number;
}

let running: Engine | undefined;

/**
 * A storage engine: reactors on pinned cores, DMA memory, and the bdevs served from them.
 * One engine runs per process at a time; start another after stop() has settled.
 */
// Engine is the host of its bdevs, pools, nexuses and NVMe-oF target (BdevHost, PoolHost,
// NexusHost, NvmfHost): checked where it is handed to them, not with `implements`, so the
// published types do not name those internal interfaces.
export class Engine {
  /** Warnings from start, e.g. the hugepage fallback (also sent to process.emitWarning). */
  readonly warnings: readonly string[];
  /** @internal */
  readonly dispatcher: IoDispatcher;
  #native: NativeEngine;
  #status: HandleStatus = 'open';
  #stopping: Promise<void> | undefined;
  #bdevs = new Map<string, Bdev>();
  #pools = new Map<string, Pool>();
  #nvmf: NvmfTarget | undefined;
  #keyring: Keyring | undefined;
  #nexuses = new Map<string, Nexus>();
  #eventPump: Promise<void> | undefined;
  // By nexus name, from createNexus (whose first persistence request comes before it
  // resolves) until the nexus is forgotten.
  #persistHooks = new Map<string, PersistHook>();

  private constructor(native: NativeEngine, dispatcher: IoDispatcher, warnings: string[]) {
    this.#native = native;
    this.dispatcher = dispatcher;
    this.warnings = warnings;
  }

  /** Reserves memory, starts the reactors and resolves with the running engine. */
  static async start(options: EngineOptions = {}): Promise<Engine> {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const cores = options.cores ?? [0];
    if (!Array.isArray(cores)) throw new TypeError('cores must be an array of core numbers');
    if (cores.length === 0) throw new RangeError('cores must name at least one core');
    cores.forEach((core, i) => requireInteger(core, `cores[${i}]`, 0, 4095));
    const memoryMb = requireInteger(options.memoryMb ?? 256, 'memoryMb', 2, 1 << 20);
    const hugepages = requireOneOf(options.hugepages ?? 'auto', 'hugepages', ['auto', 'require', 'off'] as const);
    const idle = requireOneOf(options.idle ?? 'adaptive', 'idle', ['poll', 'adaptive'] as const);
    if (running)
      throw new NodestorError('EBUSY', 'an engine is already running in this process; stop it first', {
        op: 'start',
      });

    const dispatcher = new IoDispatcher();
    const started = await withCallerStack('start', undefined, () =>
      binding().engineStart({ cores: [...cores], memoryMb, hugepages, idle }, dispatcher.onIo, dispatcher.results),
    );
    dispatcher.attach(started.handle);
    const warnings = started.warning ? [started.warning] : [];
    for (const warning of warnings) process.emitWarning(warning, { code: 'NODESTOR_HUGEPAGES' });
    const engine = new Engine(started.handle, dispatcher, warnings);
    engine.#startEventPump(); // host connections and nexus events come through it
    running = engine;
    return engine;
  }

  get status(): HandleStatus {
    return this.#status;
  }

  /** The NVMe-oF target (subsystems, namespaces, listeners) and discovery. */
  get nvmf(): NvmfTarget {
    this.#nvmf ??= new NvmfTarget(this);
    return this.#nvmf;
  }

  /** The engine's file keyring: named keys that URIs and host settings may name instead of holding them. */
  get keyring(): Keyring {
    this.#keyring ??= new Keyring(this);
    return this.#keyring;
  }

  /** @internal NvmfHost */
  get nativeHandle(): NativeEngine {
    return this.#native;
  }

  /** Version, reactors (with busy/idle time), and DMA memory use. */
  info(): EngineInfo {
    this.assertRunning('info');
    return binding().engineInfo(this.#native);
  }

  /**
   * Creates a bdev from a URI: `malloc:///name?size_mb=N|num_blocks=N&blk_size=512|4096`,
   * `null:///name?...`, `uring:///abs/path?blk_size=...`, `aio:///abs/path?blk_size=...`
   * `error:///name?base=<bdev>`, or `nvmf://address:port/subnqn?hostnqn=..` (a namespace of a
   * remote NVMe-oF target; resolves once connected). See the README for every parameter.
   */
  createBdev(uri: string): Promise<Bdev> {
    // Errors name the URI with its key parameters' values left out.
    const shown = typeof uri === 'string' ? redactSecrets(uri) : undefined;
    return withCallerStack('createBdev', shown, async () => {
      requireString(uri, 'uri');
      this.assertRunning('createBdev', shown);
      const created = await binding().bdevCreate(this.#native, uri);
      const bdev = new Bdev(this, created);
      this.#bdevs.set(bdev.name, bdev);
      return bdev;
    });
  }

  /**
   * Creates a nexus mirroring onto `children` (bdev URIs: `bdev:///name` for an existing bdev,
   * or any URI createBdev takes, which the nexus then owns). The nexus claims its children.
   */
  createNexus(options: CreateNexusOptions): Promise<Nexus> {
    return withCallerStack('createNexus', typeof options?.name === 'string' ? options.name : undefined, async () => {
      const { native, persist } = createNexusOptions(options);
      this.assertRunning('createNexus', native.name);
      this.#startEventPump();
      if (persist) this.#persistHooks.set(native.name, persist);
      try {
        const created = await binding().nexusCreate(this.#native, native);
        const nexus = new Nexus(this, this.adoptBdev(created.bdev), created.board);
        this.#nexuses.set(nexus.name, nexus);
        this.adoptConsumerBdevs();
        return nexus;
      } catch (error) {
        this.#persistHooks.delete(native.name);
        throw error;
      }
    });
  }

  /** The nexus of that name created through this engine, if any (named like getBdev, getPool). */
  getNexus(name: string): Nexus | undefined {
    requireString(name, 'name');
    this.assertRunning('getNexus', name);
    return this.#nexuses.get(name);
  }

  listNexuses(): Nexus[] {
    this.assertRunning('listNexuses');
    return [...this.#nexuses.values()];
  }

  /** @deprecated getNexus */
  nexus(name: string): Nexus | undefined {
    return this.#nexuses.get(name);
  }

  /** @deprecated listNexuses */
  nexuses(): Nexus[] {
    return [...this.#nexuses.values()];
  }

  // Nexus events and persistence requests arrive through one background wait at a time.
  #startEventPump(): void {
    if (this.#eventPump) return;
    this.#eventPump = (async () => {
      for (;;) {
        let events;
        try {
          events = await binding().nexusEvents(this.#native);
        } catch {
          return;  // the engine stopped underneath
        }
        if (events === null) return;
        for (const event of events) {
          if (event.kind === 'persist') void this.#persist(event.id, event.info);
          else if (event.kind === 'release') void this.#releaseHeld(event.id, event.bdev);
          else if (event.kind === 'host') this.nvmf.dispatchHost({ subsystem: event.nexus, hostNqn: event.hostNqn, cntlid: event.cntlid, connected: event.detail === 'connected' });
          else this.#nexuses.get(event.nexus)?.dispatch(event.kind, event.child, event.detail);
        }
      }
    })();
  }

  // A nexus is removing a child bdev it created: stop using it, then let it go on.
  async #releaseHeld(id: number, name: string): Promise<void> {
    const bdev = this.#bdevs.get(name);
    if (bdev) await bdev.closeForOwner();
    try {
      await binding().bdevReleaseHeld(this.#native, id);
    } catch {
      // The engine is stopping: its stop releases every handle and lets the nexus go on.
    }
    if (bdev) {
      bdev.markClosed();
      this.forgetBdev(bdev);
    }
  }

  /** @internal NexusHost: shows the bdevs nexuses created from child URIs (claimed by them). */
  adoptConsumerBdevs(): void {
    if (this.#status !== 'open') return; // a stopping engine releases them instead
    for (const created of binding().bdevTakeAdopted(this.#native)) this.adoptBdev(created);
  }

  async #persist(id: number, info: NexusPersistInfo): Promise<void> {
    let error: string | null = null;
    try {
      await this.#persistHooks.get(info.name)?.(info);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    await binding().nexusPersistDone(this.#native, id, error).catch(() => undefined);
  }

  /** Formats `disk` as a new pool (lvol store). The pool claims the disk. */
  createPool(options: CreatePoolOptions): Promise<Pool> {
    return withCallerStack('createPool', options?.name, async () => {
      if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
      requireString(options.name, 'name');
      requireString(options.disk, 'disk');
      const cluster = requireInteger(options.clusterSizeBytes ?? 4 << 20, 'clusterSizeBytes', 1 << 20, 1 << 30);
      this.assertRunning('createPool', options.name);
      return this.#openPool(await binding().poolCreate(this.#native, options.name, options.disk, cluster));
    });
  }

  /** Opens the pool on `disk` (after a restart or an export), recovering it if it was not exported cleanly. */
  importPool(options: { disk: string }): Promise<Pool> {
    return withCallerStack('importPool', options?.disk, async () => {
      if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
      requireString(options.disk, 'disk');
      this.assertRunning('importPool', options.disk);
      return this.#openPool(await binding().poolImport(this.#native, options.disk));
    });
  }

  /** Imports the pool on `disk` if there is one (it must have this name), else creates it. */
  async createOrImportPool(options: CreatePoolOptions): Promise<Pool> {
    try {
      const pool = await this.importPool({ disk: options?.disk });
      if (pool.name === options.name) return pool;
      await pool.export();
      throw new NodestorError('EINVAL', `disk ${options.disk} holds pool ${pool.name}, not ${options.name}`, {
        op: 'createOrImportPool',
        resource: options.disk,
      });
    } catch (error) {
      // ENOENT: the disk holds no pool (or the disk is missing, which createPool reports
      // in its own words). createPool never formats a disk that holds an open pool.
      if ((error as NodestorError).code !== 'ENOENT') throw error;
      return this.createPool(options);
    }
  }

  getPool(name: string): Pool | undefined {
    requireString(name, 'name');
    this.assertRunning('getPool', name);
    return this.#pools.get(name);
  }

  listPools(): Pool[] {
    this.assertRunning('listPools');
    return [...this.#pools.values()];
  }

  #openPool(opened: NativePoolOpened): Pool {
    const pool = new Pool(this, opened.pool, opened.lvols);
    this.#pools.set(pool.name, pool);
    return pool;
  }

  /** Statistics of every bdev of this engine, by name. */
  stats(): Record<string, BdevStats> {
    this.assertRunning('stats');
    return Object.fromEntries([...this.#bdevs.values()].map((bdev) => [bdev.name, bdev.stats()]));
  }

  /**
   * Every bdev's ops, bytes and errors per I/O type, read in one native call and without
   * the latency histograms stats() carries: what a metrics scrape of many bdevs needs.
   */
  ioCounts(): BdevIoCounts[] {
    this.assertRunning('ioCounts');
    const bdevs = [...this.#bdevs.values()];
    const flat = binding().bdevCounts(bdevs.map((b) => b.native));
    return bdevs.map((bdev, i) => {
      const at = i * IO_TYPE_NAMES.length * 3;
      const byType = {} as BdevIoCounts['byType'];
      IO_TYPE_NAMES.forEach((type, t) => (byType[type] = { ops: flat[at + t * 3]!, bytes: flat[at + t * 3 + 1]!, errors: flat[at + t * 3 + 2]! }));
      return { bdev: bdev.name, byType };
    });
  }

  /**
   * Runs a bdevperf-style benchmark on the reactors (no JavaScript per I/O) and resolves
   * with IOPS, throughput, latency percentiles, errors and, with verify, mismatches.
   */
  bench(options: BenchOptions): Promise<BenchResult> {
    const bdevName = typeof options?.bdev === 'string' ? options.bdev : options?.bdev?.name;
    return withCallerStack('bench', bdevName, async () => {
      this.assertRunning('bench', bdevName);
      const resolved = resolveBenchOptions(options, binding().engineInfo(this.#native).reactors.map((r) => r.core));
      return shapeBenchResult(await binding().engineBench(this.#native, resolved));
    });
  }

  /** The bdev of that name created through this engine, or undefined. */
  /** Who claims each bdev, which module's object it is, and the I/O types it serves. */
  describeBdevs(): Promise<BdevDescription[]> {
    return withCallerStack('describeBdevs', undefined, async () => {
      this.assertRunning('describeBdevs');
      const rows = await binding().bdevDescribeAll(this.#native);
      return rows.map((row) => ({
        name: row.name,
        claimedBy: row.claimedBy,
        belongsTo: row.belongsTo,
        ioTypes: (Object.keys(IoOp) as IoOpName[]).filter((op) => row.ioTypes & (1 << IoOp[op])),
      }));
    });
  }

  getBdev(name: string): Bdev | undefined {
    requireString(name, 'name');
    this.assertRunning('getBdev', name);
    return this.#bdevs.get(name);
  }

  listBdevs(): Bdev[] {
    this.assertRunning('listBdevs');
    return [...this.#bdevs.values()];
  }

  /**
   * A Buffer over the engine's DMA memory: I/O on it needs no copy. It stays valid after
   * the engine stops (the memory is freed when the Buffer is garbage-collected).
   */
  allocBuffer(size: number): Buffer {
    requireInteger(size, 'size', 1, 2 ** 32);
    this.assertRunning('allocBuffer');
    try {
      return binding().allocBuffer(this.#native, size);
    } catch (error) {
      throw fromNative(error, 'allocBuffer');
    }
  }

  /**
   * Waits for in-flight I/O, removes every bdev, stops the reactors and frees the engine's
   * memory. Idempotent: later calls return the same promise.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#status = 'closing';
    this.#stopping = withCallerStack('stop', undefined, async () => {
      await this.dispatcher.whenIdle();
      // Nexuses first, while their persistence hooks can still record a clean shutdown.
      for (const nexus of this.#nexuses.values())
        await binding().nexusShutdown(this.#native, nexus.name).catch(() => undefined);
      await binding().engineStop(this.#native);
      binding().engineFinalize(this.#native);
      for (const nexus of [...this.#nexuses.values()]) nexus.markGone();
      for (const pool of this.#pools.values()) pool.markGone();
      this.#pools.clear();
      for (const bdev of this.#bdevs.values()) bdev.markClosed();
      this.#bdevs.clear();
      this.#status = 'closed';
      if (running === this) running = undefined;
    });
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** @internal BdevHost */
  assertRunning(op: string, resource?: string): void {
    if (this.#status !== 'open')
      throw new NodestorError('ENGINE_STOPPED', `the engine is ${this.#status === 'closing' ? 'stopping' : 'stopped'}`, {
        op,
        resource,
      });
  }

  /** @internal PoolHost */
  get native(): NativeEngine {
    return this.#native;
  }

  /** @internal PoolHost: an lvol's bdev, opened by the engine. */
  adoptBdev(created: NativeBdevCreated): Bdev {
    const bdev = new Bdev(this, created);
    this.#bdevs.set(bdev.name, bdev);
    return bdev;
  }

  /** @internal NexusHost */
  forgetNexus(nexus: Nexus): void {
    if (this.#nexuses.get(nexus.name) !== nexus) return;
    this.#nexuses.delete(nexus.name);
    this.#persistHooks.delete(nexus.name);
    this.forgetBdev(nexus.bdev);
  }

  /** @internal PoolHost */
  forgetPool(pool: Pool): void {
    if (this.#pools.get(pool.name) === pool) this.#pools.delete(pool.name);
  }

  /** @internal BdevHost */
  destroyNativeBdev(bdev: Bdev): Promise<void> {
    return binding().bdevDestroy(this.#native, bdev.native);
  }

  /** @internal BdevHost */
  forgetBdev(bdev: Bdev): void {
    if (this.#bdevs.get(bdev.name) === bdev) this.#bdevs.delete(bdev.name);
  }
}
