// The raw native binding, typed 1:1 with the functions native/spdk-binding/ exports
// (addon.cc, js_pools.cc, js_nvmf.cc, js_nexus.cc). Nothing here is ergonomic; src/engine.ts
// and the classes in src/bdev/, src/lvol/, src/nvmf/ and src/nexus/ build the public API on top.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type NativeEngine = { readonly __brand: 'NativeEngine' };
export type NativeBdev = { readonly __brand: 'NativeBdev' };
export type NativeBatch = { readonly __brand: 'NativeBatch' };

/** I/O type numbers, as native/engine/bdev/iostat.h orders them. */
export const IoOp = { read: 0, write: 1, flush: 2, unmap: 3, writeZeroes: 4, reset: 5 } as const;
export type IoOpName = keyof typeof IoOp;

export interface NativeEngineOptions {
  cores: number[];
  memoryMb: number;
  hugepages: 'auto' | 'require' | 'off';
  idle: 'poll' | 'adaptive';
}

export interface NativeStartResult {
  handle: NativeEngine;
  warning: string | null;
  hugepages: boolean;
}

export interface NativeReactorInfo {
  core: number;
  idle: 'poll' | 'adaptive';
  busyNs: number;
  idleNs: number;
  sleeps: number;
  threads: number;
}

export interface NativeEngineInfo {
  version: string;
  reactors: NativeReactorInfo[];
  memory: { hugepages: boolean; reservedBytes: number; usedBytes: number; freeBytes: number };
}

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
}

export type NativeBdevStats = Record<
  'read' | 'write' | 'flush' | 'unmap' | 'write_zeroes' | 'reset',
  NativeIoTypeStats
>;

/** Injection modes, as native/engine/bdev/error/error_bdev.h numbers them. */
export const InjectMode = { fail: 1, corrupt: 2, gone: 3, delay: 4 } as const;

export interface NativeInjection {
  ioTypes: number; // bit (1 << IoOp)
  mode: number;
  errno: number; // negative
  count: number; // 0: until cleared
  latencyUs: number;
}

/** Workload numbers, as native/engine/bench/bdevperf.h orders them. */
export const BenchWorkloadCode = { randread: 0, randwrite: 1, read: 2, write: 3, randrw: 4 } as const;

export interface NativeBenchOptions {
  bdev: string;
  workload: number;
  rwmixread: number;
  blockSize: number;
  queueDepth: number;
  seconds: number;
  reactors: number[];
  verify: boolean;
}

export interface NativeBenchJob {
  core: number;
  ios: number;
  bytes: number;
  errors: number;
  mismatches: number;
  elapsedNs: number;
  latencySumNs: number;
}

export interface NativeBenchResult {
  jobs: NativeBenchJob[];
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
}

export interface NativeSubsystemInfo {
  nqn: string;
  serial: string;
  model: string;
  allowAnyHost: boolean;
  maxNamespaces: number;
  hosts: string[];
  listeners: { address: string; port: number; anaState: 'optimized' | 'non_optimized' | 'inaccessible' }[];
  namespaces: { nsid: number; bdevName: string }[];
  controllers: number;
}

export interface NativeDiscoveryEntry {
  transport: string;
  addressFamily: string;
  subtype: string;
  address: string;
  port: string;
  nqn: string;
  portId: number;
}

export interface NativePoolInfo {
  name: string;
  uuid: string;
  disk: string;
  clusterSizeBytes: number;
  totalBytes: number;
  usedBytes: number;
  committedBytes: number;
  availableBytes: number;
  metadataPages: number;
  metadataPagesUsed: number;
  importedDirty: boolean;
}

export interface NativeLvolInfo {
  name: string;
  bdevName: string;
  uuid: string;
  parent: string | null;
  sizeBytes: number;
  allocatedBytes: number;
  thin: boolean;
  readOnly: boolean;
  properties: Record<string, string>;
}

export interface NativeLvol extends NativeLvolInfo {
  bdev: NativeBdevCreated;
}

export interface NativePoolOpened {
  pool: NativePoolInfo;
  lvols: NativeLvol[];
}

/** A nexus's status board (nexusStatus reads it synchronously). */
export type NativeNexusBoard = { readonly __brand: 'NativeNexusBoard' };

export interface NativeRebuildStats {
  childUri: string;
  sourceUri: string;
  state: 'Init' | 'Running' | 'Paused' | 'Stopped' | 'Failed' | 'Completed';
  partial: boolean;
  bytesTotal: number;
  bytesRebuilt: number;
  segmentsTotal: number;
  segmentsDone: number;
  startedAt: number;
  endedAt: number | null;
  bytesPerSec: number;
  error?: string;
}

