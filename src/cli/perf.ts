// `nodestor perf`: an NVMe/TCP initiator benchmark in the manner of spdk_nvme_perf,
// against any target (ours, SPDK's, the kernel's). An engine in this process connects to
// the namespace and runs the engine's own load generator on its reactors (no JavaScript per
// I/O), then prints IOPS, MiB/s and the latency distribution.
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { BenchResult, BenchWorkload } from '../bench.js';

const WORKLOADS = ['randread', 'randwrite', 'read', 'write', 'rw', 'randrw'] as const;

const whole = (what: string, min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what}: a whole number from ${min} to ${max}`);
  return n;
};

export interface PerfReport {
  target: string;
  workload: string;
  blockSize: number;
  queueDepth: number;
  seconds: number;
  rwmixread?: number;
  digests: { header: boolean; data: boolean };
  namespace: { blockSize: number; sizeBytes: number };
  result: BenchResult;
}

function table(r: PerfReport): string {
  const n = (v: number, digits = 1) => v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const rows: string[][] = [['', 'IOPS', 'MiB/s', 'avg us', 'p50 us', 'p99 us', 'p99.9 us', 'max us']];
  const l = r.result.latencyUs;
  for (const c of r.result.perCore) rows.push([`core ${c.core}`, n(c.iops), n(c.mibps, 2), '', '', '', '', '']);
  rows.push(['total', n(r.result.iops), n(r.result.mibps, 2), n(l.avg), n(l.p50), n(l.p99), n(l.p999), n(l.max)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

export function registerPerfCommand(program: Command): void {
  program
    .command('perf')
    .description('benchmark an NVMe/TCP namespace from this host (like spdk_nvme_perf): IOPS, MiB/s, latency')
    .requiredOption('--target <uri>', 'nvmf://host:port/subsystem-nqn[?nsid=N&hostnqn=NQN]')
    .option('-q, --queue-depth <n>', 'I/Os in flight per core', whole('--queue-depth', 1, 4096), 32)
    .option('-o, --io-size <bytes>', 'bytes per I/O (a multiple of the block size)', whole('--io-size', 512, 16 << 20), 4096)
    .addOption(new Option('-w, --workload <name>', 'the I/O pattern').choices(WORKLOADS).default('randread'))
    .option('-M, --rwmixread <percent>', 'reads in a mixed workload (rw, randrw)', whole('--rwmixread', 0, 100), 50)
    .option('-t, --time <seconds>', 'how long to run', whole('--time', 1, 3600), 10)
    .option('--hdgst', 'header digests')
    .option('--ddgst', 'data digests')
    .option('--cores <list>', 'cores to run a job on, one each (comma-separated)', (text: string) => {
      const list = text.split(',').map(Number);
      if (list.some((c) => !Number.isInteger(c) || c < 0)) throw new InvalidArgumentError('--cores: a comma-separated list of core numbers');
      return list;
    }, [0])
    .option('--memory-mb <n>', 'DMA memory for the engine', whole('--memory-mb', 32, 65536), 256)
    .option('--json', 'print the report as JSON')
    .action(async (o) => {
      if (!/^nvmf:\/\//.test(o.target)) throw new InvalidArgumentError(`--target: an nvmf:// URI, got '${o.target}'`);
      const { Engine } = await import('../engine.js');
      const engine = await Engine.start({ cores: o.cores, memoryMb: o.memoryMb, hugepages: 'auto', idle: 'poll' });
      try {
        const query = [o.hdgst ? 'hdgst=1' : '', o.ddgst ? 'ddgst=1' : '', 'name=perf0'].filter(Boolean).join('&');
        const bdev = await engine.createBdev(`${o.target}${o.target.includes('?') ? '&' : '?'}${query}`);
        const workload = o.workload as BenchWorkload;
        const result = await engine.bench({
          bdev,
          workload,
          blockSize: o.ioSize,
          queueDepth: o.queueDepth,
          seconds: o.time,
          cores: o.cores,
          ...(o.workload === 'rw' || o.workload === 'randrw' ? { rwmixread: o.rwmixread } : {}),
        });
        const report: PerfReport = {
          target: o.target,
          workload: o.workload,
          blockSize: o.ioSize,
          queueDepth: o.queueDepth,
          seconds: o.time,
          ...(o.workload === 'rw' || o.workload === 'randrw' ? { rwmixread: o.rwmixread } : {}),
          digests: { header: Boolean(o.hdgst), data: Boolean(o.ddgst) },
          namespace: { blockSize: bdev.blockSize, sizeBytes: bdev.sizeBytes },
          result,
        };
        if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          const mix = report.rwmixread !== undefined ? `, ${report.rwmixread}% reads` : '';
          const digests = [o.hdgst ? 'header' : '', o.ddgst ? 'data' : ''].filter(Boolean).join(' and ') || 'no';
          process.stdout.write(
            `${o.target}: ${bdev.sizeBytes} bytes in ${bdev.blockSize}-byte blocks\n` +
              `${o.workload}${mix}, ${o.ioSize} bytes, queue depth ${o.queueDepth} per core, ${o.time} s, ${digests} digests\n\n${table(report)}\n` +
              (result.errors ? `\n${result.errors} I/O errors\n` : ''),
          );
        }
        if (result.errors > 0) process.exitCode = 1;
        await bdev.destroy();
      } finally {
        await engine.stop();
      }
    });
}
