// Volumes: create (place, record the plan, make the replicas), scale, delete, and the
// replica changes the reconcilers make. Every change records its operation in the spec
// before touching a node, so a control plane restarted half way finishes it (replicas are
// named, so one made before the crash is found again rather than made twice).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ControlError } from '../errors.js';
import { nodeErrorCode, type NodeClients } from '../registry/node-clients.js';
import type { Registry } from '../registry/registry.js';
import { placeReplicas } from '../scheduling/placement.js';
import type { SpecStore, Versioned } from '../specs/spec-store.js';
import type { EventLog } from '../events.js';
import { DEFAULTS, type Labels, type ReplicaSpec, type VolumeOperation, type VolumeSpec, type VolumeState } from '../types.js';
import { KeyedLock } from './keyed-lock.js';
import { beginOperation } from './operation.js';
import type { Pools } from './pools.js';

/** What placement needs of the pools: a refresh, then their capacities. */
export type PlacementPools = Pick<Pools, 'list' | 'placementPools'>;
import type { Targets } from './targets.js';
import { childOf, replicaStatus, targetNexus, volumeState } from './volume-state.js';

export interface CreateVolumeRequest {
  name: string;
  sizeBytes: number;
  replicas: number;
  thin?: boolean;
  topology?: { nodeLabels?: Labels; poolLabels?: Labels };
  faultedChildWaitMs?: number;
  ioTimeoutMs?: number;
}

export interface VolumeView {
  spec: Omit<VolumeSpec, 'replicaSet' | 'operation'> & { operation?: VolumeOperation['kind'] };
  state: VolumeState;
}

const HEALTH_ORDER = { Faulted: 0, Unknown: 1, Degraded: 2, Online: 3 } as const;

export class Volumes {
  readonly lock = new KeyedLock();
  readonly #specs: SpecStore;
  readonly #registry: Registry;
  readonly #clients: NodeClients;
  readonly #targets: Targets;
  readonly #log: Logger;
  readonly #overcommit: number;
  readonly #pools: PlacementPools;
  readonly #events: EventLog | undefined;

  constructor(deps: { specs: SpecStore; registry: Registry; clients: NodeClients; targets: Targets; pools: PlacementPools; log: Logger; overcommit?: number; events?: EventLog }) {
    this.#pools = deps.pools;
    this.#events = deps.events;
    this.#specs = deps.specs;
    this.#registry = deps.registry;
    this.#clients = deps.clients;
    this.#targets = deps.targets;
    this.#log = deps.log;
    this.#overcommit = deps.overcommit ?? DEFAULTS.overcommit;
  }

  get targets(): Targets {
    return this.#targets;
  }

