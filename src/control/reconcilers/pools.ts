// Pools: a pool whose node is online but does not list it (the node restarted) is
// imported again from its disk.
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import type { Pools } from '../services/pools.js';
import type { Reconciler } from './reconciler.js';

export class PoolReconciler implements Reconciler {
  readonly name = 'pools';
  constructor(
    private readonly pools: Pools,
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {}

  async run(): Promise<void> {
    for (const { spec } of await this.pools.list()) {
      const node = this.registry.node(spec.node);
      if (!node || node.status !== 'Online' || node.pools.has(spec.name) || node.refreshedAt === 0) continue;
      try {
        await this.pools.ensureOnNode(spec);
      } catch (error) {
        this.log.warn({ node: spec.node, pool: spec.name, error: (error as Error).message }, 'pool import failed');
      }
    }
  }
}
