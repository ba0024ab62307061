// A control plane in this process (embedded store in a temporary directory, or a given
// store) and real `nodestor daemon` processes registered with it, each with a pool on its
// own file. Ports are free ones the system picks (kept for a node's restart). Only one such
// cluster runs at a time on the machine (lockClusters): several daemons per test file on
// two cores are enough. Everything is stopped and removed by teardown(), pass or fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ControlClient } from '../../../src/control/client.js';
import { ControlPlane, type ControlPlaneOptions } from '../../../src/control/control-plane.js';
import type { VolumeView } from '../../../src/control/services/volumes.js';
import { Engine } from '../../../src/index.js';
import type { WriteRun } from '../../cluster/helpers/workload.js';
import { cleanup, connect, spawnDaemon, tempDir, type DaemonProcess } from '../../daemon/helpers/daemon.js';
import { freePort, lockClusters } from '../../helpers/multi-process.js';

export interface ClusterNode {
  name: string;
  dir: string;
  process: DaemonProcess;
  replicaPort: number;
  targetPort: number;
  disk: string;
}

export interface PlaneProcess {
  child: ChildProcess;
  exited: Promise<unknown>;
  stderr: () => string;
  url: string;
}

const CLI = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));

export class ControlCluster {
  readonly dir = tempDir();
  plane!: ControlPlane;
  api!: ControlClient;
  url = '';
  planeProcess: PlaneProcess | undefined;
  readonly planes: PlaneProcess[] = [];
  #planePorts: number[] = []; // the same after a restart
  readonly nodes = new Map<string, ClusterNode>();
  readonly lines: Record<string, unknown>[] = [];

  async startPlane(options: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
    const logger = pino({ level: 'info' }, { write: (line: string) => this.lines.push(JSON.parse(line)) });
    this.plane = await ControlPlane.start({
      store: `embedded:${join(this.dir, 'store')}`,
      listen: { host: '127.0.0.1', port: 0 },
      nodeTtlMs: 2_000,
      reconcileMs: 500,
      garbageGraceMs: 1_000,
      logger,
      ...options,
    });
    this.url = this.plane.url;
    this.api = new ControlClient(this.url);
    return this.plane;
  }

