// Consistent volume snapshots: writes on the target are paused (nexus_pause_writes: those
// in flight finish, new ones wait, reads go on) while every healthy replica snapshots, so
// the replicas' snapshots hold the same bytes; then writes resume, whatever happened. A
// control plane that died in between resumes them on restart and removes the partial
// snapshot (finishSnapshot).
import type { Logger } from 'pino';
import { ControlError } from '../errors.js';
import { nodeErrorCode, type NodeClients } from '../registry/node-clients.js';
import type { Registry } from '../registry/registry.js';
import type { Versioned } from '../specs/spec-store.js';
import type { ReplicaSpec, SnapshotSpec, VolumeSpec } from '../types.js';
import { beginOperation } from './operation.js';
import { replicaStatus, targetNexus } from './volume-state.js';
import type { Volumes } from './volumes.js';

export const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,23}$/;
const snapshotLvol = (replica: ReplicaSpec, snapshot: string) => `${replica.name}@${snapshot}`;

export class Snapshots {
  constructor(
    private readonly volumes: Volumes,
    private readonly registry: Registry,
    private readonly clients: NodeClients,
    private readonly log: Logger,
  ) {}

  async list(volume: string): Promise<SnapshotSpec[]> {
    return (await this.volumes.require(volume)).spec.snapshots ?? [];
  }

  take(volume: string, snapshot: string): Promise<SnapshotSpec> {
    if (!SNAPSHOT_NAME.test(snapshot)) throw new ControlError('InvalidArgument', `a snapshot name is 1-24 letters, digits, '.', '_' or '-', got '${snapshot}'`);
    return this.volumes.lock.run(volume, async () => {
      let record = await this.volumes.require(volume);
      const existing = record.spec.snapshots?.find((s) => s.name === snapshot);
      if (existing) return existing; // a repeated call is the same snapshot
      if (record.spec.operation) throw new ControlError('Conflict', `volume ${volume} is busy (${record.spec.operation.kind})`, { volume });
      await this.registry.refresh();
      const spec = record.spec;
      if (spec.target && !targetNexus(this.registry, spec))
        throw new ControlError('NodeOffline', `volume ${volume}: its target on node ${spec.target.node} is not reachable; writes cannot be paused`, { volume });
      const healthy = spec.replicaSet.filter((r) => r.uuid && replicaStatus(this.registry, spec, r) === 'Online');
      if (healthy.length === 0) throw new ControlError('Conflict', `volume ${volume} has no healthy replica to snapshot`, { volume });
      record = await this.volumes.save(record, { ...spec, operation: beginOperation('snapshot', { snapshot }) });
      const made: SnapshotSpec['replicas'] = [];
      if (spec.target) await this.clients.call(spec.target.node, 'nexus_pause_writes', { name: spec.uuid });
      try {
        for (const r of healthy) {
          const uuid = await this.clients.call<string>(r.node, 'bdev_lvol_snapshot', { lvol_name: r.uuid!, snapshot_name: snapshotLvol(r, snapshot) });
          made.push({ node: r.node, pool: r.pool, replica: r.name, uuid });
        }
      } catch (error) {
        for (const m of made) await this.#deleteLvol(m.node, m.uuid);
        await this.#clearOperation(record.spec.name);
        throw error;
      } finally {
        if (spec.target) await this.#resume(spec);
      }
      const taken: SnapshotSpec = { name: snapshot, createdAt: new Date().toISOString(), replicas: made };
      const done = structuredClone(record.spec);
      done.snapshots = [...(done.snapshots ?? []), taken];
      delete done.operation;
      await this.volumes.save(record, done);
      this.log.info({ volume, snapshot, replicas: made.length }, 'snapshot taken');
      return taken;
    });
  }

  async #resume(spec: VolumeSpec): Promise<void> {
    try {
      await this.clients.call(spec.target!.node, 'nexus_resume_writes', { name: spec.uuid });
    } catch (error) {
      if (nodeErrorCode(error) !== 'EINVAL' && nodeErrorCode(error) !== 'ENOENT') throw error; // not paused, or gone
    }
  }

  async #deleteLvol(node: string, name: string): Promise<void> {
    try {
      await this.clients.call(node, 'bdev_lvol_delete', { name });
    } catch (error) {
      if (nodeErrorCode(error) !== 'ENOENT') throw error;
    }
  }

  /** Removes the snapshot operation from the volume's current spec (it may have been saved since). */
  async #clearOperation(volume: string): Promise<void> {
    const current = await this.volumes.require(volume);
    const done = structuredClone(current.spec);
    delete done.operation;
    await this.volumes.save(current, done);
  }

  /** A snapshot a dead control plane left half taken: writes resumed, its parts removed. */
  async finishSnapshot(record: Versioned<VolumeSpec>): Promise<void> {
    const spec = record.spec;
    const name = spec.operation!.snapshot!;
    if (spec.target && this.registry.online(spec.target.node)) await this.#resume(spec);
    for (const r of spec.replicaSet) if (this.registry.online(r.node)) await this.#deleteLvol(r.node, `${r.pool}/${snapshotLvol(r, name)}`);
    await this.#clearOperation(record.spec.name);
  }
}
