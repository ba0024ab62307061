// The desired state in the state store: nodes, pools and volumes as JSON under their own
// prefixes. Every write is a compare-and-swap on the record's revision, so two control
// planes (or a stale leader) never overwrite each other's change unseen.
import { ControlError } from '../errors.js';
import type { StateStore } from '../store/store.js';
import type { NodeSpec, PoolSpec, VolumeSpec } from '../types.js';

export interface Versioned<T> {
  spec: T;
  /** The store revision of the record; 0 for one not yet written. */
  revision: number;
}

const NODES = 'specs/nodes/';
const POOLS = 'specs/pools/';
const VOLUMES = 'specs/volumes/';
export const HEARTBEATS = 'registry/heartbeats/';

export class SpecStore {
  readonly store: StateStore;
  constructor(store: StateStore) {
    this.store = store;
  }

  async #get<T>(key: string): Promise<Versioned<T> | undefined> {
    const kv = await this.store.get(key);
    return kv ? { spec: JSON.parse(kv.value) as T, revision: kv.modRevision } : undefined;
  }

  async #list<T>(prefix: string): Promise<Versioned<T>[]> {
    return (await this.store.range(prefix)).map((kv) => ({ spec: JSON.parse(kv.value) as T, revision: kv.modRevision }));
  }

  /** Writes `spec` if the record is still at `revision` (0: absent); returns the new revision. */
  async #put<T>(key: string, spec: T, revision: number, what: string): Promise<number> {
    const result = await this.store.txn([{ key, modRevision: revision }], [{ put: { key, value: JSON.stringify(spec) } }]);
    if (!result.succeeded) throw new ControlError('Conflict', `${what} changed while this change was made; try again`, { key });
    return result.revision;
  }

  async #delete(key: string, revision: number, what: string): Promise<void> {
    const result = await this.store.txn([{ key, modRevision: revision }], [{ delete: { key } }]);
    if (!result.succeeded) throw new ControlError('Conflict', `${what} changed while it was being deleted; try again`, { key });
  }

  getNode(name: string) {
    return this.#get<NodeSpec>(NODES + name);
  }
  listNodes() {
    return this.#list<NodeSpec>(NODES);
  }
  /** Registration replaces what a node said before. */
  async putNode(spec: NodeSpec): Promise<void> {
    await this.store.put(NODES + spec.name, JSON.stringify(spec));
  }

  getPool(node: string, name: string) {
    return this.#get<PoolSpec>(`${POOLS}${node}/${name}`);
  }
  listPools() {
    return this.#list<PoolSpec>(POOLS);
  }
  putPool(spec: PoolSpec, revision: number) {
    return this.#put(`${POOLS}${spec.node}/${spec.name}`, spec, revision, `pool ${spec.node}/${spec.name}`);
  }
  deletePool(node: string, name: string, revision: number) {
    return this.#delete(`${POOLS}${node}/${name}`, revision, `pool ${node}/${name}`);
  }

  getVolume(name: string) {
    return this.#get<VolumeSpec>(VOLUMES + name);
  }
  listVolumes() {
    return this.#list<VolumeSpec>(VOLUMES);
  }
  putVolume(spec: VolumeSpec, revision: number) {
    return this.#put(VOLUMES + spec.name, spec, revision, `volume ${spec.name}`);
  }
  deleteVolume(name: string, revision: number) {
    return this.#delete(VOLUMES + name, revision, `volume ${name}`);
  }

  async heartbeat(node: string, at: number): Promise<void> {
    await this.store.put(HEARTBEATS + node, String(at));
  }
  async heartbeats(): Promise<Map<string, number>> {
    return new Map((await this.store.range(HEARTBEATS)).map((kv) => [kv.key.slice(HEARTBEATS.length), Number(kv.value)]));
  }
}
