// Replica count: a volume below its count gets replicas placed, made and added; one above
// loses its least wanted ones. A volume that cannot be placed now is tried next pass.
import type { Logger } from 'pino';
import type { SpecStore } from '../specs/spec-store.js';
import type { Volumes } from '../services/volumes.js';
import type { PassView, Reconciler } from './reconciler.js';

export class ReplicaCountReconciler implements Reconciler {
  readonly name = 'replica-count';
  constructor(
    private readonly specs: SpecStore,
    private readonly volumes: Volumes,
    private readonly log: Logger,
  ) {}

  async run(_now: number, pass: PassView): Promise<void> {
    for (const { spec } of await pass.volumes()) {
      if (spec.operation || spec.replicaSet.length === spec.replicas) continue;
      await this.volumes.lock.run(spec.name, async () => {
        const record = await this.specs.getVolume(spec.name);
        if (!record || record.spec.operation) return;
        try {
          await this.volumes.reconcileCount(record);
        } catch (error) {
          this.log.warn({ volume: spec.name, error: (error as Error).message }, 'replica count not reached yet');
        }
      });
    }
  }
}