export interface NativeNexusChild {
  uri: string;
  bdevName: string;
  state: 'Open' | 'Faulted' | 'Closed';
  reason?: string;
  syncState: 'Synced' | 'OutOfSync';
  rebuildProgress?: number;
  rebuild?: NativeRebuildStats;
}

export interface NativeNexusInfo {
  name: string;
  uuid: string;
  sizeBytes: number;
  blockSize: number;
  state: 'Online' | 'Degraded' | 'Faulted' | 'ShuttingDown' | 'Shutdown';
  children: NativeNexusChild[];
  history: NativeRebuildStats[];
}

export interface NativeNexusOptions {
  name: string;
  uuid: string | null;
  sizeBytes: number;
  children: string[];
  persist: boolean;
  segmentBytes: number;
  parallel: number;
  verify: boolean;
  readPolicy: 'least-loaded' | 'round-robin' | 'striped';
  ioTimeoutMs: number;
}

export interface NativePersistInfo {
  name: string;
  uuid: string;
  cleanShutdown: boolean;
  children: { uri: string; healthy: boolean }[];
}

export type NativeNexusEvent =
  | { kind: 'child' | 'state' | 'rebuild'; nexus: string; child?: string; detail: string }
  | { kind: 'persist'; nexus: string; id: number; info: NativePersistInfo }
  | { kind: 'release'; nexus: string; id: number; bdev: string };

/** The numbers the addon defines (ConstantsValue); src/ keeps copies that a test compares. */
export interface NativeConstants {
  ioTypes: Record<'read' | 'write' | 'flush' | 'unmap' | 'writeZeroes' | 'reset', number>;
  benchWorkloads: Record<'randread' | 'randwrite' | 'read' | 'write' | 'randrw', number>;
  maxIoInFlight: number;
  EAGAIN: number;
  /** By module scheme: the numbers its control commands take (error: the injection modes). */
  modules: Record<string, Record<string, number>>;
}