  view(spec: VolumeSpec): VolumeView {
    const { replicaSet: _replicas, operation, ...rest } = spec;
    return { spec: { ...rest, ...(operation ? { operation: operation.kind } : {}) }, state: volumeState(this.#registry, spec) };
  }

  async require(name: string): Promise<Versioned<VolumeSpec>> {
    const found = await this.#specs.getVolume(name);
    if (!found) throw new ControlError('NotFound', `no volume named ${name}`, { volume: name });
    return found;
  }

  async list(): Promise<VolumeView[]> {
    return (await this.#specs.listVolumes()).map((v) => this.view(v.spec));
  }

  async get(name: string): Promise<VolumeView> {
    return this.view((await this.require(name)).spec);
  }

  /** Writes `spec` over `current`; returns the new versioned record. */
  async save(current: Versioned<VolumeSpec>, spec: VolumeSpec): Promise<Versioned<VolumeSpec>> {
    return { spec, revision: await this.#specs.putVolume(spec, current.revision) };
  }

  create(request: CreateVolumeRequest): Promise<VolumeView> {
    return this.lock.run(request.name, async () => {
      const existing = await this.#specs.getVolume(request.name);
      if (existing) {
        const s = existing.spec;
        const same = s.sizeBytes === request.sizeBytes && s.replicas === request.replicas && s.thin === (request.thin ?? false);
        if (!same) throw new ControlError('AlreadyExists', `volume ${request.name} exists with another spec`, { volume: request.name, spec: this.view(s).spec });
        return this.view((await this.finishCreate(existing)).spec);
      }
      await Promise.all([this.#registry.refreshCapacity(), this.#pools.list()]);
      const uuid = randomUUID();
      const placements = this.#place(request.sizeBytes, request.thin ?? false, request.replicas, request.topology, []);
      const spec: VolumeSpec = {
        name: request.name,
        uuid,
        sizeBytes: request.sizeBytes,
        replicas: request.replicas,
        thin: request.thin ?? false,
        ...(request.topology ? { topology: request.topology } : {}),
        faultedChildWaitMs: request.faultedChildWaitMs ?? DEFAULTS.faultedChildWaitMs,
        ...(request.ioTimeoutMs !== undefined ? { ioTimeoutMs: request.ioTimeoutMs } : {}),
        replicaSet: placements.map((p, i) => ({ name: `${uuid}-${i}`, node: p.node, pool: p.pool })),
        operation: beginOperation('create'),
      };
      let record: Versioned<VolumeSpec> = { spec, revision: await this.#specs.putVolume(spec, 0) };
      try {
        record = await this.finishCreate(record);
      } catch (error) {
        this.#log.warn({ volume: spec.name, error: (error as Error).message }, 'volume create failed; undoing it');
        await this.#undoCreate(record).catch((e) => this.#log.error({ volume: spec.name, error: (e as Error).message }, 'undo failed; the garbage reconciler will finish it'));
        throw error;
      }
      this.#log.info({ volume: spec.name, uuid, replicas: spec.replicaSet.map((r) => `${r.node}/${r.pool}`) }, 'volume created');
      this.#events?.append('control', { kind: 'volume.created', volume: spec.name, uuid, replicas: spec.replicaSet.map((r) => r.node) });
      return this.view(record.spec);
    });
  }

  #place(sizeBytes: number, thin: boolean, count: number, topology: VolumeSpec['topology'], exclude: string[]) {
    const nodes = this.#registry.nodes().map((v) => ({ name: v.spec.name, status: v.status, labels: v.spec.labels }));
    return placeReplicas(nodes, this.#pools.placementPools(), { sizeBytes, thin, count, topology, excludeNodes: exclude, overcommit: this.#overcommit });
  }


  /** Makes the replica on its node, or finds the one made before a crash; returns its uuid. */
  async makeReplica(spec: VolumeSpec, replica: ReplicaSpec): Promise<string> {
    try {
      const made = await this.#clients.call<{ uuid: string }>(replica.node, 'replica_create', {
        pool: replica.pool,
        name: replica.name,
        size_bytes: spec.sizeBytes,
        thin: spec.thin,
        share: true,
      });
      return made.uuid;
    } catch (error) {
      if (nodeErrorCode(error) !== 'EEXIST') throw error;
      const listed = await this.#clients.call<{ uuid: string; name: string }[]>(replica.node, 'replica_list', { pool: replica.pool });
      const found = listed.find((r) => r.name === replica.name);
      if (!found) throw error;
      return found.uuid;
    }
  }

  async destroyReplica(replica: ReplicaSpec): Promise<void> {
    if (!replica.uuid || !this.#registry.online(replica.node)) return; // the garbage reconciler does it later
    try {
      await this.#clients.call(replica.node, 'replica_destroy', { uuid: replica.uuid });
    } catch (error) {
      if (nodeErrorCode(error) !== 'ENOENT') throw error;
    }
  }

  /** Makes every planned replica that is not made yet, then clears the create operation. */
  async finishCreate(record: Versioned<VolumeSpec>): Promise<Versioned<VolumeSpec>> {
    const spec = structuredClone(record.spec);
    const missing = spec.replicaSet.filter((r) => !r.uuid);
    const made = await Promise.allSettled(missing.map((r) => this.makeReplica(spec, r)));
    missing.forEach((r, i) => {
      const result = made[i]!;
      if (result.status === 'fulfilled') r.uuid = result.value;
    });
    const failed = made.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      await this.save(record, spec).catch(() => undefined); // keep what was made, for the undo
      throw failed.reason;
    }
    if (spec.operation?.kind === 'create') delete spec.operation;
    const saved = await this.save(record, spec);
    await Promise.all([...new Set(spec.replicaSet.map((r) => r.node))].map((n) => this.#registry.refreshNode(n)));
    return saved;
  }

  async #undoCreate(record: Versioned<VolumeSpec>): Promise<void> {
    const current = (await this.#specs.getVolume(record.spec.name)) ?? record;
    for (const r of current.spec.replicaSet) await this.destroyReplica(r);
    await this.#specs.deleteVolume(current.spec.name, current.revision);
  }

  delete(name: string): Promise<void> {
    return this.lock.run(name, async () => {
      let record = await this.#specs.getVolume(name);
      if (!record) return; // deleting twice is fine
      record = await this.save(record, { ...record.spec, operation: beginOperation('delete') });
      await this.finishDelete(record);
    });
  }

  async finishDelete(record: Versioned<VolumeSpec>): Promise<void> {
    const spec = record.spec;
    if (spec.target) await this.#targets.destroy(spec, spec.target.node);
    for (const r of spec.replicaSet) await this.destroyReplica(r);
    // Then the snapshots the replicas were cloned from (a node away now: the garbage reconciler).
    for (const part of (spec.snapshots ?? []).flatMap((s) => s.replicas)) {
      if (!this.#registry.online(part.node)) continue;
      await this.#clients.call(part.node, 'bdev_lvol_delete', { name: part.uuid }).catch((error) => {
        if (nodeErrorCode(error) !== 'ENOENT') throw error;
      });
    }
    await this.#targets.forget(spec);
    await this.#specs.deleteVolume(spec.name, record.revision);
    this.#log.info({ volume: spec.name }, 'volume deleted');
    this.#events?.append('control', { kind: 'volume.deleted', volume: spec.name, uuid: spec.uuid });
  }

  publish(name: string, options: { node?: string; port?: number; hosts?: string[]; failover?: boolean }): Promise<VolumeView> {
    return this.lock.run(name, async () => {
      let record = await this.require(name);
      const spec = record.spec;
      if (spec.operation?.kind === 'delete') throw new ControlError('Conflict', `volume ${name} is being deleted`, { volume: name });
      if (spec.target && options.node && options.node !== spec.target.node && this.#registry.nexus(spec.target.node, spec.uuid))
        throw new ControlError('Conflict', `volume ${name} is published on node ${spec.target.node}; unpublish it first`, { volume: name, node: spec.target.node });
      await this.#registry.refresh();
      const node = options.node ?? spec.target?.node ?? this.#defaultTargetNode(spec);
      if (!this.#registry.node(node)) throw new ControlError('NotFound', `node ${node} is not registered`, { node });
      const target = { node, ...(options.port !== undefined ? { port: options.port } : {}), ...(options.hosts ? { hosts: options.hosts } : {}), ...(options.failover ? { failover: true } : {}) };
      record = await this.save(record, { ...spec, target, operation: beginOperation('publish') });
      const uri = await this.#targets.publish(record.spec, node, target);
      const done = { ...record.spec, target: { ...target, uri } };
      delete done.operation;
      record = await this.save(record, done);
      this.#log.info({ volume: name, node, uri }, 'volume published');
      return this.view(record.spec);
    });
  }

  #defaultTargetNode(spec: VolumeSpec): string {
    const candidates = spec.replicaSet.filter((r) => r.uuid && this.#registry.online(r.node));
    if (candidates.length === 0) throw new ControlError('NodeOffline', `volume ${spec.name}: no node holding one of its replicas is online`, { volume: spec.name });
    return candidates[0]!.node;
  }

  unpublish(name: string): Promise<VolumeView> {
    return this.lock.run(name, async () => {
      let record = await this.require(name);
      if (!record.spec.target) return this.view(record.spec);
      record = await this.save(record, { ...record.spec, operation: beginOperation('unpublish') });
      if (!this.#registry.online(record.spec.target!.node))
        throw new ControlError('NodeOffline', `node ${record.spec.target!.node} is offline; its nexus cannot be shut down now`, { node: record.spec.target!.node });
      await this.#targets.destroy(record.spec, record.spec.target!.node);
      const done = { ...record.spec };
      delete done.target;
      delete done.operation;
      record = await this.save(record, done);
      return this.view(record.spec);
    });
  }

  /** Grows every replica, then the nexus; the spec takes the new size when both are done. */
  resize(name: string, sizeBytes: number): Promise<VolumeView> {
    return this.lock.run(name, async () => {
      let record = await this.require(name);
      const spec = record.spec;
      if (sizeBytes === spec.sizeBytes) return this.view(spec);
      if (sizeBytes < spec.sizeBytes) throw new ControlError('InvalidArgument', `volume ${name} cannot shrink (${spec.sizeBytes} to ${sizeBytes} bytes)`, { volume: name });
      if (spec.operation) throw new ControlError('Conflict', `volume ${name} is busy (${spec.operation.kind})`, { volume: name });
      const away = spec.replicaSet.filter((r) => !this.#registry.online(r.node));
      if (away.length) throw new ControlError('NodeOffline', `volume ${name}: every replica must grow, and node(s) ${away.map((r) => r.node).join(', ')} are offline`, { volume: name });
      if (!spec.thin) {
        await this.#registry.refreshCapacity();
        const short = spec.replicaSet.filter((r) => this.#registry.poolState(r.node, r.pool).availableBytes < sizeBytes - spec.sizeBytes);
        if (short.length) throw new ControlError('NoSpace', `volume ${name}: pool(s) ${short.map((r) => `${r.node}/${r.pool}`).join(', ')} cannot take ${sizeBytes - spec.sizeBytes} more bytes`, { volume: name });
      }
      record = await this.save(record, { ...spec, operation: beginOperation('resize', { sizeBytes }) });
      return this.view((await this.finishResize(record)).spec);
    });
  }

  async finishResize(record: Versioned<VolumeSpec>): Promise<Versioned<VolumeSpec>> {
    const spec = record.spec;
    const sizeBytes = spec.operation!.sizeBytes!;
    for (const r of spec.replicaSet) await this.#clients.call(r.node, 'replica_resize', { uuid: r.uuid!, size_bytes: sizeBytes });
    if (spec.target && this.#registry.online(spec.target.node) && targetNexus(this.#registry, spec))
      await this.#clients.call(spec.target.node, 'nexus_resize', { name: spec.uuid, size_bytes: sizeBytes });
    const done = { ...structuredClone(spec), sizeBytes };
    delete done.operation;
    record = await this.save(record, done);
    await Promise.all([...new Set(spec.replicaSet.map((r) => r.node))].map((n) => this.#registry.refreshNode(n)));
    this.#log.info({ volume: spec.name, sizeBytes }, 'volume resized');
    return record;
  }

  scale(name: string, replicas: number): Promise<VolumeView> {
    return this.lock.run(name, async () => {
      let record = await this.require(name);
      await this.#registry.refresh();
      // A scale-up that cannot be placed is refused before the count is saved: a refused
      // request changes nothing (saved first, the reconciler would go on trying it).
      const more = replicas - record.spec.replicaSet.length;
      if (more > 0) this.#place(record.spec.sizeBytes, record.spec.thin, more, record.spec.topology, record.spec.replicaSet.map((r) => r.node));
      if (record.spec.replicas !== replicas) record = await this.save(record, { ...record.spec, replicas });
      record = await this.reconcileCount(record);
      return this.view(record.spec);
    });
  }

  /** Adds or removes replicas until the volume has its count. Caller holds the lock. */
  async reconcileCount(record: Versioned<VolumeSpec>): Promise<Versioned<VolumeSpec>> {
    while (record.spec.replicaSet.length < record.spec.replicas) record = await this.addReplica(record);
    while (record.spec.replicaSet.length > record.spec.replicas) record = await this.removeReplica(record, this.#leastWanted(record.spec));
    return record;
  }

  /** Least healthy first, then one away from the target, then the newest. */
  #leastWanted(spec: VolumeSpec): ReplicaSpec {
    const ranked = spec.replicaSet.map((r, i) => ({ r, i, health: HEALTH_ORDER[replicaStatus(this.#registry, spec, r)], local: spec.target?.node === r.node }));
    ranked.sort((a, b) => a.health - b.health || Number(a.local) - Number(b.local) || b.i - a.i);
    return ranked[0]!.r;
  }

  /** Places and makes one more replica; when published, adds it to the nexus (full rebuild). */
  async addReplica(record: Versioned<VolumeSpec>, exclude: string[] = []): Promise<Versioned<VolumeSpec>> {
    const spec = structuredClone(record.spec);
    const [placement] = this.#place(spec.sizeBytes, spec.thin, 1, spec.topology, [...spec.replicaSet.map((r) => r.node), ...exclude]);
    const index = Math.max(-1, ...spec.replicaSet.map((r) => Number(r.name.slice(spec.uuid.length + 1)))) + 1;
    const replica: ReplicaSpec = { name: `${spec.uuid}-${index}`, node: placement!.node, pool: placement!.pool };
    spec.replicaSet.push(replica);
    spec.operation = beginOperation('scale', { replica: replica.name });
    record = await this.save(record, spec);
    return this.finishAddReplica(record, replica.name);
  }

  async finishAddReplica(record: Versioned<VolumeSpec>, name: string): Promise<Versioned<VolumeSpec>> {
    const spec = structuredClone(record.spec);
    const replica = spec.replicaSet.find((r) => r.name === name)!;
    if (!replica.uuid) {
      replica.uuid = await this.makeReplica(spec, replica);
      record = await this.save(record, spec);
    }
    if (spec.target && this.#registry.online(spec.target.node) && targetNexus(this.#registry, spec)) await this.#targets.addChild(spec, replica);
    const done = structuredClone(record.spec);
    delete done.operation;
    record = await this.save(record, done);
    await this.#registry.refreshNode(replica.node);
    if (spec.target) await this.#registry.refreshNode(spec.target.node);
    this.#log.info({ volume: spec.name, replica: replica.name, node: replica.node }, 'replica added');
    return record;
  }

  /** Takes a replica out of the nexus and the spec; destroys it now or, if its node is away, later. */
  async removeReplica(record: Versioned<VolumeSpec>, replica: ReplicaSpec): Promise<Versioned<VolumeSpec>> {
    const spec = structuredClone(record.spec);
    const child = childOf(targetNexus(this.#registry, spec), replica);
    if (child && spec.target && this.#registry.online(spec.target.node)) await this.#targets.removeChild(spec, child.uri);
    spec.replicaSet = spec.replicaSet.filter((r) => r.name !== replica.name);
    delete spec.operation;
    record = await this.save(record, spec);
    await this.destroyReplica(replica);
    if (spec.target) await this.#registry.refreshNode(spec.target.node);
    this.#log.info({ volume: spec.name, replica: replica.name, node: replica.node }, 'replica removed');
    return record;
  }
}
