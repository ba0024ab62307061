// Targets: a published volume whose nexus vanished (its node restarted) gets it back on
// that node once the node is online again; with failover, on another node that holds a
// healthy replica while its own node is offline. The replicas are fenced to the new
// node's host NQN before the new nexus opens them.
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import type { SpecStore } from '../specs/spec-store.js';
import type { Volumes } from '../services/volumes.js';
import type { PassView, Reconciler } from './reconciler.js';

export class TargetReconciler implements Reconciler {
  readonly name = 'target';
  constructor(
    private readonly specs: SpecStore,
    private readonly volumes: Volumes,
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {}

  async run(_now: number, pass: PassView): Promise<void> {
    for (const { spec } of await pass.volumes()) {
      const target = spec.target;
      if (!target || spec.operation) continue;
      if (this.registry.online(target.node)) {
        if (this.registry.nexus(target.node, spec.uuid)) continue;
        if (this.registry.node(target.node)!.refreshedAt === 0) continue; // not listed yet
        this.log.info({ volume: spec.name, node: target.node }, 'target nexus missing; making it again');
        await this.volumes.publish(spec.name, { node: target.node, ...(target.port !== undefined ? { port: target.port } : {}), ...(target.hosts ? { hosts: target.hosts } : {}), ...(target.failover ? { failover: true } : {}) });
        continue;
      }
      if (!target.failover) continue;
      const next = spec.replicaSet.find((r) => r.uuid && r.node !== target.node && this.registry.online(r.node) && this.registry.replica(r.node, r.name));
      if (!next) continue;
      this.log.warn({ volume: spec.name, from: target.node, to: next.node }, 'target node offline; failing the target over');
      await this.volumes.lock.run(spec.name, async () => {
        const record = await this.specs.getVolume(spec.name);
        if (!record?.spec.target) return;
        const moved = structuredClone(record.spec);
        // The lost node's replica is not trusted by the new nexus: it is rebuilt on return.
        moved.target = { ...record.spec.target, node: next.node };
        delete moved.target.uri;
        await this.volumes.save(record, moved);
      });
      await this.volumes.publish(spec.name, { node: next.node, ...(target.port !== undefined ? { port: target.port } : {}), ...(target.hosts ? { hosts: target.hosts } : {}), failover: true });
    }
  }
}
