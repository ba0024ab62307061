// The etcd v3 state store, through the etcd3 client: the same interface as the embedded
// store, with revisions, transactions, watches and leases done by etcd itself, so several
// control planes (and daemons writing nexus info) share one state.
import { Etcd3, type IOptions, type Lease as EtcdLease, type Watcher } from 'etcd3';
import type { Compare, KeyValue, Lease, StateStore, TxnOp, TxnResult, Watch, WatchEvent } from './store.js';

type RawKv = { key: Buffer; value: Buffer; mod_revision: string; create_revision: string; version: string; lease: string };

function toKv(raw: RawKv): KeyValue {
  const lease = raw.lease && raw.lease !== '0' ? raw.lease : undefined;
  return {
    key: raw.key.toString(),
    value: raw.value.toString(),
    modRevision: Number(raw.mod_revision),
    createRevision: Number(raw.create_revision),
    version: Number(raw.version),
    lease,
  };
}

export class EtcdStore implements StateStore {
  readonly kind = 'etcd' as const;
  #client: Etcd3;
  #leases = new Set<EtcdLease>();

  private constructor(client: Etcd3) {
    this.#client = client;
  }

  /** `endpoints`: host:port list (etcd://h:p[,h:p] in the CLI). Checks the server answers. */
  static async connect(endpoints: string[], options: Omit<IOptions, 'hosts'> = {}): Promise<EtcdStore> {
    const client = new Etcd3({ hosts: endpoints.map((e) => (e.includes('://') ? e : `http://${e}`)), dialTimeout: 3000, ...options });
    try {
      await client.get('nodestor-ping').string();
    } catch (error) {
      client.close();
      throw new Error(`etcd at ${endpoints.join(',')} does not answer: ${(error as Error).message}`);
    }
    return new EtcdStore(client);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const response = await this.#client.get(key).exec();
    const raw = response.kvs[0] as unknown as RawKv | undefined;
    return raw ? toKv(raw) : undefined;
  }

  async range(prefix: string): Promise<KeyValue[]> {
    const response = await this.#client.getAll().prefix(prefix).sort('Key', 'Ascend').exec();
    return (response.kvs as unknown as RawKv[]).map(toKv);
  }

  async put(key: string, value: string, options: { lease?: string } = {}): Promise<number> {
    const builder = this.#client.put(key).value(value);
    if (options.lease) builder.lease(options.lease);
    const response = await builder.exec();
    return Number(response.header.revision);
  }

  async delete(key: string): Promise<boolean> {
    const response = await this.#client.delete().key(key).exec();
    return Number(response.deleted) > 0;
  }

  async txn(compares: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const op = (o: TxnOp) => {
      if ('put' in o) {
        const b = this.#client.put(o.put.key).value(o.put.value);
        if (o.put.lease) b.lease(o.put.lease);
        return b;
      }
      return this.#client.delete().key(o.delete.key);
    };
    // etcd compares the mod revision (0 for a missing key), as our Compare means.
    let builder;
    if (compares.length === 0) builder = this.#client.if('nodestor-always', 'Mod', '>', -1); // always true
    else {
      builder = this.#client.if(compares[0]!.key, 'Mod', '==', compares[0]!.modRevision);
      for (const c of compares.slice(1)) builder = builder.and(c.key, 'Mod', '==', c.modRevision);
    }
    const response = await builder
      .then(...success.map(op))
      .else(...failure.map(op))
      .commit();
    return { succeeded: response.succeeded, revision: Number(response.header.revision) };
  }

  async watch(prefix: string, onEvent: (event: WatchEvent) => void, afterRevision?: number): Promise<Watch> {
    let builder = this.#client.watch().prefix(prefix);
    if (afterRevision !== undefined) builder = builder.startRevision(String(afterRevision + 1));
    const watcher: Watcher = await builder.create();
    watcher.on('put', (kv) => onEvent({ type: 'put', kv: toKv(kv as unknown as RawKv) }));
    watcher.on('delete', (kv) => onEvent({ type: 'delete', kv: toKv(kv as unknown as RawKv) }));
    return { close: () => watcher.cancel() };
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    if (!(ttlMs >= 1000)) throw new RangeError('an etcd lease TTL is at least 1000 ms');
    const lease = this.#client.lease(Math.ceil(ttlMs / 1000), { autoKeepAlive: true });
    const id = await lease.grant();
    this.#leases.add(lease);
    const lost: ((why: string) => void)[] = [];
    lease.on('lost', (error) => {
      this.#leases.delete(lease);
      for (const cb of lost.splice(0)) cb(error.message);
    });
    return {
      id,
      onLost: (cb) => void lost.push(cb),
      revoke: async () => {
        if (!this.#leases.delete(lease)) return;
        await lease.revoke();
        for (const cb of lost.splice(0)) cb('revoked');
      },
    };
  }

  async close(): Promise<void> {
    for (const lease of [...this.#leases]) await lease.revoke().catch(() => undefined);
    this.#leases.clear();
    this.#client.close();
  }
}
