// Nodes: heartbeats decide Online and Offline (the lease a node keeps alive by sending
// them); every online node's pools, replicas and nexuses are listed afresh.
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import type { Reconciler } from './reconciler.js';

export class NodeReconciler implements Reconciler {
  readonly name = 'nodes';
  readonly observeOnly = true;
  constructor(
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {}

  async run(now: number): Promise<void> {
    for (const change of await this.registry.refresh(now)) this.log.info({ event: { kind: `node.${change.status.toLowerCase()}`, node: change.node } }, `node ${change.node} ${change.status}`);
  }
}
