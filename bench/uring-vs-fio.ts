// `npm run bench -- uring-vs-fio`: 4 KiB random reads, O_DIRECT, queue depth 32, one core,
// on the same file in the same run: fio (--ioengine=io_uring --direct=1) and nodestor's
// uring bdev (engine.bench, poll and adaptive reactors). Prints JSON with the ratio.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { Engine } from '../src/index.js';
import { publish } from './report.js';

export interface UringVsFioOptions {
  file: string;
  sizeMb: number;
  seconds: number;
  queueDepth: number;
  core: number;
  out: string;
}

function ensureFile(path: string, sizeMb: number): void {
  if (existsSync(path) && statSync(path).size >= sizeMb << 20) return;
  // Real data, not a sparse file: reads of holes never reach the disk.
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < sizeMb; i++) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
}

function runFio(o: UringVsFioOptions): { iops: number; p99Us: number; version: string } {
  const version = execFileSync('fio', ['--version'], { encoding: 'utf8' }).trim();
  const result = spawnSync(
    'fio',
    [
      '--name=randread', `--filename=${o.file}`, '--ioengine=io_uring', '--direct=1', '--rw=randread', '--bs=4k',
      `--iodepth=${o.queueDepth}`, `--runtime=${o.seconds}`, '--time_based', '--numjobs=1', `--cpus_allowed=${o.core}`,
      `--size=${o.sizeMb}m`, '--output-format=json',
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`fio failed: ${result.stderr}`);
  const read = JSON.parse(result.stdout).jobs[0].read;
  return { iops: Math.round(read.iops), p99Us: read.clat_ns.percentile['99.000000'] / 1000, version };
}

async function runNodestor(o: UringVsFioOptions, idle: 'poll' | 'adaptive') {
  const engine = await Engine.start({ cores: [o.core], memoryMb: 256, hugepages: 'auto', idle });
  try {
    const bdev = await engine.createBdev(`uring://${o.file}?blk_size=4096&name=file`);
    const r = await engine.bench({ bdev, workload: 'randread', blockSize: 4096, queueDepth: o.queueDepth, seconds: o.seconds });
    return { iops: r.iops, p99Us: Number(r.latencyUs.p99.toFixed(1)), errors: r.errors };
  } finally {
    await engine.stop();
  }
}

/** fio, which only this benchmark uses: installed here (as root, from Debian), or named. */
function ensureFio(): void {
  if (spawnSync('fio', ['--version']).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error('this benchmark compares against fio, which is not installed: apt-get install -y fio');
  process.stderr.write('installing fio (apt-get install -y fio)\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (spawnSync('apt-get', ['install', '-y', '-qq', 'fio'], { stdio: 'inherit', env }).status !== 0)
    throw new Error('apt-get install -y fio failed (see above)');
}

export async function uringVsFio(o: UringVsFioOptions): Promise<void> {
  ensureFio();
  ensureFile(o.file, o.sizeMb);
  // The virtual disk's speed drifts between runs: alternate the contenders over three
  // rounds and compare the best of each.
  const fioRuns: ReturnType<typeof runFio>[] = [];
  const pollRuns: Awaited<ReturnType<typeof runNodestor>>[] = [];
  const adaptiveRuns: Awaited<ReturnType<typeof runNodestor>>[] = [];
  for (let round = 1; round <= 3; round++) {
    process.stderr.write(`round ${round}: fio, nodestor poll, nodestor adaptive\n`);
    fioRuns.push(runFio(o));
    pollRuns.push(await runNodestor(o, 'poll'));
    adaptiveRuns.push(await runNodestor(o, 'adaptive'));
  }
  const best = <T extends { iops: number }>(runs: T[]) => runs.reduce((a, b) => (b.iops > a.iops ? b : a));
  const fio = { ...best(fioRuns), runs: fioRuns.map((r) => r.iops) };
  const poll = { ...best(pollRuns), runs: pollRuns.map((r) => r.iops) };
  const adaptive = { ...best(adaptiveRuns), runs: adaptiveRuns.map((r) => r.iops) };
  const output = {
    benchmark: 'uring-vs-fio',
    setup: {
      file: o.file,
      sizeMb: o.sizeMb,
      blockSize: 4096,
      queueDepth: o.queueDepth,
      seconds: o.seconds,
      core: o.core,
      fio: `${fio.version} --ioengine=io_uring --direct=1 --rw=randread --bs=4k --numjobs=1`,
      nodestor: 'uring bdev, engine.bench randread, one reactor',
      method: 'three alternating rounds (fio, poll, adaptive); best of each',
    },
    date: new Date().toISOString(),
    fio,
    nodestor: { poll, adaptive },
    ratio: { poll: Number((poll.iops / fio.iops).toFixed(3)), adaptive: Number((adaptive.iops / fio.iops).toFixed(3)) },
  };
  publish(o.out, 'uring-vs-fio', output);
}