  /** `nodestor control` as a process on a fixed port (the same after a restart). */
  async startPlaneProcess(env: Record<string, string> = {}, options: { store?: string; slot?: number } = {}): Promise<PlaneProcess> {
    const slot = options.slot ?? 0;
    const port = this.#planePorts[slot] ?? (this.#planePorts[slot] = await freePort());
    const store = options.store ?? `embedded:${join(this.dir, 'store')}`;
    const child = spawn(
      process.execPath,
      [CLI, 'control', '--store', store, '--listen', `127.0.0.1:${port}`, '--node-ttl-ms', '2000', '--reconcile-ms', '500', '--garbage-grace-ms', '1000', '--election-ttl-ms', '2000'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
    );
    let err = '';
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const plane: PlaneProcess = { child, exited, stderr: () => err, url: `http://127.0.0.1:${port}` };
    this.planes.push(plane);
    if ((options.slot ?? 0) === 0) this.planeProcess = plane;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`control plane did not start:\n${err}`)), 20_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (err.includes('"msg":"control plane ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`control plane exited:\n${err}`)));
    });
    if ((options.slot ?? 0) === 0) {
      this.url = plane.url;
      this.api = new ControlClient(this.url);
    }
    return plane;
  }

  async stopPlaneProcess(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.planeProcess;
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    await p.exited;
  }

  /** Starts (or restarts, same ports and disk) node `index` as a daemon process. */
  async startNode(index: number, options: { labels?: Record<string, string>; diskBytes?: number; extra?: string[] } = {}): Promise<ClusterNode> {
    const name = `node-${index}`;
    const existing = this.nodes.get(name);
    const replicaPort = existing?.replicaPort ?? (await freePort());
    const targetPort = existing?.targetPort ?? (await freePort());
    const disk = existing?.disk ?? join(this.dir, `${name}.img`);
    if (!existing) writeFileSync(disk, Buffer.alloc(options.diskBytes ?? 96 << 20));
    const labels = Object.entries(options.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const process = await spawnDaemon(name, this.dir, [
      '--control', this.url,
      '--replica-listener', `127.0.0.1:${replicaPort}`,
      '--target-port', String(targetPort),
      ...labels,
      ...(options.extra ?? []),
    ]);
    const node = { name, dir: this.dir, process, replicaPort, targetPort, disk };
    this.nodes.set(name, node);
    return node;
  }

  async createPool(node: string, name = 'pool'): Promise<unknown> {
    return this.api.request('POST', `/v0/nodes/${node}/pools`, { name, disk: `uring://${this.nodes.get(node)!.disk}` });
  }

  kill(node: string): Promise<number | string> {
    const n = this.nodes.get(node)!;
    n.process.child.kill('SIGKILL');
    return n.process.exited;
  }

  async teardown(): Promise<void> {
    await this.plane?.stop().catch(() => undefined);
    for (const p of this.planes.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
    await cleanup();
  }
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SHA-256 of each replica of a volume, read over NVMe/TCP after its target is gone. */
export async function replicaHashes(
  cluster: ControlCluster,
  host: Engine,
  volume: { replicaSet: { uuid?: string; node: string; name: string }[] },
  sizeBytes: number,
): Promise<Map<string, string>> {
  const hostNqn = 'nqn.2019-05.io.nodestor:test-verifier';
  const out = new Map<string, string>();
  for (const r of volume.replicaSet) {
    const rpc = await connect(cluster.nodes.get(r.node)!.process.socket);
    const uri = await rpc.call<string>('replica_share', { uuid: r.uuid, allowed_hosts: [hostNqn] });
    const nqn = `nqn.2019-05.io.nodestor:${r.uuid}`;
    await rpc.call('nvmf_subsystem_add_host', { nqn, host: hostNqn }).catch(() => undefined);
    const bdev = await host.createBdev(`${uri}?hostnqn=${encodeURIComponent(hostNqn)}&name=check-${r.name}`);
    const hash = createHash('sha256');
    for (let offset = 0; offset < sizeBytes; offset += 1 << 20) hash.update(await bdev.read(offset, 1 << 20));
    out.set(r.node, hash.digest('hex'));
    await bdev.destroy();
  }
  return out;
}

/**
 * A test file's clusters: the lock (one multi-process file at a time), and after each test
 * the writes, the host engine and the cluster it used are stopped, pass or fail.
 */
export function clusterSession() {
  const session = {
    cluster: undefined as ControlCluster | undefined,
    host: undefined as Engine | undefined,
    writes: undefined as WriteRun | undefined,
    /**
     * A control plane (in this process unless `plane` starts one) and `nodes` daemons, each
     * Online, with a pool named 'pool' unless `pools: false`.
     */
    async start(nodes: number, options: { plane?: (c: ControlCluster) => Promise<unknown>; pools?: boolean } = {}): Promise<ControlCluster> {
      const c = (session.cluster = new ControlCluster());
      await (options.plane ? options.plane(c) : c.startPlane());
      await Promise.all([...Array(nodes).keys()].map((i) => c.startNode(i)));
      await until('nodes online', async () => (await c.api.request<{ status: string }[]>('GET', '/v0/nodes')).filter((n) => n.status === 'Online').length === nodes);
      if (options.pools ?? true) for (let i = 0; i < nodes; i++) await c.createPool(`node-${i}`);
      return c;
    },
    async hostEngine(): Promise<Engine> {
      return (session.host ??= await Engine.start({ memoryMb: 128, hugepages: 'off', idle: 'adaptive' }));
    },
  };
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await lockClusters();
  }, 900_000);
  afterAll(() => release?.());
  afterEach(async () => {
    await session.writes?.stop(); // a failed test leaves its writes running
    session.writes = undefined;
    await session.host?.stop();
    session.host = undefined;
    await session.cluster?.teardown();
    session.cluster = undefined;
  });
  return session;
}

/** A volume as the REST API answers it. */
export type Volume = VolumeView;
