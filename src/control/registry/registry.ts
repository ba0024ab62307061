// What the nodes report: which are alive (heartbeats, kept in the store so every control
// plane sees them), and each node's pools, replicas and nexuses as its daemon lists them.
// Refreshed on a timer and after every change the control plane makes.
import type { SpecStore } from '../specs/spec-store.js';
import { DEFAULTS, type NodeSpec, type NodeStatus, type PoolState } from '../types.js';
import type { NodeClients } from './node-clients.js';

/** A replica as the node's replica_list gives it. */
export interface ObservedReplica {
  uuid: string;
  name: string;
  pool: string;
  size_bytes: number;
  allocated_bytes: number;
  thin: boolean;
  share: 'nvmf' | 'none';
  uri: string;
  allowed_hosts: string[];
}

/** A nexus as the node's nexus_list gives it. */
export interface ObservedNexus {
  name: string;
  uuid: string;
  size_bytes: number;
  state: string;
  device_uri: string | null;
  children: { uri: string; state: string; reason?: string; sync_state?: string; rebuild_progress?: number }[];
}

interface ObservedPool {
  name: string;
  state: string;
  total_bytes: number;
  used_bytes: number;
  committed_bytes: number;
  available_bytes: number;
}

export interface NodeView {
  spec: NodeSpec;
  status: NodeStatus;
  lastSeen: number;
  /** When the node's daemon was last listed successfully. */
  refreshedAt: number;
  pools: Map<string, PoolState>;
  replicas: ObservedReplica[];
  nexuses: ObservedNexus[];
}

function poolStates(pools: ObservedPool[]): Map<string, PoolState> {
  return new Map(
    pools.map((p) => [
      p.name,
      {
        status: p.state === 'online' ? 'Online' : 'Offline',
        totalBytes: p.total_bytes,
        usedBytes: p.used_bytes,
        committedBytes: p.committed_bytes,
        availableBytes: p.available_bytes,
      },
    ]),
  );
}

export class Registry {
  readonly #specs: SpecStore;
  readonly #clients: NodeClients;
  readonly #ttlMs: number;
  readonly #startedAt = Date.now();
  #nodes = new Map<string, NodeView>();

  constructor(specs: SpecStore, clients: NodeClients, options: { nodeTtlMs?: number } = {}) {
    this.#specs = specs;
    this.#clients = clients;
    this.#ttlMs = options.nodeTtlMs ?? DEFAULTS.nodeTtlMs;
  }

  get nodeTtlMs(): number {
    return this.#ttlMs;
  }

  nodes(): NodeView[] {
    return [...this.#nodes.values()].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  node(name: string): NodeView | undefined {
    return this.#nodes.get(name);
  }

  online(name: string): boolean {
    return this.#nodes.get(name)?.status === 'Online';
  }

  #view(spec: NodeSpec): NodeView {
    let view = this.#nodes.get(spec.name);
    if (!view) {
      view = { spec, status: 'Offline', lastSeen: 0, refreshedAt: 0, pools: new Map(), replicas: [], nexuses: [] };
      this.#nodes.set(spec.name, view);
    }
    view.spec = spec;
    this.#clients.setEndpoint(spec.name, spec.rpc);
    return view;
  }

