// `npm run bench -- metrics`: what the daemon's /metrics costs.
//  1. Scrape time of a daemon holding about 1,000 bdevs (1,000 thin replicas in one pool,
//     plus the pool's disk, three malloc children and a nexus), scraped one after another.
//  2. 4 KiB random reads through the nexus (engine.bench, QD 32) in alternating windows:
//     without scraping, then with /metrics fetched every second, and so on.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Daemon } from '../src/daemon/daemon.js';
import { RpcClient } from '../src/rpc/client.js';
import { machine, msStats, progressBar, publish } from './report.js';
import { lineChart } from './svg.js';

export interface MetricsBenchOptions {
  bdevs: number;
  scrapes: number;
  rounds: number;
  seconds: number;
  core: number;
  out: string;
}

/** One GET over a fresh connection, as Prometheus makes it; the body's bytes, not decoded. */
function scrapeOnce(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export async function metricsBench(o: MetricsBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nodestor-bench-metrics-'));
  const disk = join(dir, 'pool.img');
  writeFileSync(disk, '');
  // The daemon's own code, as `nodestor daemon --metrics` runs it.
  const daemon = await Daemon.start({
    node: 'bench',
    cores: [o.core],
    memoryMb: 768,
    hugepages: 'auto',
    idle: 'poll',
    rpcSocket: join(dir, 'rpc.sock'),
    dataDir: dir,
    replicaListener: { address: '127.0.0.1', port: 0 },
    metrics: { host: '127.0.0.1', port: 0 },
    logger: pino({ level: 'silent' }),
  });
  const rpc = await RpcClient.connect({ socketPath: daemon.socketPath });
  const url = `http://127.0.0.1:${daemon.metricsPort}/metrics`;
  try {
    // A sparse file holds the pool: 1 MiB clusters, one metadata page each, so it has room
    // for the replicas' metadata without the bytes.
    const clusters = o.bdevs + 512;
    truncateSync(disk, clusters * (1 << 20));
    await rpc.call('bdev_uring_create', { name: 'disk', filename: disk, block_size: 4096 });
    await rpc.call('pool_create', { name: 'p0', disk: 'disk', cluster_size_bytes: 1 << 20 });
    const made0 = performance.now();
    for (let i = 0; i < o.bdevs; i++) await rpc.call('replica_create', { pool: 'p0', name: `r${i}`, size_bytes: 1 << 20, thin: true, share: false });
    const madeMs = performance.now() - made0;
    for (let i = 0; i < 3; i++) await rpc.call('bdev_malloc_create', { name: `child${i}`, num_blocks: 32768, block_size: 4096 });
    await rpc.call('nexus_create', { name: 'vol', children: [0, 1, 2].map((i) => `bdev:///child${i}`) });
    const bdevCount = (await rpc.call<unknown[]>('bdev_get_bdevs')).length;
    process.stderr.write(`${bdevCount} bdevs (${o.bdevs} replicas made in ${Math.round(madeMs)} ms)\n`);

    // 1. Scrape time, one scrape after another.
    const scrapeMs: number[] = [];
    let text = '';
    for (let i = 0; i < o.scrapes + 3; i++) {
      const t0 = performance.now();
      const { status, body } = await scrapeOnce(url);
      // From the request to the last byte, as a scraper sees it (decoding is its own cost).
      if (i >= 3) scrapeMs.push(performance.now() - t0); // the first few warm the JIT
      text = body.toString();
      if (status !== 200) throw new Error(`/metrics answered ${status}: ${text}`);
    }
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    const scrape = { ...msStats(scrapeMs), bytes: Buffer.byteLength(text), samples };
    process.stderr.write(`scrape: median ${scrape.medianMs} ms, max ${scrape.maxMs} ms, ${samples} samples, ${scrape.bytes} bytes\n`);

    // 2. Reads through the nexus, alternating without and with a scrape every second.
    const nexus = daemon.context.engine.getNexus('vol')!;
    const rounds: { scraped: boolean; iops: number; scrapes: number }[] = [];
    const bar = progressBar(o.rounds * 2, 'reads, quiet and scraped');
    for (let round = 0; round < o.rounds * 2; round++) {
      const scraped = round % 2 === 1;
      let scrapes = 0;
      // Each scrape is awaited before the window's figures are taken (and before the
      // daemon stops): one left in flight would fail against a stopping server.
      const inFlight: Promise<void>[] = [];
      const timer = scraped
        ? setInterval(() => {
            inFlight.push(
              scrapeOnce(url).then(({ status }) => {
                if (status !== 200) throw new Error(`/metrics answered ${status} during the read window`);
                scrapes++;
              }),
            );
          }, 1000)
        : undefined;
      const result = await daemon.context.engine.bench({ bdev: nexus.bdev, workload: 'randread', blockSize: 4096, queueDepth: 32, seconds: o.seconds, cores: [o.core] });
      clearInterval(timer);
      await Promise.all(inFlight);
      rounds.push({ scraped, iops: result.iops, scrapes });
      bar.step(`round ${round}: ${scraped ? 'scraped' : 'quiet  '} ${result.iops.toLocaleString('en')} IOPS`);
    }
    bar.stop();
    const mean = (scraped: boolean) => Math.round(rounds.filter((r) => r.scraped === scraped).reduce((s, r) => s + r.iops, 0) / o.rounds);
    const quiet = mean(false), scraped = mean(true);
    const output = {
      benchmark: 'metrics',
      setup: `one daemon in this process: reactor on core ${o.core} (poll), the JavaScript thread (the HTTP server and the scrapes) unpinned; ${bdevCount} bdevs: ${o.bdevs} thin 1 MiB replicas in one pool on a sparse file (uring, 1 MiB clusters), 3 malloc children of 128 MiB and a nexus over them. Scrape: GET /metrics over loopback from this process (node:http, a new connection each, timed to the last byte), ${o.scrapes} in a row after 3 to warm up. Reads: engine.bench on the nexus, 4 KiB randread, QD 32, ${o.seconds} s windows alternating quiet and scraped every second, ${o.rounds} of each`,
      machine: machine(),
      date: new Date().toISOString(),
      bdevs: bdevCount,
      scrape,
      reads: { quietIops: quiet, scrapedIops: scraped, ratio: Number((scraped / quiet).toFixed(3)), rounds },
    };
    const series = [false, true].map((s) => ({
      name: s ? 'scraped every 1 s' : 'not scraped',
      points: rounds.filter((r) => r.scraped === s).map((r, i) => [i + 1, r.iops] as [number, number]),
    }));
    publish(o.out, 'metrics', output, { '': lineChart('4 KiB random reads through a nexus, with and without /metrics scrapes', 'round', 'IOPS', series, `${bdevCount} bdevs; scrape median ${scrape.medianMs} ms`) });
  } finally {
    rpc.close();
    try {
      await daemon.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
