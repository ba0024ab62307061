import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import {
  binding,
  type NativeBdevCreated,
  type NativeEngine,
  type NativeNexusBoard,
  type NativeNexusChild,
  type NativeNexusInfo,
  type NativePersistInfo,
  type NativeRebuildStats,
} from '../binding.js';
import type { Bdev } from '../bdev/bdev.js';
import { Lifecycle, type HandleStatus } from '../lifecycle.js';
import { NodestorError, withCallerStack } from '../errors.js';
import type { NvmfTarget } from '../nvmf-target/target.js';
import { requireInteger, requireString } from '../validate.js';

export type NexusState = NativeNexusInfo['state'];
import type { NexusChildInfo } from '../native/nexus.js';
export type { NexusChildInfo };
import type { RebuildStats } from '../native/nexus.js';
export type { RebuildStats };
/** What the persistence hook receives: enough for a restart to know which children are current. */
import type { NexusPersistInfo } from '../native/nexus.js';
export type { NexusPersistInfo };

export interface NexusEvents {
  /** A child changed: `detail` is e.g. 'Faulted:IoError/OutOfSync', 'Open/Synced' or 'Removed'. */
  child: [event: { uri: string; detail: string; child: NexusChildInfo | undefined }];
  state: [state: NexusState];
  /** A rebuild started, paused, resumed or ended. */
  rebuild: [event: { uri: string; state: RebuildStats['state']; stats: RebuildStats | undefined }];
}

export interface PublishOptions {
  /** Numeric IPv4 or IPv6 address; default 127.0.0.1. */
  address?: string;
  /** Default 4421. */
  port?: number;
  /** Host NQNs allowed to connect; default any host. */
  hosts?: string[];
}

/** What a nexus needs from its engine. @internal */
export interface NexusHost {
  readonly native: NativeEngine;
  readonly nvmf: NvmfTarget;
  assertRunning(op: string, resource?: string): void;
  adoptBdev(created: NativeBdevCreated): Bdev;
  adoptConsumerBdevs(): void;
  forgetNexus(nexus: Nexus): void;
}

export const NEXUS_NQN_PREFIX = 'nqn.2019-05.io.nodestor:';

/**
 * A volume mirrored onto N children (engine.createNexus): writes reach every writable child
 * before they are acknowledged, reads go round-robin to healthy children, a failing child
 * is faulted while I/O carries on, and a returning or new child is rebuilt online.
 */
export class Nexus extends EventEmitter<NexusEvents> {
  readonly name: string;
  readonly uuid: string;
  /** The nexus as a bdev, for I/O. */
  readonly bdev: Bdev;
  #host: NexusHost;
  #board: NativeNexusBoard;
  #life: Lifecycle;
  #published: { nqn: string; uri: string } | undefined;
  #lastInfo: NativeNexusInfo;

  /** @internal Created by Engine.createNexus. */
  constructor(
    host: NexusHost,
    bdev: Bdev,
    board: NativeNexusBoard,
  ) {
    super();
    this.#host = host;
    this.#board = board;
    this.bdev = bdev;
    this.#lastInfo = binding().nexusStatus(board);
    this.name = this.#lastInfo.name;
    this.#life = new Lifecycle('nexus', this.name);
    this.uuid = this.#lastInfo.uuid;
  }

  get status(): HandleStatus {
    return this.#life.status;
  }

  #info(): NativeNexusInfo {
    if (!this.#life.isClosed) this.#lastInfo = binding().nexusStatus(this.#board);
    return this.#lastInfo;
  }

  /** 'Online' | 'Degraded' | 'Faulted' | 'ShuttingDown' | 'Shutdown'. */
  /** Its size now (grow changes it). */
  get sizeBytes(): number {
    return this.#info().sizeBytes;
  }

  get state(): NexusState {
    return this.#info().state;
  }

  get children(): NexusChildInfo[] {
    return this.#info().children;
  }

  /** The NVMe-oF URI while published. */
  get publishedUri(): string | undefined {
    return this.#published?.uri;
  }

