// `npm run bench -- bdevperf ...`: the engine's native benchmark (engine.bench), one run or
// a --suite matrix (queue depth 1-128 x 4 KiB/128 KiB x read/write), printing JSON and
// writing JSON and SVG charts under bench/results/.
import { Engine, type BenchResult, type BenchWorkload } from '../src/index.js';
import { lineChart } from './svg.js';
import { machine, progressBar, publish, type Charts } from './report.js';

export interface BdevperfOptions {
  bdev: string; // malloc | null | uring:/path | aio:/path
  workload: BenchWorkload;
  blockSize: number;
  queueDepth: number;
  seconds: number;
  cores: number[];
  idle: 'poll' | 'adaptive';
  verify: boolean;
  suite: boolean;
  out: string;
}

interface Point {
  workload: BenchWorkload;
  blockSize: number;
  queueDepth: number;
  result: BenchResult;
}

function bdevUri(spec: string, blockSize: number): string {
  if (spec === 'malloc') return 'malloc:///bench?size_mb=1024&blk_size=4096';
  if (spec === 'null') return 'null:///bench?size_mb=1024&blk_size=4096';
  const match = /^(uring|aio):(\/.+)$/.exec(spec);
  if (match) return `${match[1]}://${match[2]}?blk_size=${Math.min(blockSize, 4096)}&name=bench`;
  throw new RangeError(`--bdev must be malloc, null, uring:/path or aio:/path, got '${spec}'`);
}

export async function bdevperf(opts: BdevperfOptions): Promise<void> {
  const matrix: Omit<Point, 'result'>[] = [];
  if (opts.suite) {
    for (const workload of ['randread', 'randwrite'] as const)
      for (const blockSize of [4096, 131072])
        for (const queueDepth of [1, 2, 4, 8, 16, 32, 64, 128]) matrix.push({ workload, blockSize, queueDepth });
  } else {
    matrix.push({ workload: opts.workload, blockSize: opts.blockSize, queueDepth: opts.queueDepth });
  }
  const uri = bdevUri(opts.bdev, Math.min(...matrix.map((m) => m.blockSize))); // a bad --bdev fails before an engine starts
  const engine = await Engine.start({ cores: opts.cores, memoryMb: 2048, hugepages: 'auto', idle: opts.idle });
  const points: Point[] = [];
  try {
    const bdev = await engine.createBdev(uri);
    const bar = progressBar(matrix.length, 'bdevperf');
    for (const m of matrix) {
      const result = await engine.bench({ bdev, ...m, seconds: opts.seconds, cores: opts.cores, verify: opts.verify });
      points.push({ ...m, result });
      bar.step(`${m.workload} bs=${m.blockSize} qd=${m.queueDepth}: ${Math.round(result.iops).toLocaleString('en')} IOPS`);
    }
    bar.stop();
  } finally {
    await engine.stop();
  }
  const output = {
    benchmark: opts.suite ? 'bdevperf-suite' : 'bdevperf',
    setup: {
      bdev: opts.bdev,
      reactorCores: opts.cores,
      idle: opts.idle,
      secondsPerRun: opts.seconds,
      verify: opts.verify,
      description: 'jobs run natively on the reactors (engine.bench); queue depth is per core; latency is submit to completion',
      machine: machine(),
    },
    date: new Date().toISOString(),
    runs: points.map((p) => ({
      workload: p.workload,
      blockSize: p.blockSize,
      queueDepth: p.queueDepth,
      iops: p.result.iops,
      mibps: Number(p.result.mibps.toFixed(1)),
      gbps: Number(((p.result.mibps * 1.048576) / 1000).toFixed(2)),
      latencyUs: Object.fromEntries(Object.entries(p.result.latencyUs).map(([k, v]) => [k, Number(v.toFixed(2))])),
      errors: p.result.errors,
      mismatches: p.result.mismatches,
      perCore: p.result.perCore,
    })),
  };
  const charts: Charts = {};
  if (opts.suite) {
    const subtitle = `${opts.bdev}, cores ${opts.cores.join(',')} (${opts.idle}), ${opts.seconds} s per point`;
    for (const blockSize of [4096, 131072]) {
      const label = blockSize === 4096 ? '4k' : '128k';
      const series = (['randread', 'randwrite'] as const).map((w) => ({
        name: w,
        points: points.filter((p) => p.workload === w && p.blockSize === blockSize).map((p) => [p.queueDepth, p.result.iops] as [number, number]),
      }));
      charts[`iops-${label}`] = lineChart(`nodestor bdevperf: IOPS, ${label} random I/O`, 'queue depth', 'IOPS', series, subtitle);
      const reads = points.filter((p) => p.workload === 'randread' && p.blockSize === blockSize);
      const latency = (['p50', 'p99', 'p999'] as const).map((q) => ({
        name: `read ${q}`,
        points: reads.map((p) => [p.queueDepth, p.result.latencyUs[q]] as [number, number]),
      }));
      charts[`latency-${label}`] = lineChart(`nodestor bdevperf: read latency, ${label}`, 'queue depth', 'latency (µs)', latency, subtitle);
    }
  }
  publish(opts.out, output.benchmark, output, charts);
}
