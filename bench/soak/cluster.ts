// The soak's cluster on this machine: a control plane process (embedded store) and N
// daemon processes, every one a real `nodestor` process logging into the workdir. Each
// daemon's pool sits on an error bdev over a uring file (made by its start-up config, so a
// restart makes it again) so that disk faults can be injected under the pool. Each
// daemon's replica listener is advertised through a fault proxy in this process, so every
// nexus-to-replica connection crosses one; hosts reach each volume's target through
// another. Ports stay the same across restarts; stop() kills every process and removes
// the workdir.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, readdirSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '../../src/control/client.js';
import { RpcClient } from '../../src/rpc/client.js';
import { FaultProxy } from '../fault-proxy.js';
import { freePort } from '../processes.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Each pool's file; thin replicas keep it mostly sparse. */
const DISK_BYTES = 192 << 20;
export const ERROR_BDEV = 'EE_disk';

export interface SoakNode {
  name: string;
  socket: string;
  log: string;
  replicaPort: number;
  targetPort: number;
  /** In front of the replica listener: what the node advertises. */
  replicaProxy: FaultProxy;
  labels: Record<string, string>;
  child?: ChildProcess;
}

export class SoakCluster {
  readonly nodes: SoakNode[] = [];
  readonly #workdir: string;
  readonly #digests: boolean;
  #controlPort = 0;
  #control?: ChildProcess;
  api!: ControlClient;

  constructor(workdir: string, options: { digests: boolean }) {
    this.#workdir = workdir;
    this.#digests = options.digests;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#controlPort}`;
  }

  static async start(workdir: string, nodeLabels: Record<string, string>[], options: { digests: boolean }): Promise<SoakCluster> {
    mkdirSync(workdir, { recursive: true });
    const cluster = new SoakCluster(workdir, options);
    try {
      cluster.#controlPort = await freePort();
      cluster.api = new ControlClient(cluster.url, { timeoutMs: 30_000 });
      await cluster.startControl();
      for (const [i, labels] of nodeLabels.entries()) {
        const name = `node-${i}`;
        const replicaPort = await freePort();
        const disk = join(workdir, `${name}.img`);
        writeFileSync(disk, '');
        truncateSync(disk, DISK_BYTES);
        const config = { subsystems: [{ subsystem: 'bdev', config: [{ method: 'bdev_uring_create', params: { name: 'disk', filename: disk } }, { method: 'bdev_error_create', params: { base_name: 'disk' } }] }] };
        writeFileSync(join(workdir, `${name}.json`), JSON.stringify(config));
        cluster.nodes.push({
          name,
          socket: join(workdir, `${name}.sock`),
          log: join(workdir, `${name}.log`),
          replicaPort,
          targetPort: await freePort(),
          replicaProxy: await FaultProxy.start({ host: '127.0.0.1', port: replicaPort }),
          labels,
        });
      }
      await Promise.all(cluster.nodes.map((n) => cluster.startNode(n)));
      await cluster.until('every node Online', async () => {
        const listed = await cluster.api.request<{ name: string; status: string }[]>('GET', '/v0/nodes');
        return cluster.nodes.every((n) => listed.some((m) => m.name === n.name && m.status === 'Online'));
      }, 60_000);
      for (const n of cluster.nodes) await cluster.api.request('POST', `/v0/nodes/${n.name}/pools`, { name: 'pool', disk: `bdev:///${ERROR_BDEV}` });
    } catch (error) {
      await cluster.stop(); // nothing it started outlives a failed start
      throw error;
    }
    return cluster;
  }

  node(name: string): SoakNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  async startControl(): Promise<void> {
    const log = join(this.#workdir, 'control.log');
    const args = ['control', '--store', `embedded:${join(this.#workdir, 'control')}`, '--listen', `127.0.0.1:${this.#controlPort}`];
    args.push('--node-ttl-ms', '2000', '--reconcile-ms', '500', '--garbage-grace-ms', '2000', ...(this.#digests ? ['--child-digests'] : []));
    this.#control = this.#spawn(args, log);
    await this.#ready(this.#control, log, '"msg":"control plane ready"');
  }

  async stopControl(signal: NodeJS.Signals): Promise<void> {
    await stopProcess(this.#control, signal);
    this.#control = undefined;
  }

  async startNode(node: SoakNode): Promise<void> {
    const args = ['daemon', '--node', node.name, '--memory-mb', '160', '--hugepages', 'off', '--idle', 'adaptive', '--rpc', node.socket];
    args.push('--data-dir', join(this.#workdir, node.name), '--config', join(this.#workdir, `${node.name}.json`), '--control', this.url);
    args.push('--replica-listener', `127.0.0.1:${node.replicaPort}`, '--advertise-replica-listener', `127.0.0.1:${node.replicaProxy.port}`);
    args.push('--target-port', String(node.targetPort), ...Object.entries(node.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]));
    node.child = this.#spawn(args, node.log);
    await this.#ready(node.child, node.log, '"msg":"daemon ready"');
  }

  async stopNode(node: SoakNode, signal: NodeJS.Signals): Promise<void> {
    await stopProcess(node.child, signal);
    node.child = undefined;
  }

  /** One RPC call to a node's daemon (a fresh connection: the daemon may have restarted). */
  async rpc<T>(node: SoakNode, method: string, params?: Record<string, unknown>): Promise<T> {
    const client = await RpcClient.connect({ socketPath: node.socket, timeoutMs: 30_000 });
    try {
      return await client.call<T>(method, params);
    } finally {
      client.close();
    }
  }

  async until<T>(what: string, probe: () => Promise<T | undefined | false>, ms: number): Promise<T> {
    const end = Date.now() + ms;
    let last = '';
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined && value !== false) return value;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last: ${last})` : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills every process and removes the workdir; the logs are copied to `keepLogs` first if given. */
  async stop(keepLogs?: string): Promise<void> {
    await Promise.all(this.nodes.map((n) => stopProcess(n.child, 'SIGKILL')));
    await stopProcess(this.#control, 'SIGKILL');
    for (const n of this.nodes) await n.replicaProxy.stop();
    if (keepLogs) {
      mkdirSync(keepLogs, { recursive: true });
      for (const file of readdirSync(this.#workdir).filter((f) => f.endsWith('.log'))) copyFileSync(join(this.#workdir, file), join(keepLogs, file));
    }
    rmSync(this.#workdir, { recursive: true, force: true });
  }

  #spawn(args: string[], log: string): ChildProcess {
    const fd = openSync(log, 'a');
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    return child;
  }

  /** Waits for `line` in the log written since the process started (or its early exit). */
  async #ready(child: ChildProcess, log: string, line: string): Promise<void> {
    const from = existsSync(log) ? readFileSync(log).length : 0;
    const started = Date.now();
    for (;;) {
      const text = existsSync(log) ? readFileSync(log, 'utf8').slice(from) : '';
      if (text.includes(line)) return;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() - started > 30_000)
        throw new Error(`${log}: ${child.exitCode !== null ? 'exited' : 'not ready in 30 s'}\n${text.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