  /** Adds a child (any bdev URI); with rebuild (default true) a full rebuild starts at once. */
  addChild(uri: string, options: { rebuild?: boolean } = {}): Promise<void> {
    const child = requireString(uri, 'uri');
    const rebuild = options?.rebuild ?? true;
    if (typeof rebuild !== 'boolean') throw new TypeError('options.rebuild must be a boolean');
    return this.#op('addChild', child, (engine) => binding().nexusAddChild(engine, this.name, child, rebuild));
  }

  /** Removes a child (EBUSY for the last healthy one); an owned child's bdev is destroyed. */
  removeChild(uri: string): Promise<void> {
    return this.#childOp('removeChild', uri, binding().nexusRemoveChild);
  }

  /** Faults a child by command (EBUSY for the last healthy one); it needs a full rebuild to return. */
  faultChild(uri: string): Promise<void> {
    return this.#childOp('faultChild', uri, binding().nexusFaultChild);
  }

  /** Takes a child offline (Closed); the nexus logs what it misses, so onlineChild copies only that. */
  offlineChild(uri: string): Promise<void> {
    return this.#childOp('offlineChild', uri, binding().nexusOfflineChild);
  }

  /** Brings a faulted, offline or out-of-sync child back: a partial rebuild when its log allows, else full. */
  onlineChild(uri: string): Promise<void> {
    return this.#childOp('onlineChild', uri, binding().nexusOnlineChild);
  }

  pauseRebuild(uri: string): Promise<void> {
    return this.#childOp('pauseRebuild', uri, binding().nexusPauseRebuild);
  }

  resumeRebuild(uri: string): Promise<void> {
    return this.#childOp('resumeRebuild', uri, binding().nexusResumeRebuild);
  }

  /**
   * Holds every write (reads go on) once those in flight are done, until resumeWrites: a
   * point at which every child holds the same bytes, to snapshot the children. EBUSY if
   * already paused; a shutdown lets the held writes go.
   */
  pauseWrites(): Promise<void> {
    return this.#op('pauseWrites', this.name, (engine) => binding().nexusPauseWrites(engine, this.name));
  }

  /** Lets the writes held by pauseWrites go on (EINVAL when not paused). */
  resumeWrites(): Promise<void> {
    return this.#op('resumeWrites', this.name, (engine) => binding().nexusResumeWrites(engine, this.name));
  }

