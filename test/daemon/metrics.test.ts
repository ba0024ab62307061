// The daemon's /metrics: values read from the engine's statistics match the I/O the test
// did exactly (ops, bytes, the latency histogram's count), pool and replica sizes match
// the SDK's, and `promtool check metrics` accepts the output.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';
import { startPrometheus } from './helpers/prometheus.js';

type Setup = Awaited<ReturnType<typeof inProcessDaemon>>;
let s: Setup;
beforeAll(async () => {
  s = await inProcessDaemon({ metrics: { host: '127.0.0.1', port: 0 } });
});
afterAll(cleanup);

/** Parses the text exposition into `name{labels}` -> value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('daemon metrics', () => {
  it('counts exactly the I/O done, with pool and replica sizes, and passes promtool', async () => {
    const call = (m: string, p?: Record<string, unknown>) => s.client.call(m, p);
    await call('bdev_malloc_create', { name: 'M0', num_blocks: 8192, block_size: 4096 });
    await call('pool_create', { name: 'p0', disk: 'M0' });
    const r0 = await call('replica_create', { pool: 'p0', name: 'r0', size_bytes: 8 << 20, share: false }) as { uuid: string };
    await call('replica_create', { pool: 'p0', name: 'r1', size_bytes: 8 << 20, share: false, thin: true });
    await call('nexus_create', { name: 'vol', children: ['bdev:///p0/r0', 'bdev:///p0/r1'] });
    const nexus = s.daemon.context.engine.getNexus('vol')!;
    for (let i = 0; i < 10; i++) await nexus.bdev.write(i * 4096, Buffer.alloc(4096, i));
    for (let i = 0; i < 7; i++) await nexus.bdev.read(i * 8192, 8192);

    const response = await fetch(`http://127.0.0.1:${s.daemon.metricsPort}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const m = parse(text);
    const vol = 'node="test",volume="vol"';
    expect(m.get(`nodestor_volume_write_ops_total{${vol}}`)).toBe(10);
    expect(m.get(`nodestor_volume_write_bytes_total{${vol}}`)).toBe(40960);
    expect(m.get(`nodestor_volume_read_ops_total{${vol}}`)).toBe(7);
    expect(m.get(`nodestor_volume_read_bytes_total{${vol}}`)).toBe(7 * 8192);
    expect(m.get(`nodestor_volume_write_latency_seconds_count{${vol}}`)).toBe(10);
    expect(m.get(`nodestor_volume_write_latency_seconds_bucket{${vol},le="+Inf"}`)).toBe(10);
    const buckets = [...m.entries()].filter(([k]) => k.startsWith(`nodestor_volume_write_latency_seconds_bucket{${vol},le="`) && !k.includes('+Inf')).map(([, v]) => v);
    expect(buckets).toHaveLength(21);
    expect(buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!)).toBe(true);
    expect(buckets.at(-1)).toBe(10); // every write took under a second
    expect(m.get(`nodestor_volume_write_latency_seconds_sum{${vol}}`)).toBeGreaterThan(0);
    // Each child saw every write; the bdev metrics are per I/O type.
    expect(m.get('nodestor_bdev_ops_total{node="test",bdev="p0/r0",type="write"}')).toBe(10);
    expect(m.get(`nodestor_volume_child_state{${vol},child="bdev:///p0/r0",state="Online"}`)).toBe(1);

    const pool = s.daemon.context.engine.getPool('p0')!;
    await pool.refresh();
    expect(m.get('nodestor_pool_used_size_bytes{node="test",pool="p0"}')).toBe(pool.usedBytes);
    expect(m.get('nodestor_pool_total_size_bytes{node="test",pool="p0"}')).toBe(pool.totalBytes);
    expect(m.get('nodestor_pool_committed_size_bytes{node="test",pool="p0"}')).toBe(pool.committedBytes);
    expect(m.get(`nodestor_replica_size_bytes{node="test",pool="p0",replica="${r0.uuid}"}`)).toBe(8 << 20);
    expect(m.get('nodestor_dma_reserved_bytes{node="test"}')).toBeGreaterThan(0);
    expect(m.get('nodestor_reactor_busy_seconds_total{node="test",core="0"}')).toBeGreaterThan(0);

    // The exposition format is valid (promtool reads it on stdin; lint warnings are not errors).
    execFileSync('promtool', ['check', 'metrics'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
    expect((await fetch(`http://127.0.0.1:${s.daemon.metricsPort}/other`)).status).toBe(404);
  });

  it('a real Prometheus scraping every second sees the counters grow by exactly the I/O done, and the pool bytes', async () => {
    const prometheus = await startPrometheus([`127.0.0.1:${s.daemon.metricsPort}`]);
    try {
      const nexus = s.daemon.context.engine.getNexus('vol')!;
      const ops = async () => (await prometheus.query('nodestor_volume_write_ops_total{volume="vol"}'))[0]?.value;
      const before = await until(ops);
      // Writes while Prometheus scrapes: exactly 25 more.
      for (let i = 0; i < 25; i++) await nexus.bdev.write(i * 4096, Buffer.alloc(4096, 0x42));
      await until(async () => ((await ops()) === before + 25 ? true : undefined));
      const bytes = (await prometheus.query('nodestor_volume_write_bytes_total{volume="vol"}'))[0]!.value;
      expect(bytes).toBe((before + 25) * 4096);
      const pool = s.daemon.context.engine.getPool('p0')!;
      await pool.refresh();
      expect((await prometheus.query('nodestor_pool_used_size_bytes{pool="p0"}'))[0]!.value).toBe(pool.usedBytes);
      // The histogram works in PromQL: a p99 under a second.
      const p99 = (await prometheus.query('histogram_quantile(0.99, nodestor_volume_write_latency_seconds_bucket{volume="vol"})'))[0]!.value;
      expect(p99).toBeGreaterThan(0);
      expect(p99).toBeLessThan(1);
    } finally {
      await prometheus.stop();
    }
  });
});

/** Polls until `probe` gives a value (Prometheus scrapes every second). */
async function until<T>(probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('timed out waiting for Prometheus');
    await new Promise((r) => setTimeout(r, 200));
  }
}
