// One suite, both state stores: the embedded one (classic-level) and a real etcd server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/control/store/embedded.js';
import { EtcdStore } from '../../src/control/store/etcd.js';
import type { StateStore, WatchEvent } from '../../src/control/store/store.js';
import { startEtcd, type EtcdServer } from './helpers/etcd.js';

let etcd: EtcdServer;
const dirs: string[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Kind {
  name: 'embedded' | 'etcd';
  open(): Promise<StateStore>;
  /** The same state seen again: reopened (embedded) or a second client (etcd). */
  reopen(): Promise<StateStore>;
}

let embeddedDir = '';
const kinds: Kind[] = [
  {
    name: 'embedded',
    open: async () => {
      embeddedDir = mkdtempSync(join(tmpdir(), 'nodestor-store-'));
      dirs.push(embeddedDir);
      return EmbeddedStore.open(embeddedDir);
    },
    reopen: () => EmbeddedStore.open(embeddedDir),
  },
  { name: 'etcd', open: () => EtcdStore.connect([etcd.endpoint]), reopen: () => EtcdStore.connect([etcd.endpoint]) },
];

const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe.each(kinds)('state store: $name', (kind) => {
  let store: StateStore;
  let prefix = '';
  let n = 0;
  const open = async () => {
    store = await kind.open();
    prefix = `t${process.pid}-${n++}/`;
    return store;
  };
  afterEach(async () => {
    await store?.close();
  });

  it('put, get, range by prefix in key order, delete; revisions and versions as etcd counts them', async () => {
    await open();
    const r1 = await store.put(`${prefix}b`, '2');
    const r2 = await store.put(`${prefix}a`, '1');
    const r3 = await store.put(`${prefix}b`, '3');
    await store.put(`${prefix}x`.replace('/', '-'), 'outside'); // another prefix
    expect(r2).toBeGreaterThan(r1);
    expect(r3).toBeGreaterThan(r2);
    expect(await store.get(`${prefix}b`)).toEqual({ key: `${prefix}b`, value: '3', modRevision: r3, createRevision: r1, version: 2, lease: undefined });
    expect(await store.get(`${prefix}none`)).toBeUndefined();
    expect((await store.range(prefix)).map((kv) => [kv.key, kv.value])).toEqual([
      [`${prefix}a`, '1'],
      [`${prefix}b`, '3'],
    ]);
    expect(await store.delete(`${prefix}a`)).toBe(true);
    expect(await store.delete(`${prefix}a`)).toBe(false);
    expect((await store.range(prefix)).map((kv) => kv.key)).toEqual([`${prefix}b`]);
  });

  it('transactions compare modRevisions: create-if-absent once, update only from the revision read', async () => {
    await open();
    const key = `${prefix}spec`;
    const first = await store.txn([{ key, modRevision: 0 }], [{ put: { key, value: 'v1' } }]);
    expect(first.succeeded).toBe(true);
    const again = await store.txn([{ key, modRevision: 0 }], [{ put: { key, value: 'other' } }], [{ put: { key: `${prefix}lost`, value: 'yes' } }]);
    expect(again.succeeded).toBe(false);
    expect((await store.get(key))!.value).toBe('v1');
    expect((await store.get(`${prefix}lost`))!.value).toBe('yes'); // the failure branch ran
    const read = (await store.get(key))!;
    const update = await store.txn([{ key, modRevision: read.modRevision }], [{ put: { key, value: 'v2' } }, { delete: { key: `${prefix}lost` } }]);
    expect(update.succeeded).toBe(true);
    const stale = await store.txn([{ key, modRevision: read.modRevision }], [{ put: { key, value: 'stale' } }]);
    expect(stale.succeeded).toBe(false);
    expect((await store.get(key))!.value).toBe('v2');
    expect(await store.get(`${prefix}lost`)).toBeUndefined();
  });

  it('watches see puts and deletes under the prefix in order, and replay from a past revision', async () => {
    await open();
    const seen: WatchEvent[] = [];
    const start = await store.put(`${prefix}before`, '0');
    const watch = await store.watch(prefix, (e) => seen.push(e));
    await store.put(`${prefix}k1`, 'a');
    await store.put(`${prefix.slice(0, -1)}-other`, 'not mine');
    await store.put(`${prefix}k1`, 'b');
    await store.delete(`${prefix}k1`);
    await until(() => seen.length >= 3);
    expect(seen.map((e) => [e.type, e.kv.key, e.type === 'put' ? e.kv.value : ''])).toEqual([
      ['put', `${prefix}k1`, 'a'],
      ['put', `${prefix}k1`, 'b'],
      ['delete', `${prefix}k1`, ''],
    ]);
    await watch.close();
    const replay: WatchEvent[] = [];
    const second = await store.watch(prefix, (e) => replay.push(e), start);
    await until(() => replay.length >= 3);
    expect(replay.map((e) => e.type)).toEqual(['put', 'put', 'delete']);
    await second.close();
  });

  it('leases: keys attached to one go when it is revoked, and when its holder closes', async () => {
    await open();
    const lease = await store.grantLease(2000);
    let lost = '';
    lease.onLost((why) => (lost = why));
    await store.put(`${prefix}node`, 'alive', { lease: lease.id });
    expect((await store.get(`${prefix}node`))!.lease).toBe(lease.id);
    await lease.revoke();
    expect(lost).toBe('revoked');
    expect(await store.get(`${prefix}node`)).toBeUndefined();

    const held = await store.grantLease(2000);
    await store.put(`${prefix}held`, 'x', { lease: held.id });
    await store.put(`${prefix}kept`, 'y');
    await store.close();
    const other = await kind.reopen();
    try {
      expect(await other.get(`${prefix}held`)).toBeUndefined();
      expect((await other.get(`${prefix}kept`))!.value).toBe('y'); // durable
    } finally {
      await other.close();
    }
    store = await kind.open(); // for afterEach
  });
});
