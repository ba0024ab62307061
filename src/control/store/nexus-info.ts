// Nexus info in the shared state store, keyed as Mayastor keys it: by nexus uuid, then
// by child (the replica's uuid when the child is a nodestor replica, else its URI). One
// transaction writes a nexus's whole record, so a reader never sees half an update. A
// daemon on etcd writes here directly: the I/O path never waits for the control plane.
// Fencing: the control plane records which node's nexus owns a volume's record
// (nexus-owner/<uuid>) before it makes that nexus; a writer naming another node is
// refused, in the same transaction as the write, so an old nexus left behind a partition
// cannot overwrite the new one's record (the I/O that depends on it then fails).
import type { NexusInfoStore, StoredNexusInfo } from '../../daemon/nexus-store.js';
import { ControlError } from '../errors.js';
import type { Compare, StateStore, TxnOp } from './store.js';

const REPLICA = /nqn\.2019-05\.io\.nodestor:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/;

/** The key part for one child. */
export function childKey(uri: string): string {
  return REPLICA.exec(uri)?.[1] ?? encodeURIComponent(uri);
}

const ownerKey = (uuid: string) => `nexus-owner/${uuid}`;

export class StoreNexusInfoStore implements NexusInfoStore {
  #store: StateStore;
  readonly #writer: string | undefined;
  /** `writer`: the node whose nexuses write through this store (a daemon's), fenced by owner. */
  constructor(store: StateStore, writer?: string) {
    this.#store = store;
    this.#writer = writer;
  }

  #prefix(uuid: string): string {
    return `nexus/${uuid}/`;
  }

  /** The control plane: from now on only `node`'s nexus writes this record. */
  async setOwner(uuid: string, node: string): Promise<void> {
    await this.#store.put(ownerKey(uuid), node);
  }

  async clearOwner(uuid: string): Promise<void> {
    await this.#store.delete(ownerKey(uuid));
  }

  /** The compare that keeps the owner as read; throws when `writer` is not the owner. */
  async #fence(uuid: string, writer: string | undefined): Promise<Compare[]> {
    if (writer === undefined) return [];
    const owner = await this.#store.get(ownerKey(uuid));
    if (owner && owner.value !== writer)
      throw new ControlError('Conflict', `nexus ${uuid} on node ${writer} is fenced: node ${owner.value} holds its volume's target now`, { uuid, node: writer, target: owner.value });
    return [{ key: ownerKey(uuid), modRevision: owner?.modRevision ?? 0 }];
  }

  /** Runs `ops` if `writer` still owns the record (every attempt reads the owner again). */
  async #commit(uuid: string, writer: string | undefined, ops: TxnOp[]): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const compares = await this.#fence(uuid, writer); // throws when fenced
      if ((await this.#store.txn(compares, ops)).succeeded) return;
    }
    throw new ControlError('Conflict', `nexus ${uuid}: its owner kept changing during the write; try again`, { uuid });
  }

  save(info: StoredNexusInfo): Promise<void> {
    return this.saveAs(info, this.#writer);
  }

  async saveAs(info: StoredNexusInfo, writer: string | undefined): Promise<void> {
    await this.#fence(info.uuid, writer); // fail early, before reading the record
    const prefix = this.#prefix(info.uuid);
    const existing = await this.#store.range(prefix);
    const keep = new Set([`${prefix}info`, ...info.children.map((c) => `${prefix}children/${c.replica ?? childKey(c.uri)}`)]);
    const ops: TxnOp[] = [
      { put: { key: `${prefix}info`, value: JSON.stringify({ name: info.name, cleanShutdown: info.cleanShutdown }) } },
      ...info.children.map((c) => ({ put: { key: `${prefix}children/${c.replica ?? childKey(c.uri)}`, value: JSON.stringify({ uri: c.uri, healthy: c.healthy, ...(c.replica ? { replica: c.replica } : {}) }) } })),
      ...existing.filter((kv) => !keep.has(kv.key)).map((kv) => ({ delete: { key: kv.key } })),
    ];
    await this.#commit(info.uuid, writer, ops);
  }

  async load(uuid: string): Promise<StoredNexusInfo | undefined> {
    const prefix = this.#prefix(uuid);
    const kvs = await this.#store.range(prefix);
    const head = kvs.find((kv) => kv.key === `${prefix}info`);
    if (!head) return undefined;
    const { name, cleanShutdown } = JSON.parse(head.value) as { name: string; cleanShutdown: boolean };
    const children = kvs.filter((kv) => kv.key.startsWith(`${prefix}children/`)).map((kv) => JSON.parse(kv.value) as StoredNexusInfo['children'][number]);
    return { name, uuid, cleanShutdown, children };
  }

  remove(uuid: string): Promise<void> {
    return this.removeAs(uuid, this.#writer);
  }

  async removeAs(uuid: string, writer: string | undefined): Promise<void> {
    const kvs = await this.#store.range(this.#prefix(uuid));
    if (kvs.length) await this.#commit(uuid, writer, kvs.map((kv) => ({ delete: { key: kv.key } })));
    else await this.#fence(uuid, writer);
  }
}
