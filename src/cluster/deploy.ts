// `nodestor up` brings a cluster up on this machine from its variables file: a control
// plane and one daemon per node (detached processes, logging into the workdir), the pools
// and the published volumes. Everything it makes is written into <workdir>/state.json as
// it goes, so `nodestor down` (even after an `up` that failed half way) stops every process
// and removes every file and socket it made.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../bench/processes.js';
import { ControlClient } from '../control/client.js';
import type { ClusterSpec } from './spec.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface ClusterState {
  name: string;
  workdir: string;
  control?: { pid: number; url: string };
  nodes: { name: string; pid: number; socket: string }[];
  /** Pool files made outside the workdir. */
  files: string[];
  volumes: { name: string; uri: string }[];
}

/** Bringing the cluster up failed (nodestor down removes what was made). */
export class ClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterError';
  }
}

const statePath = (workdir: string) => join(workdir, 'state.json');

export function readState(workdir: string): ClusterState | undefined {
  return existsSync(statePath(workdir)) ? (JSON.parse(readFileSync(statePath(workdir), 'utf8')) as ClusterState) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number, log?: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) {
      const tail = log && existsSync(log) ? `\n--- ${log} (end) ---\n${readFileSync(log, 'utf8').slice(-2000)}` : '';
      throw new ClusterError(`timed out after ${ms} ms waiting for ${what}${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A detached `nodestor` process logging to `log`; it outlives this one. */
function start(args: string[], log: string): number {
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [CLI, ...args], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new ClusterError(`could not start nodestor ${args[0]}`);
  return child.pid;
}

export async function up(spec: ClusterSpec, say: (line: string) => void): Promise<ClusterState> {
  const previous = readState(spec.workdir);
  if (previous && [previous.control?.pid, ...previous.nodes.map((n) => n.pid)].some((pid) => pid !== undefined && alive(pid)))
    throw new ClusterError(`cluster ${spec.name} is already up (${statePath(spec.workdir)}): run nodestor down first`);
  mkdirSync(spec.workdir, { recursive: true });
  const state: ClusterState = { name: spec.name, workdir: spec.workdir, nodes: [], files: [], volumes: [] };
  const save = () => writeFileSync(statePath(spec.workdir), JSON.stringify(state, null, 2));
  save();

  const controlPort = await freePort();
  const controlLog = join(spec.workdir, 'control.log');
  state.control = { pid: start(['control', '--store', `embedded:${join(spec.workdir, 'control')}`, '--listen', `127.0.0.1:${controlPort}`], controlLog), url: `http://127.0.0.1:${controlPort}` };
  save();
  const api = new ControlClient(state.control.url, { timeoutMs: 60_000 });
  await until('the control plane', () => api.request('GET', '/v0/nodes'), 30_000, controlLog);
  say(`control plane at ${state.control.url}`);

  for (const node of spec.nodes) {
    const socket = join(spec.workdir, `${node.name}.sock`);
    const log = join(spec.workdir, `${node.name}.log`);
    const labels = Object.entries(node.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const args = ['daemon', '--node', node.name, '--cores', node.cores.join(','), '--memory-mb', String(node.memoryMb), '--idle', 'adaptive', '--rpc', socket, '--data-dir', join(spec.workdir, node.name)];
    args.push('--control', state.control.url, '--replica-listener', `127.0.0.1:${await freePort()}`, '--target-port', String(await freePort()), ...labels);
    state.nodes.push({ name: node.name, pid: start(args, log), socket });
    save();
  }
  await until(
    `nodes ${spec.nodes.map((n) => n.name).join(', ')} Online`,
    async () => {
      const nodes = await api.request<{ name: string; status: string }[]>('GET', '/v0/nodes');
      return spec.nodes.every((n) => nodes.some((m) => m.name === n.name && m.status === 'Online')) ? true : undefined;
    },
    60_000,
    join(spec.workdir, `${spec.nodes.at(-1)!.name}.log`),
  );
  say(`nodes ${spec.nodes.map((n) => n.name).join(', ')} Online`);

  for (const pool of spec.pools) {
    let disk: string;
    if (pool.file) {
      if (!pool.file.path.startsWith(spec.workdir)) state.files.push(pool.file.path);
      save();
      writeFileSync(pool.file.path, '');
      truncateSync(pool.file.path, pool.file.sizeMb * (1 << 20));
      disk = `uring://${pool.file.path}`;
    } else disk = `uring://${pool.device!}`;
    await api.request('POST', `/v0/nodes/${pool.node}/pools`, { name: pool.name, disk });
    say(`pool ${pool.node}/${pool.name} on ${disk}`);
  }
  for (const volume of spec.volumes) {
    await api.request('POST', '/v0/volumes', { name: volume.name, sizeBytes: volume.sizeBytes, replicas: volume.replicas, thin: volume.thin });
    const published = await api.request<{ state: { target?: { uri?: string } }; spec: { target?: { uri?: string } } }>('PUT', `/v0/volumes/${volume.name}/target`, volume.publishOn ? { node: volume.publishOn } : {});
    const uri = published.state.target?.uri ?? published.spec.target?.uri ?? '';
    state.volumes.push({ name: volume.name, uri });
    save();
    say(`volume ${volume.name}: ${volume.replicas} replica(s), published at ${uri}`);
  }
  return state;
}

/** Stops what `up` started (SIGTERM, then SIGKILL after 10 s) and removes what it made. */
export async function down(workdir: string, say: (line: string) => void): Promise<{ stopped: number; removed: string[] }> {
  const state = readState(workdir);
  if (!state) {
    say(`nothing to do: no ${statePath(workdir)}`);
    return { stopped: 0, removed: [] };
  }
  const pids = [...state.nodes.map((n) => ({ what: `node ${n.name}`, pid: n.pid })), ...(state.control ? [{ what: 'control plane', pid: state.control.pid }] : [])];
  // The daemons together (each stops its own nexuses and replicas cleanly), then the plane.
  let stopped = 0;
  const stop = async ({ what, pid }: { what: string; pid: number }) => {
    if (!alive(pid)) return;
    const t0 = Date.now();
    process.kill(pid, 'SIGTERM');
    while (alive(pid) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    const killed = alive(pid);
    if (killed) {
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
    }
    stopped++;
    say(`stopped ${what} (pid ${pid}) in ${Date.now() - t0} ms${killed ? ', with SIGKILL after 10 s' : ''}`);
  };
  await Promise.all(pids.filter((p) => p.what !== 'control plane').map(stop));
  for (const p of pids.filter((p) => p.what === 'control plane')) await stop(p);
  const removed = [...state.files, workdir];
  for (const path of removed) rmSync(path, { recursive: true, force: true });
  say(`removed ${removed.join(', ')}`);
  return { stopped, removed };
}
