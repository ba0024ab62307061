// Where a volume's replicas go: filters, then a sort. Replicas of one volume go on distinct
// nodes; each goes on its node's pool with the most free space that fits (thick: free
// space at least the size; thin: committed space within the pool's overcommit limit), and
// nodes are taken in that order. Labels filter nodes and pools. Pure: the caller brings
// the registry's view.
import { ControlError } from '../errors.js';
import { DEFAULTS, type Labels, type NodeStatus, type PoolSpec, type PoolState } from '../types.js';

export interface PlacementNode {
  name: string;
  status: NodeStatus;
  labels: Labels;
}

export interface PlacementPool {
  spec: PoolSpec;
  state: PoolState;
}

export interface PlacementRequest {
  sizeBytes: number;
  thin: boolean;
  count: number;
  topology?: { nodeLabels?: Labels; poolLabels?: Labels } | undefined;
  /** Nodes that already hold a replica of the volume (or must not get one). */
  excludeNodes?: Iterable<string>;
  /** Default 4: a thin volume may commit 400% of a pool. */
  overcommit?: number;
}

export interface Placement {
  node: string;
  pool: string;
}

export function matchesLabels(labels: Labels, wanted: Labels | undefined): boolean {
  if (!wanted) return true;
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

/** Whether `pool` can take a replica of `sizeBytes`, and why not. */
export function poolFits(pool: PoolState, sizeBytes: number, thin: boolean, overcommit: number): string | undefined {
  if (pool.status !== 'Online') return `pool is ${pool.status}`;
  if (!thin) return pool.availableBytes >= sizeBytes ? undefined : `${pool.availableBytes} bytes free, ${sizeBytes} needed`;
  const limit = pool.totalBytes * overcommit;
  return pool.committedBytes + sizeBytes <= limit ? undefined : `${pool.committedBytes} bytes committed of a ${limit}-byte overcommit limit, ${sizeBytes} more asked`;
}

export function placeReplicas(nodes: PlacementNode[], pools: PlacementPool[], request: PlacementRequest): Placement[] {
  if (request.count <= 0) return [];
  const overcommit = request.overcommit ?? DEFAULTS.overcommit;
  const excluded = new Set(request.excludeNodes ?? []);
  const why: Record<string, string> = {};
  const eligibleNodes: string[] = [];
  const choices: { node: string; pool: string; free: number }[] = [];
  for (const node of nodes) {
    if (excluded.has(node.name)) {
      why[node.name] = 'already holds a replica of this volume';
      continue;
    }
    if (node.status !== 'Online') {
      why[node.name] = `node is ${node.status}`;
      continue;
    }
    if (!matchesLabels(node.labels, request.topology?.nodeLabels)) {
      why[node.name] = 'node labels do not match';
      continue;
    }
    const own = pools.filter((p) => p.spec.node === node.name && matchesLabels(p.spec.labels, request.topology?.poolLabels));
    const online = own.filter((p) => p.state.status === 'Online');
    if (online.length === 0) {
      why[node.name] = own.length === 0 ? 'no pool matches' : 'no pool is online';
      continue;
    }
    eligibleNodes.push(node.name);
    const fitting = online
      .map((p) => ({ p, reason: poolFits(p.state, request.sizeBytes, request.thin, overcommit) }))
      .filter(({ p, reason }) => {
        if (reason) why[`${node.name}/${p.spec.name}`] = reason;
        return !reason;
      })
      .map(({ p }) => p)
      .sort((a, b) => b.state.availableBytes - a.state.availableBytes || a.spec.name.localeCompare(b.spec.name));
    if (fitting.length > 0) choices.push({ node: node.name, pool: fitting[0]!.spec.name, free: fitting[0]!.state.availableBytes });
  }
  if (eligibleNodes.length < request.count)
    throw new ControlError('NotEnoughNodes', `${request.count} replica(s) need ${request.count} distinct eligible node(s); ${eligibleNodes.length} found`, {
      needed: request.count,
      eligibleNodes,
      reasons: why,
    });
  if (choices.length < request.count)
    throw new ControlError('NoSpace', `${request.count} replica(s) of ${request.sizeBytes} bytes${request.thin ? ' (thin)' : ''} fit on ${choices.length} node(s)`, {
      needed: request.count,
      sizeBytes: request.sizeBytes,
      fitting: choices.map((c) => c.node),
      reasons: why,
    });
  choices.sort((a, b) => b.free - a.free || a.node.localeCompare(b.node));
  return choices.slice(0, request.count).map(({ node, pool }) => ({ node, pool }));
}
