// A real Prometheus server (Debian's `prometheus`; scripts/setup.mjs installs it) on a
// loopback port with a temporary data directory, scraping the given targets every second.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killAndRemove } from '../../helpers/multi-process.js';

export interface PrometheusServer {
  url: string;
  /** An instant query; the vector's samples as { labels, value }. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[]): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nodestor-prometheus-'));
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: nodestor\n    static_configs:\n      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]\n`);
  const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => killAndRemove(child, dir);
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) {
        return {
          url,
          stop,
          async query(expr) {
            const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
            const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
            if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
            return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
          },
        };
      }
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`prometheus did not start on ${url}:\n${err}`);
}
