// Native binding types for one area: addon.cc (engine start and stop, bench, constants).

export type NativeEngine = { readonly __brand: 'NativeEngine' };

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

/** Public as EngineInfo; NativeEngineInfo is the binding's name for it. */
export interface EngineInfo {
  version: string;
  reactors: NativeReactorInfo[];
  memory: { hugepages: boolean; reservedBytes: number; usedBytes: number; freeBytes: number };
}

/** Workload numbers, as native/engine/bench/bdevperf.h orders them. */
export const BenchWorkloadCode = { randread: 0, randwrite: 1, read: 2, write: 3, randrw: 4, rw: 5 } as const;

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

/** The numbers the addon defines (ConstantsValue); src/ keeps copies that a test compares. */
export interface NativeConstants {
  ioTypes: Record<'read' | 'write' | 'flush' | 'unmap' | 'writeZeroes' | 'reset', number>;
  benchWorkloads: Record<'randread' | 'randwrite' | 'read' | 'write' | 'randrw' | 'rw', number>;
  maxIoInFlight: number;
  EAGAIN: number;
  /** By module scheme: the numbers its control commands take (error: the injection modes). */
  modules: Record<string, Record<string, number>>;
}

/** The functions of addon.cc. */
export interface NativeEngineFunctions {
  readonly constants: NativeConstants;
  /** EngineStart: reserves DMA memory and starts reactors (off the JS thread). */
  engineStart(options: NativeEngineOptions, onIo: (count: number) => void, ioResults: Int32Array): Promise<NativeStartResult>;
  /** EngineInfo */
  engineInfo(engine: NativeEngine): NativeEngineInfo;
  /** EngineStop: releases every bdev on the app thread. */
  engineStop(engine: NativeEngine): Promise<void>;
  /** EngineFinalize: joins reactors, frees the engine. */
  engineFinalize(engine: NativeEngine): void;
  /** EngineBench: bdevperf-style jobs on the reactors. */
  engineBench(engine: NativeEngine, options: NativeBenchOptions): Promise<NativeBenchResult>;
}
export type NativeEngineInfo = EngineInfo;
