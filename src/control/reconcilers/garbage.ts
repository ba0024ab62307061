// Garbage: a replica on a managed pool named like a volume's replica (`<uuid>-<n>`, or a
// snapshot of one, `<uuid>-<n>@<name>`) that no spec owns, or a nexus named by a volume uuid that no spec targets on that node, is left
// from a crash between two steps (or from a replica replaced while its node was away). It
// is destroyed once it has been unowned for the grace period.
import type { Logger } from 'pino';
import type { NodeClients } from '../registry/node-clients.js';
import type { Registry } from '../registry/registry.js';
import type { SpecStore } from '../specs/spec-store.js';
import type { Reconciler } from './reconciler.js';

// A replica `<uuid>-<n>`, or one of its snapshots `<uuid>-<n>@<snapshot>`.
const REPLICA_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-\d+(@[A-Za-z0-9._-]+)?$/;
const NEXUS_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class GarbageReconciler implements Reconciler {
  readonly name = 'garbage';
  /** When each unowned object was first seen: `node/kind/name`. */
  #seen = new Map<string, number>();
  constructor(
    private readonly specs: SpecStore,
    private readonly registry: Registry,
    private readonly clients: NodeClients,
    private readonly log: Logger,
    private readonly graceMs: number,
  ) {}

  async run(now: number): Promise<void> {
    const [volumes, pools] = await Promise.all([this.specs.listVolumes(), this.specs.listPools()]);
    const owned = new Set(
      volumes.flatMap(({ spec }) => [
        ...spec.replicaSet.map((r) => `${r.node}/${r.name}`),
        ...(spec.snapshots ?? []).flatMap((s) => s.replicas.map((m) => `${m.node}/${m.replica}@${s.name}`)),
        // A snapshot being taken is owned too, before it is recorded.
        ...(spec.operation?.kind === 'snapshot' ? spec.replicaSet.map((r) => `${r.node}/${r.name}@${spec.operation!.snapshot}`) : []),
      ]),
    );
    const targeted = new Set(volumes.filter(({ spec }) => spec.target).map(({ spec }) => `${spec.target!.node}/${spec.uuid}`));
    const managed = new Set(pools.map(({ spec }) => `${spec.node}/${spec.name}`));
    const still = new Set<string>();
    for (const node of this.registry.nodes()) {
      if (node.status !== 'Online' || node.refreshedAt === 0) continue;
      const name = node.spec.name;
      for (const r of node.replicas) {
        if (!REPLICA_NAME.test(r.name) || !managed.has(`${name}/${r.pool}`) || owned.has(`${name}/${r.name}`)) continue;
        const key = `${name}/replica/${r.uuid}`;
        still.add(key);
        if (this.#due(key, now)) await this.#destroy(name, 'replica_destroy', { uuid: r.uuid }, key, r.name);
      }
      for (const n of node.nexuses) {
        if (!NEXUS_NAME.test(n.name) || targeted.has(`${name}/${n.name}`)) continue;
        const key = `${name}/nexus/${n.name}`;
        still.add(key);
        if (this.#due(key, now)) await this.#destroy(name, 'nexus_destroy', { name: n.name }, key, n.name);
      }
    }
    for (const key of [...this.#seen.keys()]) if (!still.has(key)) this.#seen.delete(key);
  }

  #due(key: string, now: number): boolean {
    const first = this.#seen.get(key);
    if (first === undefined) {
      this.#seen.set(key, now);
      return this.graceMs === 0;
    }
    return now - first >= this.graceMs;
  }

  async #destroy(node: string, method: string, params: Record<string, unknown>, key: string, what: string): Promise<void> {
    this.log.warn({ node, method, object: what }, 'destroying an object no spec owns');
    await this.clients.call(node, method, params);
    this.#seen.delete(key);
    await this.registry.refreshNode(node);
  }
}
