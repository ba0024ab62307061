// Nexus info in the shared state store, keyed as Mayastor keys it: by nexus uuid, then
// by child (the replica's uuid when the child is a nodestor replica, else its URI). One
// transaction writes a nexus's whole record, so a reader never sees half an update. A
// daemon on etcd writes here directly: the I/O path never waits for the control plane.
import type { NexusInfoStore, StoredNexusInfo } from '../../daemon/nexus-store.js';
import type { StateStore, TxnOp } from './store.js';

const REPLICA = /nqn\.2019-05\.io\.nodestor:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/;

/** The key part for one child. */
export function childKey(uri: string): string {
  return REPLICA.exec(uri)?.[1] ?? encodeURIComponent(uri);
}

export class StoreNexusInfoStore implements NexusInfoStore {
  #store: StateStore;
  constructor(store: StateStore) {
    this.#store = store;
  }

  #prefix(uuid: string): string {
    return `nexus/${uuid}/`;
  }

  async save(info: StoredNexusInfo): Promise<void> {
    const prefix = this.#prefix(info.uuid);
    const existing = await this.#store.range(prefix);
    const keep = new Set([`${prefix}info`, ...info.children.map((c) => `${prefix}children/${c.replica ?? childKey(c.uri)}`)]);
    const ops: TxnOp[] = [
      { put: { key: `${prefix}info`, value: JSON.stringify({ name: info.name, cleanShutdown: info.cleanShutdown }) } },
      ...info.children.map((c) => ({ put: { key: `${prefix}children/${c.replica ?? childKey(c.uri)}`, value: JSON.stringify({ uri: c.uri, healthy: c.healthy, ...(c.replica ? { replica: c.replica } : {}) }) } })),
      ...existing.filter((kv) => !keep.has(kv.key)).map((kv) => ({ delete: { key: kv.key } })),
    ];
    await this.#store.txn([], ops);
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

  async remove(uuid: string): Promise<void> {
    const kvs = await this.#store.range(this.#prefix(uuid));
    if (kvs.length) await this.#store.txn([], kvs.map((kv) => ({ delete: { key: kv.key } })));
  }
}
