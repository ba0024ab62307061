// The embedded state store: classic-level (LevelDB) with every change written with sync,
// revisions kept as etcd keeps them, watches and leases in this process. Leases do not
// survive the process: keys attached to one are deleted when the store opens again, as
// etcd deletes them once their lease expires.
import { EventEmitter } from 'node:events';
import { ClassicLevel } from 'classic-level';
import type { Compare, KeyValue, Lease, StateStore, TxnOp, TxnResult, Watch, WatchEvent } from './store.js';

const KEY = 'k:';
const META_REVISION = 'm:revision';
/** Events kept for watches that start at a past revision. */
const HISTORY = 10_000;

type Stored = Omit<KeyValue, 'key'>;
type BatchOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

class EmbeddedLease implements Lease {
  readonly id: string;
  #lost: ((why: string) => void)[] = [];
  constructor(id: string) {
    this.id = id;
  }
  revokeFn: () => Promise<void> = async () => {};
  onLost(callback: (why: string) => void): void {
    this.#lost.push(callback);
  }
  lost(why: string): void {
    for (const cb of this.#lost.splice(0)) cb(why);
  }
  revoke(): Promise<void> {
    return this.revokeFn();
  }
}

export class EmbeddedStore implements StateStore {
  readonly kind = 'embedded' as const;
  #db: ClassicLevel<string, string>;
  #revision = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #events = new EventEmitter();
  #history: { revision: number; event: WatchEvent }[] = [];
  #leases = new Map<string, EmbeddedLease>();
  #nextLease = 1;
  #closed = false;

  private constructor(db: ClassicLevel<string, string>) {
    this.#db = db;
    this.#events.setMaxListeners(0);
  }

  /** Opens (or creates) the store in `dir`. */
  static async open(dir: string): Promise<EmbeddedStore> {
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
    await db.open();
    const store = new EmbeddedStore(db);
    store.#revision = Number((await db.get(META_REVISION)) ?? 0);
    // Keys held by leases of an earlier process: their leases are gone.
    const orphans: string[] = [];
    for await (const [key, raw] of db.iterator({ gte: KEY, lt: `${KEY}\uffff` })) if ((JSON.parse(raw) as Stored).lease) orphans.push(key.slice(KEY.length));
    for (const key of orphans) await store.delete(key);
    return store;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const raw = await this.#db.get(KEY + key);
    return raw === undefined ? undefined : { key, ...(JSON.parse(raw) as Stored) };
  }

  async range(prefix: string): Promise<KeyValue[]> {
    const out: KeyValue[] = [];
    for await (const [key, raw] of this.#db.iterator({ gte: KEY + prefix, lt: `${KEY}${prefix}\uffff` }))
      out.push({ key: key.slice(KEY.length), ...(JSON.parse(raw) as Stored) });
    return out;
  }

  put(key: string, value: string, options: { lease?: string } = {}): Promise<number> {
    return this.#serial(async () => (await this.#apply([{ put: { key, value, lease: options.lease } }])).revision);
  }

  delete(key: string): Promise<boolean> {
    return this.#serial(async () => {
      const existed = (await this.get(key)) !== undefined;
      if (existed) await this.#apply([{ delete: { key } }]);
      return existed;
    });
  }

  txn(compares: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    return this.#serial(async () => {
      let holds = true;
      for (const c of compares) {
        const kv = await this.get(c.key);
        if ((kv?.modRevision ?? 0) !== c.modRevision) holds = false;
      }
      const { revision } = await this.#apply(holds ? success : failure);
      return { succeeded: holds, revision };
    });
  }

  async watch(prefix: string, onEvent: (event: WatchEvent) => void, afterRevision?: number): Promise<Watch> {
    const listener = (event: WatchEvent) => {
      if (event.kv.key.startsWith(prefix)) onEvent(event);
    };
    if (afterRevision !== undefined)
      for (const h of this.#history) if (h.revision > afterRevision && h.event.kv.key.startsWith(prefix)) onEvent(h.event);
    this.#events.on('event', listener);
    return { close: async () => void this.#events.off('event', listener) };
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    if (!(ttlMs >= 100)) throw new RangeError('a lease TTL is at least 100 ms');
    const lease = new EmbeddedLease(`embedded-${process.pid}-${this.#nextLease++}`);
    // In one process the holder cannot die without the store: the lease lives until
    // revoked or closed. The TTL is what another process would see (etcd), not used here.
    lease.revokeFn = async () => {
      if (!this.#leases.delete(lease.id)) return;
      await this.#dropLeaseKeys(lease.id);
      lease.lost('revoked');
    };
    this.#leases.set(lease.id, lease);
    return lease;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const lease of [...this.#leases.values()]) await lease.revoke().catch(() => undefined);
    this.#closed = true;
    await this.#queue.catch(() => undefined);
    await this.#db.close();
  }

  async #dropLeaseKeys(id: string): Promise<void> {
    const held = (await this.range('')).filter((kv) => kv.lease === id);
    for (const kv of held) await this.delete(kv.key);
  }

  /** Mutations run one at a time, so a transaction's compares and writes are atomic. */
  #serial<T>(body: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new Error('the store is closed');
      return body();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** One revision, one synced batch; then the watchers hear of it. */
  async #apply(ops: TxnOp[]): Promise<{ revision: number }> {
    if (ops.length === 0) return { revision: this.#revision };
    const revision = this.#revision + 1;
    const batch: BatchOp[] = [];
    const events: WatchEvent[] = [];
    for (const op of ops) {
      if ('put' in op) {
        if (op.put.lease && !this.#leases.has(op.put.lease)) throw new Error(`lease ${op.put.lease} does not exist`);
        const old = await this.get(op.put.key);
        const kv: KeyValue = {
          key: op.put.key,
          value: op.put.value,
          modRevision: revision,
          createRevision: old?.createRevision ?? revision,
          version: (old?.version ?? 0) + 1,
          lease: op.put.lease,
        };
        batch.push({ type: 'put', key: KEY + kv.key, value: JSON.stringify({ value: kv.value, modRevision: kv.modRevision, createRevision: kv.createRevision, version: kv.version, lease: kv.lease }) });
        events.push({ type: 'put', kv });
      } else {
        const old = await this.get(op.delete.key);
        if (!old) continue;
        batch.push({ type: 'del', key: KEY + op.delete.key });
        events.push({ type: 'delete', kv: { ...old, modRevision: revision } });
      }
    }
    if (batch.length === 0) return { revision: this.#revision };
    batch.push({ type: 'put', key: META_REVISION, value: String(revision) });
    await this.#db.batch(batch, { sync: true });
    this.#revision = revision;
    for (const event of events) {
      this.#history.push({ revision, event });
      this.#events.emit('event', event);
    }
    if (this.#history.length > HISTORY) this.#history.splice(0, this.#history.length - HISTORY);
    return { revision };
  }
}
