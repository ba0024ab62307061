import { BenchWorkloadCode, type NativeBenchOptions, type NativeBenchResult } from './binding.js';
import { NodestorError } from './errors.js';
import type { Bdev } from './bdev/bdev.js';
import type { LatencyUs } from './bdev/stats.js';
import { requireInteger, requireOneOf, requireString } from './validate.js';

export type BenchWorkload = keyof typeof BenchWorkloadCode;

/** A bdevperf-style benchmark run natively on the reactors: no JavaScript per I/O. */
export interface BenchOptions {
  /** The bdev (or its name). */
  bdev: Bdev | string;
  workload: BenchWorkload;
  /** Percent reads for 'randrw' and 'rw' (default 50). */
  rwmixread?: number;
  /** Bytes per I/O (a multiple of the bdev's block size). */
  blockSize: number;
  /** I/Os in flight per core. */
  queueDepth: number;
  seconds: number;
  /** Engine cores to run a job on, one job each (default: every engine core). */
  cores?: number[];
  /** Write a pattern and check every read of it back (bdevperf's verify). */
  verify?: boolean;
}

export interface BenchCoreResult {
  core: number;
  ios: number;
  iops: number;
  mibps: number;
  errors: number;
  mismatches: number;
}

export interface BenchResult {
  iops: number;
  mibps: number;
  /** Submit to completion, measured on the reactor (log-linear histogram, ~6% resolution). */
  latencyUs: LatencyUs;
  ios: number;
  errors: number;
  /** verify: reads that did not return what was written. */
  mismatches: number;
  seconds: number;
  perCore: BenchCoreResult[];
}

/** Validates options and maps cores to reactor indexes. */
export function resolveBenchOptions(options: BenchOptions, engineCores: number[]): NativeBenchOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const bdev = typeof options.bdev === 'string' ? options.bdev : requireString(options.bdev?.name, 'bdev');
  const workload = requireOneOf(options.workload, 'workload', Object.keys(BenchWorkloadCode) as BenchWorkload[]);
  const cores = options.cores ?? engineCores;
  if (!Array.isArray(cores) || cores.length === 0) throw new TypeError('cores must be a non-empty array of engine cores');
  const reactors = cores.map((core, i) => {
    requireInteger(core, `cores[${i}]`, 0);
    const index = engineCores.indexOf(core);
    if (index < 0)
      throw new NodestorError('EINVAL', `core ${core} runs no reactor of this engine (cores: ${engineCores.join(', ')})`, {
        op: 'bench',
      });
    return index;
  });
  if (new Set(reactors).size !== reactors.length) throw new RangeError('cores must not repeat');
  const seconds = options.seconds;
  if (typeof seconds !== 'number' || !(seconds > 0) || seconds > 3600)
    throw new RangeError(`seconds must be in (0, 3600], got ${String(seconds)}`);
  return {
    bdev,
    workload: BenchWorkloadCode[workload],
    rwmixread: requireInteger(options.rwmixread ?? 50, 'rwmixread', 0, 100),
    blockSize: requireInteger(options.blockSize, 'blockSize', 512, 16 << 20),
    queueDepth: requireInteger(options.queueDepth, 'queueDepth', 1, 4096),
    seconds,
    reactors,
    verify: options.verify === true,
  };
}

export function shapeBenchResult(raw: NativeBenchResult): BenchResult {
  const seconds = Math.max(...raw.jobs.map((j) => j.elapsedNs)) / 1e9;
  const perCore = raw.jobs.map((j) => {
    const s = j.elapsedNs / 1e9;
    return {
      core: j.core,
      ios: j.ios,
      iops: s > 0 ? Math.round(j.ios / s) : 0,
      mibps: s > 0 ? j.bytes / s / (1 << 20) : 0,
      errors: j.errors,
      mismatches: j.mismatches,
    };
  });
  const ios = perCore.reduce((sum, c) => sum + c.ios, 0);
  const latencySum = raw.jobs.reduce((sum, j) => sum + j.latencySumNs, 0);
  return {
    iops: perCore.reduce((sum, c) => sum + c.iops, 0),
    mibps: perCore.reduce((sum, c) => sum + c.mibps, 0),
    latencyUs: {
      avg: ios > 0 ? latencySum / ios / 1000 : 0,
      p50: raw.p50Ns / 1000,
      p99: raw.p99Ns / 1000,
      p999: raw.p999Ns / 1000,
      max: raw.maxNs / 1000,
    },
    ios,
    errors: perCore.reduce((sum, c) => sum + c.errors, 0),
    mismatches: perCore.reduce((sum, c) => sum + c.mismatches, 0),
    seconds,
    perCore,
  };
}
