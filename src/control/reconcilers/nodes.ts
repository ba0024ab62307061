// Nodes: heartbeats decide Online and Offline (the lease a node keeps alive by sending
// them); every online node's pools, replicas and nexuses are listed afresh, and its events
// are received into the event log.
import type { Logger } from 'pino';
import type { EventLog } from '../events.js';
import type { NodeClients } from '../registry/node-clients.js';
import type { Registry } from '../registry/registry.js';
import type { Reconciler } from './reconciler.js';

export class NodeReconciler implements Reconciler {
  readonly name = 'nodes';
  readonly observeOnly = true;
  constructor(
    private readonly registry: Registry,
    private readonly clients: NodeClients,
    private readonly events: EventLog,
    private readonly log: Logger,
  ) {}

  async run(now: number): Promise<void> {
    for (const change of await this.registry.refresh(now)) {
      const event = { kind: `node.${change.status.toLowerCase()}`, node: change.node };
      this.events.append('control', event);
      this.log.info({ event }, `node ${change.node} ${change.status}`);
    }
    for (const node of this.registry.nodes())
      if (node.status === 'Online')
        await this.clients.ensureSubscribed(node.spec.name, ({ kind, node: from, time: _time, ...rest }) =>
          this.events.append(String(from ?? node.spec.name), { kind: String(kind), ...rest }),
        );
  }
}
