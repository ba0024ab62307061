// The variables file of `nodestor up` / `nodestor down`: nodes (daemons on this machine,
// each with its cores and memory), pools (files made at a size, or block devices), the
// volumes to create and publish, and the benchmark matrix. Read from YAML and checked in
// full, so a mistake is named (with its path in the file) before anything starts.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import type { BenchWorkload } from '../bench.js';

export interface ClusterNodeSpec {
  name: string;
  cores: number[];
  memoryMb: number;
  labels: Record<string, string>;
}
export interface ClusterPoolSpec {
  node: string;
  name: string;
  /** A file made at sizeMb (sparse; in the workdir unless a path is given), or an existing block device. */
  file?: { path: string; sizeMb: number };
  device?: string;
}
export interface ClusterVolumeSpec {
  name: string;
  sizeBytes: number;
  replicas: number;
  thin: boolean;
  /** The node its target runs on (default: the control plane picks one holding a replica). */
  publishOn?: string;
}
export interface BenchmarkMatrix {
  workloads: BenchWorkload[];
  blockSizes: number[];
  queueDepths: number[];
  seconds: number;
  rwmixread: number;
  /** Cores of the host engine that runs the I/O (in the `up` process). */
  hostCores: number[];
}
export interface ClusterSpec {
  name: string;
  /** Where state, sockets, logs and pool files go; `down` removes it. */
  workdir: string;
  nodes: ClusterNodeSpec[];
  pools: ClusterPoolSpec[];
  volumes: ClusterVolumeSpec[];
  benchmark?: BenchmarkMatrix;
}

export class ClusterSpecError extends RangeError {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ClusterSpecError';
  }
}

const NAME = /^[A-Za-z0-9._-]{1,63}$/;
const WORKLOADS = ['randread', 'randwrite', 'read', 'write', 'randrw', 'rw'];

function sizeBytes(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  const m = typeof value === 'string' ? /^(\d+)\s*(B|KiB|MiB|GiB|TiB)?$/i.exec(value.trim()) : null;
  if (!m) return undefined;
  const scale: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };
  return Number(m[1]) * scale[(m[2] ?? 'b').toLowerCase()]!;
}

