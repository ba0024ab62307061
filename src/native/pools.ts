// Native binding types for one area: js_pools.cc (pools and lvols).
import type { NativeBdevCreated } from './bdev.js';
import type { NativeEngine } from './engine.js';

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

/** The functions of js_pools.cc. */
export interface NativePoolFunctions {
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
  /** LvolSetReadOnly: for good; writes get EROFS and it can be cloned. */
  lvolSetReadOnly(engine: NativeEngine, pool: string, lvol: string): Promise<NativeLvolInfo>;
  lvolSetProperty(engine: NativeEngine, pool: string, lvol: string, key: string, value: string): Promise<NativeLvolInfo>;
  /** LvolDestroy */
  lvolDestroy(engine: NativeEngine, pool: string, lvol: string): Promise<void>;
}
