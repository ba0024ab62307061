// `nodestor perf` against our own NVMe/TCP target (an engine in this process, a malloc
// namespace): its own engine in a child process connects, runs each workload, and reports
// figures that hang together; with a data-integrity-neutral workload the target's namespace
// counted exactly the I/O reported. Bad targets end with a clear error and exit code.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type Bdev } from '../../src/index.js';
import type { PerfReport } from '../../src/cli/perf.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const NQN = 'nqn.2026-12.io.nodestor:perf-test';
let target: Engine;
let namespace: Bdev;
let uri = '';

beforeAll(async () => {
  target = await Engine.start({ cores: [0], memoryMb: 128, hugepages: 'off', idle: 'adaptive' });
  namespace = await target.createBdev('malloc:///perf?size_mb=64&blk_size=4096');
  const sub = await target.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
  await sub.addNamespace(namespace.name);
  const { port } = await sub.addListener({ address: '127.0.0.1', port: 0 });
  uri = `nvmf://127.0.0.1:${port}/${NQN}`;
});
afterAll(async () => {
  await target?.stop();
});

function perf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'perf', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('nodestor perf', () => {
  it('reports IOPS, MiB/s and a latency distribution that agree with each other and with the target', () => {
    for (const [workload, extra] of [
      ['randread', []],
      ['randwrite', ['--hdgst', '--ddgst']],
      ['rw', ['-M', '70']],
    ] as const) {
      const before = namespace.stats();
      const r = perf('--target', uri, '-w', workload, '-q', '16', '-o', '4096', '-t', '1', '--cores', '1', '--memory-mb', '64', '--json', ...extra);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as PerfReport;
      const { result } = report;
      expect(report).toMatchObject({ workload, blockSize: 4096, queueDepth: 16, namespace: { blockSize: 4096, sizeBytes: 64 << 20 } });
      expect(report.digests).toEqual({ header: extra.includes('--hdgst' as never), data: extra.includes('--ddgst' as never) });
      expect(result.errors).toBe(0);
      expect(result.ios).toBeGreaterThan(1000);
      expect(result.iops).toBeCloseTo(result.ios / result.seconds, -1);
      expect(result.mibps).toBeCloseTo((result.iops * 4096) / (1 << 20), 0);
      const l = result.latencyUs;
      expect(l.p50).toBeGreaterThan(0);
      expect(l.p50).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.p999);
      expect(l.p999).toBeLessThanOrEqual(l.max * 1.07); // ~6% histogram resolution
      expect(l.avg).toBeLessThanOrEqual(l.max);
      // The target saw at least every I/O the host counted as done (the host stops
      // counting at the deadline; I/Os in flight then still arrive).
      const after = namespace.stats();
      const seen = after.readOps - before.readOps + (after.writeOps - before.writeOps);
      expect(seen).toBeGreaterThanOrEqual(result.ios);
      expect(seen).toBeLessThanOrEqual(result.ios + 16);
      if (workload === 'randread') expect(after.writeOps).toBe(before.writeOps);
      if (workload === 'rw') {
        const reads = after.readOps - before.readOps;
        expect(reads / seen).toBeGreaterThan(0.6);
        expect(reads / seen).toBeLessThan(0.8);
      }
    }
    const text = perf('--target', uri, '-t', '1', '--cores', '1', '--memory-mb', '64');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/randread, 4096 bytes, queue depth 32 per core, 1 s, no digests\n\n +IOPS +MiB\/s +avg us +p50 us +p99 us +p99\.9 us +max us\ncore 1 .*\ntotal +[\d,.]+ /);
  });

  it('refuses a target that is not there, or not a URI, with a clear line and its exit code', () => {
    const missing = perf('--target', `${uri.replace(NQN, 'nqn.2026-12.io.nodestor:nobody')}`, '-t', '1', '--cores', '1', '--memory-mb', '64');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^nodestor: E[A-Z]+: /);
    expect(missing.stderr).not.toMatch(/\n {4}at /);
    const notUri = perf('--target', 'http://example', '-t', '1');
    expect(notUri).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nodestor: --target: an nvmf:\/\/ URI, got 'http:\/\/example'\n/) });
    const badDepth = perf('--target', uri, '-q', '0');
    expect(badDepth.code).toBe(2);
    expect(badDepth.stderr).toMatch(/--queue-depth: a whole number from 1 to 4096/);
  });
});