/** Reads and checks `file`; relative paths in it are taken from the file's folder. */
export function readClusterSpec(file: string): ClusterSpec {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ClusterSpecError(file, (error as Error).message);
  }
  const fail = (path: string, what: string): never => {
    throw new ClusterSpecError(file, `${path}: ${what}`);
  };
  const base = dirname(resolve(file));
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const obj = (v: unknown, path: string) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(path, 'must be a mapping'));
  const list = (v: unknown, path: string) => (Array.isArray(v) && v.length > 0 ? v : fail(path, 'must be a non-empty list'));
  const name = (v: unknown, path: string) => (typeof v === 'string' && NAME.test(v) ? v : fail(path, 'must be 1-63 letters, digits, dots, dashes or underscores'));
  const ints = (v: unknown, path: string, min: number, max: number) =>
    list(v, path).map((x, i) => (Number.isInteger(x) && (x as number) >= min && (x as number) <= max ? (x as number) : fail(`${path}[${i}]`, `must be a whole number from ${min} to ${max}`)));
  const int = (v: unknown, path: string, min: number, max: number, fallback?: number) =>
    v === undefined && fallback !== undefined ? fallback : Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : fail(path, `must be a whole number from ${min} to ${max}`);
  const known = (o: Record<string, unknown>, path: string, keys: string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${path}.${k}`, `unknown field (known: ${keys.join(', ')})`);
  };

  const top = obj(doc, '(top)');
  known(top, '(top)', ['name', 'workdir', 'nodes', 'pools', 'volumes', 'benchmark']);
  const clusterName = name(top.name, 'name');
  const nodes = list(top.nodes, 'nodes').map((n, i) => {
    const o = obj(n, `nodes[${i}]`);
    known(o, `nodes[${i}]`, ['name', 'cores', 'memoryMb', 'labels']);
    const labels = o.labels === undefined ? {} : obj(o.labels, `nodes[${i}].labels`);
    return { name: name(o.name, `nodes[${i}].name`), cores: ints(o.cores ?? [0], `nodes[${i}].cores`, 0, 1023), memoryMb: int(o.memoryMb, `nodes[${i}].memoryMb`, 64, 1 << 20, 256), labels: labels as Record<string, string> };
  });
  const nodeNames = new Set(nodes.map((n) => n.name));
  if (nodeNames.size !== nodes.length) fail('nodes', 'node names must differ');
  const pools = list(top.pools, 'pools').map((p, i) => {
    const o = obj(p, `pools[${i}]`);
    known(o, `pools[${i}]`, ['node', 'name', 'file', 'sizeMb', 'device']);
    const node = name(o.node, `pools[${i}].node`);
    if (!nodeNames.has(node)) fail(`pools[${i}].node`, `no node '${node}' in nodes`);
    const pool: ClusterPoolSpec = { node, name: name(o.name ?? 'pool', `pools[${i}].name`) };
    if ((o.sizeMb === undefined) === (o.device === undefined)) fail(`pools[${i}]`, 'give either sizeMb (a file made in the workdir, or at file) or device');
    if (o.device !== undefined) pool.device = typeof o.device === 'string' && o.device.startsWith('/dev/') ? o.device : fail(`pools[${i}].device`, 'must be a /dev/ path');
    else {
      const path = o.file === undefined ? '' : typeof o.file === 'string' ? at(o.file) : fail(`pools[${i}].file`, 'must be a path');
      pool.file = { path, sizeMb: int(o.sizeMb, `pools[${i}].sizeMb`, 16, 1 << 24) };
    }
    return pool;
  });
  const volumes = (top.volumes === undefined ? [] : list(top.volumes, 'volumes')).map((v, i) => {
    const o = obj(v, `volumes[${i}]`);
    known(o, `volumes[${i}]`, ['name', 'size', 'replicas', 'thin', 'publishOn']);
    const volume: ClusterVolumeSpec = {
      name: name(o.name, `volumes[${i}].name`),
      sizeBytes: sizeBytes(o.size) ?? fail(`volumes[${i}].size`, 'must be a size like 64MiB or a number of bytes'),
      replicas: int(o.replicas, `volumes[${i}].replicas`, 1, nodes.length, 1),
      thin: o.thin === undefined ? false : typeof o.thin === 'boolean' ? o.thin : fail(`volumes[${i}].thin`, 'must be true or false'),
    };
    if (o.publishOn !== undefined) volume.publishOn = nodeNames.has(String(o.publishOn)) ? String(o.publishOn) : fail(`volumes[${i}].publishOn`, `no node '${String(o.publishOn)}' in nodes`);
    return volume;
  });
  let benchmark: BenchmarkMatrix | undefined;
  if (top.benchmark !== undefined) {
    const b = obj(top.benchmark, 'benchmark');
    known(b, 'benchmark', ['workloads', 'blockSizes', 'queueDepths', 'seconds', 'rwmixread', 'hostCores']);
    benchmark = {
      workloads: list(b.workloads, 'benchmark.workloads').map((w, i) => (WORKLOADS.includes(String(w)) ? (w as BenchWorkload) : fail(`benchmark.workloads[${i}]`, `must be one of ${WORKLOADS.join(', ')}`))),
      blockSizes: list(b.blockSizes ?? [4096], 'benchmark.blockSizes').map((s, i) => sizeBytes(s) ?? fail(`benchmark.blockSizes[${i}]`, 'must be a size')),
      queueDepths: ints(b.queueDepths ?? [32], 'benchmark.queueDepths', 1, 4096),
      seconds: int(b.seconds, 'benchmark.seconds', 1, 3600, 10),
      rwmixread: int(b.rwmixread, 'benchmark.rwmixread', 0, 100, 70),
      hostCores: ints(b.hostCores ?? [0], 'benchmark.hostCores', 0, 1023),
    };
  }
  const workdir = at(typeof top.workdir === 'string' ? top.workdir : `/var/tmp/nodestor-cluster-${clusterName}`);
  for (const p of pools) if (p.file && !p.file.path) p.file.path = resolve(workdir, `${p.node}-${p.name}.img`);
  return { name: clusterName, workdir, nodes, pools, volumes, ...(benchmark ? { benchmark } : {}) };
}