export interface NativeBinding {
  readonly constants: NativeConstants;
  /** EngineStart: reserves DMA memory and starts reactors (off the JS thread). */
  engineStart(options: NativeEngineOptions, onIo: (count: number) => void, ioResults: Int32Array): Promise<NativeStartResult>;
  /** EngineInfo */
  engineInfo(engine: NativeEngine): NativeEngineInfo;
  /** EngineStop: releases every bdev on the app thread. */
  engineStop(engine: NativeEngine): Promise<void>;
  /** EngineFinalize: joins reactors, frees the engine. */
  engineFinalize(engine: NativeEngine): void;
  /** BdevCreate: creates a bdev from a URI and opens it. */
  bdevCreate(engine: NativeEngine, uri: string): Promise<NativeBdevCreated>;
  /** BdevDestroy */
  bdevDestroy(engine: NativeEngine, bdev: NativeBdev): Promise<void>;
  /** BdevStats */
  bdevStats(bdev: NativeBdev): NativeBdevStats;
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
  /** EngineBench: bdevperf-style jobs on the reactors. */
  engineBench(engine: NativeEngine, options: NativeBenchOptions): Promise<NativeBenchResult>;
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
  /** NVMe-oF target (js_nvmf.cc); arguments validated by src/nvmf/. */
  nvmfCreateSubsystem(
    engine: NativeEngine,
    nqn: string,
    serial: string,
    model: string,
    allowAnyHost: boolean,
    hosts: string[],
    maxNamespaces: number,
  ): Promise<void>;
  nvmfDestroySubsystem(engine: NativeEngine, nqn: string): Promise<void>;
  nvmfAddNamespace(engine: NativeEngine, nqn: string, bdevName: string, nsid: number, uuid: string | null, nguid: string | null): Promise<number>;
  nvmfRemoveNamespace(engine: NativeEngine, nqn: string, nsid: number): Promise<void>;
  nvmfAddListener(engine: NativeEngine, nqn: string, address: string, port: number): Promise<number>;
  nvmfRemoveListener(engine: NativeEngine, nqn: string, address: string, port: number): Promise<void>;
  nvmfAddHost(engine: NativeEngine, nqn: string, host: string): Promise<void>;
  nvmfRemoveHost(engine: NativeEngine, nqn: string, host: string): Promise<void>;
  nvmfSetAnaState(engine: NativeEngine, nqn: string, address: string, port: number, state: number): Promise<void>;
  nvmfList(engine: NativeEngine): Promise<NativeSubsystemInfo[]>;
  nvmfDiscover(engine: NativeEngine, address: string, port: number, hostNqn: string): Promise<NativeDiscoveryEntry[]>;
  nvmfHostNqn(): string;
  /** BdevHealth: 'online', 'reconnecting: why', 'gone: why' or 'destroyed'. */
  bdevHealth(bdev: NativeBdev): { state: 'online' | 'reconnecting' | 'gone'; reason: string | null };
  /** PoolCreate: formats the disk (a URI or bdev:///name). */
  poolCreate(engine: NativeEngine, name: string, disk: string, clusterSizeBytes: number): Promise<NativePoolOpened>;
  /** PoolImport: finds the superblock, replays the metadata log, opens every lvol. */
  poolImport(engine: NativeEngine, disk: string): Promise<NativePoolOpened>;
  /** PoolInfo: current figures and lvol information. */
  poolInfo(engine: NativeEngine, pool: string): Promise<{ pool: NativePoolInfo; lvols: NativeLvolInfo[] }>;
  /** PoolCheck: EIO when the pool's metadata is inconsistent. */
  poolCheck(engine: NativeEngine, pool: string): Promise<void>;
  /** PoolExport */
  poolExport(engine: NativeEngine, pool: string): Promise<void>;
  /** PoolDestroy */
  poolDestroy(engine: NativeEngine, pool: string): Promise<void>;
  /** PoolGrow */
  poolGrow(engine: NativeEngine, pool: string): Promise<NativePoolInfo>;
  /** LvolCreate */
  lvolCreate(engine: NativeEngine, pool: string, name: string, sizeBytes: number, thin: boolean): Promise<NativeLvol>;
  /** LvolSnapshot */
  lvolSnapshot(engine: NativeEngine, pool: string, lvol: string, name: string): Promise<{ snapshot: NativeLvol; origin: NativeLvolInfo }>;
  /** LvolClone */
  lvolClone(engine: NativeEngine, pool: string, snapshot: string, name: string): Promise<NativeLvol>;
  /** LvolResize */
  lvolResize(engine: NativeEngine, pool: string, lvol: string, sizeBytes: number): Promise<NativeLvolInfo>;
  /** LvolInflate */
  lvolInflate(engine: NativeEngine, pool: string, lvol: string): Promise<NativeLvolInfo>;
  /** LvolDecoupleParent */
  lvolDecoupleParent(engine: NativeEngine, pool: string, lvol: string): Promise<NativeLvolInfo>;
  /** LvolSetProperty */
  lvolSetProperty(engine: NativeEngine, pool: string, lvol: string, key: string, value: string): Promise<NativeLvolInfo>;
  /** NexusCreate: opens (or creates) and claims the children, persists, opens a handle. */
  nexusCreate(engine: NativeEngine, options: NativeNexusOptions): Promise<{ bdev: NativeBdevCreated; board: NativeNexusBoard }>;
  /** NexusStatus: synchronous snapshot. */
  nexusStatus(board: NativeNexusBoard): NativeNexusInfo;
  nexusAddChild(engine: NativeEngine, name: string, uri: string, rebuild: boolean): Promise<void>;
  nexusRemoveChild(engine: NativeEngine, name: string, uri: string): Promise<void>;
  nexusFaultChild(engine: NativeEngine, name: string, uri: string): Promise<void>;
  nexusOfflineChild(engine: NativeEngine, name: string, uri: string): Promise<void>;
  nexusOnlineChild(engine: NativeEngine, name: string, uri: string): Promise<void>;
  nexusPauseRebuild(engine: NativeEngine, name: string, uri: string): Promise<void>;
  nexusResumeRebuild(engine: NativeEngine, name: string, uri: string): Promise<void>;
  nexusStopRebuild(engine: NativeEngine, name: string, uri: string): Promise<void>;
  nexusShutdown(engine: NativeEngine, name: string): Promise<void>;
  /** NexusDestroy: releases JavaScript's handle on the nexus bdev first. */
  nexusDestroy(engine: NativeEngine, name: string): Promise<void>;
  /** NexusEvents: a background wait; null once the engine stops. */
  nexusEvents(engine: NativeEngine): Promise<NativeNexusEvent[] | null>;
  nexusPersistDone(engine: NativeEngine, id: number, error: string | null): Promise<void>;
  /** TakeAdopted: handles on the bdevs nexuses created from child URIs since the last call. */
  bdevTakeAdopted(engine: NativeEngine): NativeBdevCreated[];
  /** ReleaseHeld: JavaScript stopped using the bdev of a 'release' event; its creator goes on. */
  bdevReleaseHeld(engine: NativeEngine, id: number): Promise<void>;
  /** LvolDestroy */
  lvolDestroy(engine: NativeEngine, pool: string, lvol: string): Promise<void>;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'nodestor')
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('nodestor: cannot find the package root to load the native addon from');
    dir = parent;
  }
}

let loaded: NativeBinding | undefined;

/** Loads the addon once: build/Release, else prebuilds/ (PREBUILDS_ONLY=1 forces prebuilds). */
export function binding(): NativeBinding {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (root: string) => NativeBinding;
    loaded = load(packageRoot());
  }
  return loaded;
}
