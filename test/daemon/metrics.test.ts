// The daemon's /metrics: values read from the engine's statistics match the I/O the test
// did exactly (ops, bytes, the latency histogram's count, NVMe-oF errors), pool and
// replica sizes match the SDK's, and `promtool check metrics` accepts the output. Then a
// real Prometheus scrapes the daemon and a control plane, and every query of the Grafana
// dashboard runs against it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control/control-plane.js';
import { cleanup, inProcessDaemon, memoryLogger } from './helpers/daemon.js';
import { startPrometheus } from './helpers/prometheus.js';

type Setup = Awaited<ReturnType<typeof inProcessDaemon>>;
let s: Setup;
beforeAll(async () => {
  s = await inProcessDaemon({ metrics: { host: '127.0.0.1', port: 0 } });
});
afterAll(cleanup);

const scrape = async (port: number) => parse(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());

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
    // engine.ioCounts() (one native call, what the bdev families are read from) agrees with each bdev's stats().
    const engine = s.daemon.context.engine;
    const counts = engine.ioCounts();
    expect(counts.map((c) => c.bdev).sort()).toEqual(engine.listBdevs().map((b) => b.name).sort());
    for (const { bdev, byType } of counts) {
      const stats = engine.getBdev(bdev)!.stats().byType;
      for (const [type, t] of Object.entries(byType)) expect(t, `${bdev} ${type}`).toEqual({ ops: stats[type as keyof typeof stats].ops, bytes: stats[type as keyof typeof stats].bytes, errors: stats[type as keyof typeof stats].errors });
    }

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

  it('counts NVMe-oF connections ended by a malformed PDU and hosts refused, by cause', async () => {
    const host = 'nqn.2019-05.io.nodestor:metrics-allowed';
    const shared = await s.client.call<{ uuid: string }>('replica_create', { pool: 'p0', name: 'shared', size_bytes: 1 << 20, share: false, thin: true });
    const uri = await s.client.call<string>('replica_share', { uuid: shared.uuid, allowed_hosts: [host] });
    const { hostname, port } = new URL(uri);
    const errors = async () => {
      const m = await scrape(s.daemon.metricsPort!);
      return Object.fromEntries(['protocol', 'header_digest', 'data_digest', 'host_refused'].map((k) => [k, m.get(`nodestor_nvmf_errors_total{node="test",kind="${k}"}`)]));
    };
    expect(await errors()).toEqual({ protocol: 0, header_digest: 0, data_digest: 0, host_refused: 0 });
    // A PDU of an unknown type: the target answers C2HTermReq and closes.
    await new Promise<void>((resolve, reject) => {
      const socket = connectTcp(Number(port), hostname, () => socket.write(Buffer.from([0x42, 0, 8, 0, 8, 0, 0, 0])));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    // A host not on the list is refused at Connect.
    await expect(s.daemon.context.engine.createBdev(`${uri}?hostnqn=${encodeURIComponent('nqn.2019-05.io.nodestor:stranger')}&name=stranger`)).rejects.toThrow();
    expect(await errors()).toEqual({ protocol: 1, header_digest: 0, data_digest: 0, host_refused: 1 });
    await s.client.call('replica_destroy', { uuid: shared.uuid });
  });

  it('a real Prometheus scraping the daemon and a control plane sees the counters grow by exactly the I/O done, and runs every dashboard query', async () => {
    const plane = await ControlPlane.start({ store: `embedded:${join(s.dir, 'control')}`, listen: { host: '127.0.0.1', port: 0 }, logger: memoryLogger().logger });
    const planeTarget = new URL(plane.url).host;
    const prometheus = await startPrometheus([`127.0.0.1:${s.daemon.metricsPort}`, planeTarget]);
    try {
      const nexus = s.daemon.context.engine.getNexus('vol')!;
      const value = (expr: string) => async () => (await prometheus.query(expr))[0]?.value;
      const writes = value('nodestor_volume_write_ops_total{volume="vol"}');
      const reads = value('nodestor_volume_read_ops_total{volume="vol"}');
      const [writesBefore, readsBefore] = [await until(writes), await until(reads)];
      // I/O while Prometheus scrapes: exactly 25 more writes and 12 more reads.
      for (let i = 0; i < 25; i++) await nexus.bdev.write(i * 4096, Buffer.alloc(4096, 0x42));
      for (let i = 0; i < 12; i++) await nexus.bdev.read(i * 4096, 4096);
      await until(async () => ((await writes()) === writesBefore + 25 && (await reads()) === readsBefore + 12 ? true : undefined));
      expect(await value('nodestor_volume_write_bytes_total{volume="vol"}')()).toBe((writesBefore + 25) * 4096);
      expect(await value('nodestor_volume_read_bytes_total{volume="vol"}')()).toBe(7 * 8192 + 12 * 4096);
      const pool = s.daemon.context.engine.getPool('p0')!;
      await pool.refresh();
      expect(await value('nodestor_pool_used_size_bytes{pool="p0"}')()).toBe(pool.usedBytes);
      // The histogram works in PromQL: a p99 under a second.
      const p99 = (await prometheus.query('histogram_quantile(0.99, nodestor_volume_write_latency_seconds_bucket{volume="vol"})'))[0]!.value;
      expect(p99).toBeGreaterThan(0);
      expect(p99).toBeLessThan(1);
      // The control plane is scraped too: its reconcile passes count up.
      expect(await until(async () => ((await value('nodestor_control_reconcile_passes_total')()) ?? 0) > 0 || undefined)).toBe(true);

      // Every query of the dashboard is valid PromQL, and every metric it names exists.
      const dashboard = JSON.parse(readFileSync(new URL('../../dashboards/nodestor.json', import.meta.url), 'utf8')) as {
        panels: { title: string; targets?: { expr: string }[] }[];
        templating: { list: { name: string; definition?: string }[] };
      };
      const expressions = [
        ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => t.expr)),
        ...dashboard.templating.list.flatMap((v) => (v.definition ? [/^label_values\((.*), \w+\)$/.exec(v.definition)![1]!] : [])),
      ];
      expect(expressions.length).toBeGreaterThan(20);
      const exposed = new Set([...(await fetchText(`http://127.0.0.1:${s.daemon.metricsPort}/metrics`)).matchAll(/^# TYPE (\S+)/gm), ...(await fetchText(`${plane.url}/metrics`)).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
      for (const expr of expressions) {
        for (const [, name] of expr.matchAll(/\b(nodestor_[a-z_]+?)(?:_bucket)?\b/g)) expect(exposed, `${name} in ${expr}`).toContain(name!);
        const query = expr.replaceAll('$__rate_interval', '1m').replace(/\$(node|pool|volume)/g, '.*');
        await prometheus.query(query); // throws unless Prometheus answers success
      }
      // A panel that must show data here does: volume IOPS for 'vol'.
      const iops = dashboard.panels.find((p) => p.title === 'Volume IOPS')!.targets![1]!.expr.replaceAll('$__rate_interval', '1m').replace(/\$(node|pool|volume)/g, '.*');
      expect((await prometheus.query(iops)).map((r) => r.metric.volume)).toEqual(['vol']);
    } finally {
      await prometheus.stop();
      await plane.stop();
    }
  });
});

async function fetchText(url: string): Promise<string> {
  return (await fetch(url)).text();
}

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
