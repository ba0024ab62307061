// A real etcd server (Debian's etcd-server; scripts/setup.mjs installs it) on loopback
// ports with a temporary data directory, for the store suite and the control plane tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAndRemove } from '../../helpers/multi-process.js';

export interface EtcdServer {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nodestor-etcd-'));
  const client = 28000 + (process.pid % 1000) * 2; // 28000-29999: apart from the daemon tests' ports
  const peer = client + 1;
  const child: ChildProcess = spawn(
    'etcd',
    [
      '--name', 'test', '--data-dir', dir,
      '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `test=http://127.0.0.1:${peer}`, '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const endpoint = `127.0.0.1:${client}`;
  const stop = () => killAndRemove(child, dir);
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`http://${endpoint}/health`);
      if (res.ok && ((await res.json()) as { health: string }).health === 'true') return { endpoint, stop };
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`etcd did not start on ${endpoint}:\n${err}`);
}