  /**
   * Grows the nexus to `sizeBytes` once every open child is at least that big (grow them
   * first), holding writes meanwhile. EBUSY while a rebuild runs. A host connected over
   * NVMe/TCP sees the new size when it identifies the namespace again.
   */
  grow(sizeBytes: number): Promise<void> {
    const size = requireInteger(sizeBytes, 'sizeBytes', 1);
    return this.#op('grow', this.name, async (engine) => {
      await binding().nexusGrow(engine, this.name, size);
      this.bdev.resized(this.#info().sizeBytes);
    });
  }

  /** Stops a rebuild; the child is left Faulted(OutOfSync). */
  stopRebuild(uri: string): Promise<void> {
    return this.#childOp('stopRebuild', uri, binding().nexusStopRebuild);
  }

  /** The running rebuild of that child, else its last one; undefined if it never had one. */
  rebuildStats(uri: string): RebuildStats | undefined {
    const child = requireString(uri, 'uri');
    const info = this.#info();
    const running = info.children.find((c) => c.uri === child)?.rebuild;
    if (running) return running;
    return [...info.history].reverse().find((r) => r.childUri === child);
  }

  /** Every ended rebuild, oldest first. */
  async rebuildHistory(): Promise<RebuildStats[]> {
    return this.#info().history;
  }

  /**
   * Exports the nexus over NVMe/TCP as nqn.2019-05.io.nodestor:<name>; resolves with its
   * URI, e.g. 'nvmf://127.0.0.1:4421/nqn.2019-05.io.nodestor:vol1'.
   */
  publish(options: PublishOptions = {}): Promise<string> {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const address = requireString(options.address ?? '127.0.0.1', 'options.address');
    if (isIP(address) === 0) throw new RangeError(`options.address must be a numeric IPv4 or IPv6 address, got '${address}'`);
    const port = requireInteger(options.port ?? 4421, 'options.port', 0, 65535);
    const hosts = options.hosts;
    if (hosts !== undefined && (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string')))
      throw new TypeError('options.hosts must be an array of host NQNs');
    return withCallerStack('publish', this.name, async () => {
      this.#assertOpen('publish');
      if (this.#published)
        throw new NodestorError('EEXIST', `nexus ${this.name} is already published at ${this.#published.uri}`, {
          op: 'publish',
          resource: this.name,
        });
      const nqn = NEXUS_NQN_PREFIX + this.name;
      const subsystem = await this.#host.nvmf.createSubsystem({
        nqn,
        allowAnyHost: hosts === undefined,
        hosts: hosts ?? [],
        model: 'nodestor nexus',
      });
      try {
        await subsystem.addNamespace(this.bdev.name, { uuid: this.uuid });
        const bound = await subsystem.addListener({ address, port });
        const host = isIP(address) === 6 ? `[${address}]` : address;
        this.#published = { nqn, uri: `nvmf://${host}:${bound.port}/${nqn}` };
        return this.#published.uri;
      } catch (error) {
        await subsystem.destroy().catch(() => undefined);
        throw error;
      }
    });
  }

  /** Removes the NVMe-oF export; connected hosts lose the namespace. */
  unpublish(): Promise<void> {
    return withCallerStack('unpublish', this.name, async () => {
      const published = this.#published;
      if (!published) return;
      this.#published = undefined;
      const subsystem = this.#host.nvmf.subsystem(published.nqn);
      await subsystem.destroy();
    });
  }

  /** Stops rebuilds, finishes in-flight I/O, refuses new I/O (ENODEV), persists a clean shutdown. */
  shutdown(): Promise<void> {
    return withCallerStack('shutdown', this.name, async () => {
      if (this.#life.isClosed) return;
      await this.unpublish();
      await binding().nexusShutdown(this.#host.native, this.name);
    });
  }

  /** Shuts down (if not yet), releases the nexus bdev and closes its children. */
  destroy(): Promise<void> {
    return withCallerStack('destroy', this.name, async () => {
      if (this.#life.isClosed) return;
      this.#host.assertRunning('destroy', this.name);
      const reopen = this.#life.beginClose();
      try {
        await this.unpublish();
        await binding().nexusDestroy(this.#host.native, this.name);
      } catch (error) {
        reopen();
        throw error;
      }
      this.markGone();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  /** @internal The engine stopped or the nexus was destroyed. */
  markGone(): void {
    if (this.#life.isClosed) return;
    this.#lastInfo = binding().nexusStatus(this.#board);
    this.#life.close();
    this.bdev.markClosed();
    this.#host.forgetNexus(this);
  }

  /** @internal From the engine's event pump (a JavaScript turn of its own). */
  dispatch(kind: 'child' | 'state' | 'rebuild', child: string | undefined, detail: string): void {
    const info = this.#info();
    if (kind === 'state') {
      this.emit('state', detail as NexusState);
    } else if (kind === 'child' && child !== undefined) {
      this.emit('child', { uri: child, detail, child: info.children.find((c) => c.uri === child) });
    } else if (kind === 'rebuild' && child !== undefined) {
      const stats = this.rebuildStats(child);
      this.emit('rebuild', { uri: child, state: detail as RebuildStats['state'], stats });
    }
  }

  #assertOpen(op: string): void {
    this.#host.assertRunning(op, this.name);
    this.#life.assertOpen(op);
  }

  #childOp(op: string, uri: string, call: (engine: NativeEngine, name: string, uri: string) => Promise<void>): Promise<void> {
    const child = requireString(uri, 'uri');
    return this.#op(op, child, (engine) => call(engine, this.name, child));
  }

  #op<T>(op: string, resource: string, call: (engine: NativeEngine) => Promise<T>): Promise<T> {
    return withCallerStack(op, resource, async () => {
      this.#assertOpen(op);
      try {
        return await call(this.#host.native);
      } finally {
        // addChild and onlineChild may have created a child's bdev (a new NVMe-oF connection).
        this.#host.adoptConsumerBdevs();
      }
    });
  }
}
