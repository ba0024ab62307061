// Faulted children. A child faulted for a reason it can recover from (IoError, TimedOut,
// Gone, or its node offline) gets the volume's faultedChildWaitMs to come back; when its
// node lists the replica again it is onlined, which rebuilds only what it missed. Past the
// wait, or faulted for good, it is replaced: removed from the nexus and the spec (its
// replica is destroyed now, or by the garbage reconciler once its node is reachable) and a
// new replica on another node is added with a full rebuild. A replica that is not a child
// at all (left out as stale when the nexus was made again) is added back with a rebuild.
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import type { SpecStore, Versioned } from '../specs/spec-store.js';
import { childOf, targetNexus } from '../services/volume-state.js';
import type { Volumes } from '../services/volumes.js';
import type { ReplicaSpec, VolumeSpec } from '../types.js';
import type { PassView, Reconciler } from './reconciler.js';

const RECOVERABLE = new Set(['IoError', 'TimedOut', 'Gone', 'Offline', 'NodeOffline']);

export class FaultedChildReconciler implements Reconciler {
  readonly name = 'faulted-child';
  constructor(
    private readonly specs: SpecStore,
    private readonly volumes: Volumes,
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {}

  async run(now: number, pass: PassView): Promise<void> {
    for (const { spec } of await pass.volumes()) {
      if (!spec.target || spec.operation || !this.registry.online(spec.target.node) || !targetNexus(this.registry, spec)) continue;
      await this.volumes.lock.run(spec.name, async () => {
        let record = await this.specs.getVolume(spec.name);
        if (!record || record.spec.operation) return;
        for (const name of record.spec.replicaSet.map((r) => r.name)) {
          const replica = record.spec.replicaSet.find((r) => r.name === name);
          if (replica) record = await this.#one(record, replica, now);
        }
      });
    }
  }

  async #one(record: Versioned<VolumeSpec>, replica: ReplicaSpec, now: number): Promise<Versioned<VolumeSpec>> {
    const spec = record.spec;
    const child = childOf(targetNexus(this.registry, spec), replica);
    const reachable = this.registry.online(replica.node) && !!replica.uuid && !!this.registry.replica(replica.node, replica.name);
    if (child?.state === 'Open') {
      if (replica.faultedAt === undefined) return record;
      return this.#mark(record, replica.name, undefined);
    }
    if (!child && reachable) {
      this.log.info({ volume: spec.name, replica: replica.name }, 'replica is not a child; adding it with a rebuild');
      await this.volumes.targets.addChild(spec, replica);
      await this.registry.refreshNode(spec.target!.node);
      return replica.faultedAt === undefined ? record : this.#mark(record, replica.name, undefined);
    }
    const reason = child?.reason ?? (this.registry.online(replica.node) ? 'Gone' : 'NodeOffline');
    if (replica.faultedAt === undefined) {
      this.log.warn({ volume: spec.name, replica: replica.name, reason }, 'child faulted');
      record = await this.#mark(record, replica.name, { at: now, reason });
    }
    const faultedAt = record.spec.replicaSet.find((r) => r.name === replica.name)!.faultedAt!;
    if (RECOVERABLE.has(reason) && now - faultedAt < spec.faultedChildWaitMs) {
      if (!reachable || !child) return record; // not back yet
      this.log.info({ volume: spec.name, replica: replica.name }, 'faulted child is back; onlining it (partial rebuild)');
      await this.volumes.targets.childUri(replica, spec.target!.node); // shares and fences it again after a restart
      await this.volumes.targets.onlineChild(spec, child.uri);
      await this.registry.refreshNode(spec.target!.node);
      return record;
    }
    this.log.warn({ volume: spec.name, replica: replica.name, reason, waitedMs: now - faultedAt }, 'replacing a faulted child');
    record = await this.volumes.removeReplica(record, replica);
    return this.volumes.addReplica(record, [replica.node]);
  }

  async #mark(record: Versioned<VolumeSpec>, name: string, fault: { at: number; reason: string } | undefined): Promise<Versioned<VolumeSpec>> {
    const spec = structuredClone(record.spec);
    const r = spec.replicaSet.find((x) => x.name === name)!;
    if (fault) {
      r.faultedAt = fault.at;
      r.faultReason = fault.reason;
    } else {
      delete r.faultedAt;
      delete r.faultReason;
    }
    return this.volumes.save(record, spec);
  }
}
