// Operations a control plane left half done (it died between two steps): a create makes
// its missing replicas (or is undone when it cannot be), a scale-up makes and adds its
// replica, a delete, publish or unpublish runs again, a snapshot resumes the writes it
// paused and removes its parts, a resize grows what it had not grown yet.
import type { Logger } from 'pino';
import { currentRequestId, newRequestId, withRequestId } from '../../request-context.js';
import type { Registry } from '../registry/registry.js';
import type { SpecStore, Versioned } from '../specs/spec-store.js';
import type { Snapshots } from '../services/snapshots.js';
import type { Volumes } from '../services/volumes.js';
import type { VolumeOperation, VolumeSpec } from '../types.js';
import type { PassView, Reconciler } from './reconciler.js';

export class OperationReconciler implements Reconciler {
  readonly name = 'operations';
  constructor(
    private readonly specs: SpecStore,
    private readonly volumes: Volumes,
    private readonly registry: Registry,
    private readonly snapshots: Snapshots,
    private readonly log: Logger,
  ) {}

  async run(_now: number, pass: PassView): Promise<void> {
    for (const { spec } of await pass.volumes()) {
      if (!spec.operation) continue;
      await this.volumes.lock.run(spec.name, async () => {
        const record = await this.specs.getVolume(spec.name);
        const op = record?.spec.operation;
        if (!record || !op) return;
        // Its lines, here and on the nodes, carry the id of the request that began it.
        await withRequestId(op.requestId ?? currentRequestId() ?? newRequestId('operation'), () => this.#finish(record, op));
      });
    }
  }

  async #finish(record: Versioned<VolumeSpec>, op: VolumeOperation): Promise<void> {
    this.log.info({ volume: record.spec.name, operation: op.kind }, 'finishing an operation left half done');
    switch (op.kind) {
      case 'create':
        if (record.spec.replicaSet.some((r) => !r.uuid && !this.registry.online(r.node))) return; // wait for the node
        await this.volumes.finishCreate(record);
        return;
      case 'delete':
        await this.volumes.finishDelete(record);
        return;
      case 'snapshot':
        await this.snapshots.finishSnapshot(record);
        return;
      case 'resize':
        if (record.spec.replicaSet.some((r) => !this.registry.online(r.node))) return; // every replica must grow
        await this.volumes.finishResize(record);
        return;
      case 'scale':
      case 'replace':
        if (op.replica && record.spec.replicaSet.some((r) => r.name === op.replica)) await this.volumes.finishAddReplica(record, op.replica);
        else {
          const done = structuredClone(record.spec);
          delete done.operation;
          await this.volumes.save(record, done);
        }
        return;
      case 'publish':
      case 'unpublish': {
        // The target reconciler makes the nexus again if it is missing; here the step ends.
        const done = structuredClone(record.spec);
        delete done.operation;
        if (op.kind === 'unpublish' && done.target && this.registry.online(done.target.node)) {
          await this.volumes.targets.destroy(done, done.target.node);
          delete done.target;
        }
        await this.volumes.save(record, done);
      }
    }
  }
}
