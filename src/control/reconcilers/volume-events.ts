// Volume events: each pass compares every volume's state with the last one seen and
// records the change (volume.online, volume.degraded, volume.faulted, volume.unknown).
// It only observes, so a standby runs it too.
import type { EventLog } from '../events.js';
import type { Volumes } from '../services/volumes.js';
import type { Reconciler } from './reconciler.js';

export class VolumeEventReconciler implements Reconciler {
  readonly name = 'volume-events';
  readonly observeOnly = true;
  #last = new Map<string, string>();
  constructor(
    private readonly volumes: Volumes,
    private readonly events: EventLog,
  ) {}

  async run(): Promise<void> {
    const seen = new Set<string>();
    for (const v of await this.volumes.list()) {
      seen.add(v.spec.name);
      const before = this.#last.get(v.spec.name);
      if (before === v.state.status) continue;
      this.#last.set(v.spec.name, v.state.status);
      this.events.append('control', { kind: `volume.${v.state.status.toLowerCase()}`, volume: v.spec.name, uuid: v.spec.uuid, ...(before ? { was: before } : {}) });
    }
    for (const name of [...this.#last.keys()]) if (!seen.has(name)) this.#last.delete(name);
  }
}