  /** A node (re)registered or sent a heartbeat to this control plane. */
  async heartbeat(spec: NodeSpec | undefined, name: string, now = Date.now()): Promise<void> {
    if (spec) await this.#specs.putNode(spec);
    await this.#specs.heartbeat(name, now);
    const stored = spec ?? (await this.#specs.getNode(name))?.spec;
    if (!stored) return;
    const view = this.#view(stored);
    if (spec) this.#forget(view); // a daemon registers when it starts: what it had is gone
    view.lastSeen = Math.max(view.lastSeen, now);
    view.status = 'Online';
  }

  /**
   * Reads the nodes and heartbeats from the store (another control plane may have taken
   * them) and lists every online node's pools, replicas and nexuses. Returns the nodes
   * whose status changed.
   */
  async refresh(now = Date.now(), options: { poolsOnly?: boolean } = {}): Promise<{ node: string; status: NodeStatus }[]> {
    const [specs, beats] = await Promise.all([this.#specs.listNodes(), this.#specs.heartbeats()]);
    const changed: { node: string; status: NodeStatus }[] = [];
    for (const { spec } of specs) {
      const view = this.#view(spec);
      view.lastSeen = Math.max(view.lastSeen, beats.get(spec.name) ?? 0);
      let status: NodeStatus = now - view.lastSeen < this.#ttlMs ? 'Online' : 'Offline';
      // A control plane that was down missed heartbeats it could not receive: for its
      // first TTL, a node whose daemon answers counts as online.
      if (status === 'Offline' && now - this.#startedAt < this.#ttlMs && (await this.refreshNode(spec.name))) status = 'Online';
      if (status !== view.status) changed.push({ node: spec.name, status });
      if (status === 'Offline') this.#forget(view);
      view.status = status;
    }
    await Promise.all(this.nodes().filter((v) => v.status === 'Online').map((v) => (options.poolsOnly ? this.#refreshPools(v) : this.refreshNode(v.spec.name))));
    return changed;
  }

  /** Lists only the pools of every online node: what placement needs, cheaply. */
  async refreshCapacity(): Promise<void> {
    await this.refresh(Date.now(), { poolsOnly: true });
  }

  /** Lists one node's pools, replicas and nexuses afresh; a failure leaves its pools Unknown. */
  async refreshNode(name: string): Promise<boolean> {
    const view = this.#nodes.get(name);
    if (!view) return false;
    try {
      // Bounded well within the node TTL: a stopped daemon must not hold up a pass.
      const timeout = this.#listTimeoutMs();
      const [pools, replicas, nexuses] = await Promise.all([
        this.#clients.call<ObservedPool[]>(name, 'pool_list', undefined, timeout),
        this.#clients.call<ObservedReplica[]>(name, 'replica_list', undefined, timeout),
        this.#clients.call<ObservedNexus[]>(name, 'nexus_list', undefined, timeout),
      ]);
      view.pools = poolStates(pools);
      view.replicas = replicas;
      view.nexuses = nexuses;
      view.refreshedAt = Date.now();
      return true;
    } catch {
      this.#forget(view);
      return false;
    }
  }

  async #refreshPools(view: NodeView): Promise<void> {
    try {
      view.pools = poolStates(await this.#clients.call<ObservedPool[]>(view.spec.name, 'pool_list', undefined, this.#listTimeoutMs()));
    } catch {
      this.#forget(view);
    }
  }

  #listTimeoutMs(): number {
    return Math.max(500, Math.min(2_000, this.#ttlMs / 2));
  }

  /** What a node reported is not known any more: it must be listed afresh before use. */
  #forget(view: NodeView): void {
    for (const state of view.pools.values()) state.status = 'Unknown';
    view.replicas = [];
    view.nexuses = [];
    view.refreshedAt = 0;
  }

  poolState(node: string, pool: string): PoolState {
    const view = this.#nodes.get(node);
    const state = view?.pools.get(pool);
    if (!view || view.status !== 'Online') return { status: 'Offline', totalBytes: state?.totalBytes ?? 0, usedBytes: state?.usedBytes ?? 0, committedBytes: state?.committedBytes ?? 0, availableBytes: 0 };
    return state ?? { status: 'Unknown', totalBytes: 0, usedBytes: 0, committedBytes: 0, availableBytes: 0 };
  }

  replica(node: string, name: string): ObservedReplica | undefined {
    return this.#nodes.get(node)?.replicas.find((r) => r.name === name);
  }

  nexus(node: string, name: string): ObservedNexus | undefined {
    return this.#nodes.get(node)?.nexuses.find((n) => n.name === name);
  }
}
