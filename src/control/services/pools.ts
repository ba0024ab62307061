// Pools on nodes: made by the control plane on a node's disk (imported when the disk holds
// one), listed with their capacity as the node last reported it, imported again when
// their node restarts, and destroyed only when no volume has a replica on them.
import type { Logger } from 'pino';
import { ControlError } from '../errors.js';
import { nodeErrorCode, type NodeClients } from '../registry/node-clients.js';
import type { Registry } from '../registry/registry.js';
import type { SpecStore } from '../specs/spec-store.js';
import type { Labels, PoolSpec, PoolState } from '../types.js';
import { KeyedLock } from './keyed-lock.js';

export interface PoolView {
  spec: PoolSpec;
  state: PoolState;
}

export class Pools {
  readonly #lock = new KeyedLock();
  readonly #specs: SpecStore;
  readonly #registry: Registry;
  readonly #clients: NodeClients;
  readonly #log: Logger;
  /** The pool specs, as of the last read: placement uses them without a store round trip. */
  #cached: PoolSpec[] = [];

  constructor(deps: { specs: SpecStore; registry: Registry; clients: NodeClients; log: Logger }) {
    this.#specs = deps.specs;
    this.#registry = deps.registry;
    this.#clients = deps.clients;
    this.#log = deps.log;
  }

  async list(node?: string): Promise<PoolView[]> {
    this.#cached = (await this.#specs.listPools()).map((p) => p.spec);
    return this.#cached.filter((p) => node === undefined || p.node === node).map((spec) => ({ spec, state: this.#registry.poolState(spec.node, spec.name) }));
  }

  /** For placement: every known pool with its latest state. */
  placementPools(): PoolView[] {
    return this.#cached.map((spec) => ({ spec, state: this.#registry.poolState(spec.node, spec.name) }));
  }

  create(node: string, request: { name: string; disk: string; labels?: Labels }): Promise<PoolView> {
    return this.#lock.run(`${node}/${request.name}`, async () => {
      if (!this.#registry.node(node)) throw new ControlError('NotFound', `node ${node} is not registered`, { node });
      if (!this.#registry.online(node)) throw new ControlError('NodeOffline', `node ${node} is offline`, { node });
      const existing = await this.#specs.getPool(node, request.name);
      if (existing && existing.spec.disk !== request.disk)
        throw new ControlError('AlreadyExists', `pool ${node}/${request.name} exists on disk ${existing.spec.disk}`, { node, pool: request.name, disk: existing.spec.disk });
      const spec: PoolSpec = existing?.spec ?? { node, name: request.name, disk: request.disk, labels: request.labels ?? {} };
      if (!existing) await this.#specs.putPool(spec, 0);
      try {
        await this.ensureOnNode(spec);
      } catch (error) {
        if (!existing) {
          const written = await this.#specs.getPool(node, request.name);
          if (written) await this.#specs.deletePool(node, request.name, written.revision).catch(() => undefined);
        }
        throw error;
      }
      await this.list();
      return { spec, state: this.#registry.poolState(node, spec.name) };
    });
  }

  /** Imports the pool on its node, or makes it when the disk holds none. */
  async ensureOnNode(spec: PoolSpec): Promise<'present' | 'imported' | 'created'> {
    await this.#registry.refreshNode(spec.node);
    if (this.#registry.node(spec.node)?.pools.has(spec.name)) return 'present';
    let how: 'imported' | 'created' = 'imported';
    try {
      const imported = await this.#clients.call<{ name: string }>(spec.node, 'pool_import', { disk: spec.disk });
      if (imported.name !== spec.name) {
        await this.#clients.call(spec.node, 'pool_export', { name: imported.name });
        throw new ControlError('Conflict', `disk ${spec.disk} on node ${spec.node} holds pool ${imported.name}, not ${spec.name}`, { node: spec.node, disk: spec.disk, found: imported.name });
      }
    } catch (error) {
      if (nodeErrorCode(error) !== 'ENOENT') throw error;
      await this.#clients.call(spec.node, 'pool_create', { name: spec.name, disk: spec.disk });
      how = 'created';
    }
    await this.#registry.refreshNode(spec.node);
    this.#log.info({ node: spec.node, pool: spec.name, disk: spec.disk, how }, `pool ${how}`);
    return how;
  }

  delete(node: string, name: string, inUse: (node: string, pool: string) => boolean): Promise<void> {
    return this.#lock.run(`${node}/${name}`, async () => {
      const existing = await this.#specs.getPool(node, name);
      if (!existing) throw new ControlError('NotFound', `no pool ${node}/${name}`, { node, pool: name });
      if (inUse(node, name)) throw new ControlError('Conflict', `pool ${node}/${name} holds replicas of volumes; move or delete them first`, { node, pool: name });
      if (!this.#registry.online(node)) throw new ControlError('NodeOffline', `node ${node} is offline`, { node });
      try {
        await this.#clients.call(node, 'pool_destroy', { name });
      } catch (error) {
        if (nodeErrorCode(error) !== 'ENOENT') throw error;
      }
      await this.#specs.deletePool(node, name, existing.revision);
      await this.list();
      await this.#registry.refreshNode(node);
    });
  }
}
