// `npm run bench -- js-io`: 4 KiB random reads and writes on a malloc bdev driven from
// TypeScript (one promise per I/O), at several numbers of I/Os in flight, one reactor core.
// Prints JSON; writes it and an SVG chart under bench/results/.
import { Engine, type Bdev } from '../src/index.js';
import { lineChart } from './svg.js';
import { machine, publish } from './report.js';

export interface JsIoOptions {
  seconds: number;
  queueDepths: number[];
  blockSize: number;
  idle: 'poll' | 'adaptive';
  core: number;
  out: string;
}

interface Run {
  workload: 'randread' | 'randwrite';
  queueDepth: number;
  seconds: number;
  ios: number;
  iops: number;
  mibps: number;
  latencyUs: { avg: number; p50: number; p99: number; p999: number; max: number };
  engineLatencyUs: { p50: number; p99: number };
  reactorBusyPercent: number;
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

async function runOne(engine: Engine, bdev: Bdev, workload: Run['workload'], qd: number, opts: JsIoOptions): Promise<Run> {
  const bs = opts.blockSize;
  const blocks = bdev.sizeBytes / bs;
  const payload = Buffer.alloc(bs, 0x5a);
  const latencies = new Float64Array(Math.ceil(opts.seconds * 2_000_000));
  let ios = 0;
  let rng = 12345;
  const before = engine.info().reactors[0]!;
  bdev.resetStats();
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  async function worker() {
    while (performance.now() < end) {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
      const offset = (rng % blocks) * bs;
      const t0 = performance.now();
      if (workload === 'randread') await bdev.read(offset, bs);
      else await bdev.write(offset, payload);
      if (ios < latencies.length) latencies[ios] = (performance.now() - t0) * 1000;
      ios++;
    }
  }
  await Promise.all(Array.from({ length: qd }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const after = engine.info().reactors[0]!;
  const sample = latencies.subarray(0, Math.min(ios, latencies.length)).sort();
  let sum = 0;
  for (const v of sample) sum += v;
  const stats = bdev.stats();
  const engineLat = workload === 'randread' ? stats.latency.read : stats.latency.write;
  const busy = after.busyNs - before.busyNs;
  const idle = after.idleNs - before.idleNs;
  return {
    workload,
    queueDepth: qd,
    seconds: Number(elapsed.toFixed(3)),
    ios,
    iops: Math.round(ios / elapsed),
    mibps: Number(((ios * bs) / elapsed / (1 << 20)).toFixed(1)),
    latencyUs: {
      avg: Number((sum / sample.length).toFixed(2)),
      p50: Number(percentile(sample, 0.5).toFixed(2)),
      p99: Number(percentile(sample, 0.99).toFixed(2)),
      p999: Number(percentile(sample, 0.999).toFixed(2)),
      max: Number(sample[sample.length - 1]!.toFixed(2)),
    },
    engineLatencyUs: { p50: engineLat.p50, p99: engineLat.p99 },
    reactorBusyPercent: Number(((100 * busy) / Math.max(1, busy + idle)).toFixed(1)),
  };
}

export async function jsIo(opts: JsIoOptions): Promise<void> {
  const engine = await Engine.start({ cores: [opts.core], memoryMb: 512, hugepages: 'auto', idle: opts.idle });
  const runs: Run[] = [];
  try {
    const bdev = await engine.createBdev(`malloc:///bench?size_mb=256&blk_size=${opts.blockSize}`);
    // Warm up: touch every path once so the first measured run is not the one paying for it.
    await runOne(engine, bdev, 'randwrite', 32, { ...opts, seconds: 0.5 });
    for (const workload of ['randread', 'randwrite'] as const) {
      for (const qd of opts.queueDepths) {
        const run = await runOne(engine, bdev, workload, qd, opts);
        runs.push(run);
        process.stderr.write(`${workload} qd=${qd}: ${run.iops.toLocaleString('en')} IOPS, p99 ${run.latencyUs.p99} us\n`);
      }
    }
  } finally {
    await engine.stop();
  }
  const result = {
    benchmark: 'js-io',
    setup: {
      description: 'one promise per I/O from TypeScript (bdev.read / bdev.write) on a malloc bdev',
      bdev: 'malloc, 256 MiB',
      blockSize: opts.blockSize,
      reactorCores: [opts.core],
      idle: opts.idle,
      secondsPerRun: opts.seconds,
      machine: machine(),
      latency: 'latencyUs: from the call to the promise settling, in JavaScript; engineLatencyUs: submit to completion on the reactor',
    },
    date: new Date().toISOString(),
    runs,
  };
  const svg = lineChart(
    'nodestor: 4 KiB random I/O from TypeScript (malloc bdev)',
    'I/Os in flight',
    'IOPS',
    (['randread', 'randwrite'] as const).map((w) => ({
      name: w,
      points: runs.filter((r) => r.workload === w).map((r) => [r.queueDepth, r.iops] as [number, number]),
    })),
    `one reactor core (${opts.idle}), ${opts.seconds} s per point, Node ${process.version}`,
  );
  publish(opts.out, 'js-io', result, { '': svg });
}
