// Native binding types for one area: js_nexus.cc (nexuses, their events and persistence,
// and the bdevs they create from child URIs).
import type { NativeBdevCreated } from './bdev.js';
import type { NativeEngine } from './engine.js';

/** A nexus's status board (nexusStatus reads it synchronously). */
export type NativeNexusBoard = { readonly __brand: 'NativeNexusBoard' };

/** Public as RebuildStats; NativeRebuildStats is the binding's name for it. */
export interface RebuildStats {
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

/** Public as NexusChildInfo; NativeNexusChild is the binding's name for it. */
export interface NexusChildInfo {
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

/** Public as NexusPersistInfo; NativePersistInfo is the binding's name for it. */
export interface NexusPersistInfo {
  name: string;
  uuid: string;
  cleanShutdown: boolean;
  children: { uri: string; healthy: boolean }[];
}

export type NativeNexusEvent =
  | { kind: 'child' | 'state' | 'rebuild'; nexus: string; child?: string; detail: string }
  | { kind: 'persist'; nexus: string; id: number; info: NativePersistInfo }
  | { kind: 'release'; nexus: string; id: number; bdev: string }
  /** A host's controller on subsystem `nexus` (its NQN) came or went. */
  | { kind: 'host'; nexus: string; hostNqn: string; cntlid: number; detail: 'connected' | 'disconnected' };

/** The functions of js_nexus.cc. */
export interface NativeNexusFunctions {
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
  nexusPauseWrites(engine: NativeEngine, name: string): Promise<void>;
  nexusResumeWrites(engine: NativeEngine, name: string): Promise<void>;
  nexusGrow(engine: NativeEngine, name: string, sizeBytes: number): Promise<void>;
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
}
export type NativeRebuildStats = RebuildStats;
export type NativeNexusChild = NexusChildInfo;
export type NativePersistInfo = NexusPersistInfo;
