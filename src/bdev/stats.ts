import type { NativeBdevStats, NativeIoTypeStats } from '../binding.js';

export interface LatencyUs {
  avg: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** The I/O types, in the engine's order. */
export const IO_TYPE_NAMES = ['read', 'write', 'flush', 'unmap', 'writeZeroes', 'reset'] as const;
export type IoTypeName = (typeof IO_TYPE_NAMES)[number];

/** One bdev's counters without latency: see Engine.ioCounts(). */
export interface BdevIoCounts {
  bdev: string;
  byType: Record<IoTypeName, { ops: number; bytes: number; errors: number }>;
}

export interface IoTypeStats {
  ops: number;
  bytes: number;
  errors: number;
  latencyUs: LatencyUs;
  /** Total latency of every op, in seconds (for a Prometheus histogram's _sum). */
  latencySumSeconds: number;
  /**
   * Cumulative op counts by latency, exact at each bound (the engine's histogram buckets
   * end on powers of two): `cumulative[i]` ops took less than `LATENCY_BOUNDS_SECONDS[i]`.
   */
  latencyCumulative: number[];
}

/** The latency bounds of `latencyCumulative`: 2^10 .. 2^30 ns, about 1 µs to 1.07 s. */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = Array.from({ length: 21 }, (_, i) => 2 ** (10 + i) / 1e9);

/** I/O statistics of a bdev since it was created or since resetStats(). */
export interface BdevStats {
  readOps: number;
  writeOps: number;
  flushOps: number;
  unmapOps: number;
  writeZeroesOps: number;
  resetOps: number;
  bytesRead: number;
  bytesWritten: number;
  errors: number;
  /** Latency percentiles per I/O type, from a log-linear histogram (about 6% resolution). */
  latency: { read: LatencyUs; write: LatencyUs };
  byType: {
    read: IoTypeStats;
    write: IoTypeStats;
    flush: IoTypeStats;
    unmap: IoTypeStats;
    writeZeroes: IoTypeStats;
    reset: IoTypeStats;
  };
}

function typeStats(raw: NativeIoTypeStats): IoTypeStats {
  const us = (ns: number) => ns / 1000;
  return {
    ops: raw.ops,
    bytes: raw.bytes,
    errors: raw.errors,
    latencyUs: {
      avg: raw.ops > 0 ? us(raw.latencySumNs / raw.ops) : 0,
      p50: us(raw.p50Ns),
      p99: us(raw.p99Ns),
      p999: us(raw.p999Ns),
      max: us(raw.maxNs),
    },
    latencySumSeconds: raw.latencySumNs / 1e9,
    latencyCumulative: raw.cumulativeByPow2Ns,
  };
}

export function shapeStats(raw: NativeBdevStats): BdevStats {
  const byType = {
    read: typeStats(raw.read),
    write: typeStats(raw.write),
    flush: typeStats(raw.flush),
    unmap: typeStats(raw.unmap),
    writeZeroes: typeStats(raw.write_zeroes),
    reset: typeStats(raw.reset),
  };
  return {
    readOps: byType.read.ops,
    writeOps: byType.write.ops,
    flushOps: byType.flush.ops,
    unmapOps: byType.unmap.ops,
    writeZeroesOps: byType.writeZeroes.ops,
    resetOps: byType.reset.ops,
    bytesRead: byType.read.bytes,
    bytesWritten: byType.write.bytes,
    errors: Object.values(byType).reduce((sum, t) => sum + t.errors, 0),
    latency: { read: byType.read.latencyUs, write: byType.write.latencyUs },
    byType,
  };
}
