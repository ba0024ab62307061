// A daemon keeping its nexus info in etcd (as it does when the control plane runs on
// etcd): the record is keyed by nexus uuid and child, follows faults, and says clean after
// a crash; a nexus made again after an unclean end opens only the healthy children.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore } from '../../src/control/store/etcd.js';
import { childKey, StoreNexusInfoStore } from '../../src/control/store/nexus-info.js';
import { writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, connect, inProcessDaemon, spawnDaemon, tempDir } from '../daemon/helpers/daemon.js';
import { startEtcd, type EtcdServer } from './helpers/etcd.js';

let etcd: EtcdServer;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await cleanup();
  await etcd?.stop();
});

describe('nexus info in the state store', () => {
  it('is written before the I/O that depends on it, keyed by nexus and child, and goes with the nexus', async () => {
    const store = await EtcdStore.connect([etcd.endpoint]);
    const info = new StoreNexusInfoStore(store);
    const { daemon, client } = await inProcessDaemon({ nexusStore: info });
    try {
      await client.call('bdev_malloc_create', { name: 'c0', num_blocks: 2048, block_size: 4096 });
      await client.call('bdev_malloc_create', { name: 'c1', num_blocks: 2048, block_size: 4096 });
      const nexus = await client.call<{ uuid: string }>('nexus_create', { name: 'nx', children: ['bdev:///c0', 'bdev:///c1'] });
      await client.call('nexus_fault_child', { name: 'nx', uri: 'bdev:///c1' });
      const keys = (await store.range(`nexus/${nexus.uuid}/`)).map((kv) => kv.key);
      expect(keys).toEqual([`nexus/${nexus.uuid}/children/${childKey('bdev:///c0')}`, `nexus/${nexus.uuid}/children/${childKey('bdev:///c1')}`, `nexus/${nexus.uuid}/info`]);
      expect(await info.load(nexus.uuid)).toEqual({
        name: 'nx',
        uuid: nexus.uuid,
        cleanShutdown: false,
        children: [
          { uri: 'bdev:///c0', healthy: true },
          { uri: 'bdev:///c1', healthy: false },
        ],
      });
      await client.call('nexus_destroy', { name: 'nx' });
      expect(await store.range(`nexus/${nexus.uuid}/`)).toEqual([]);
      expect(childKey('nvmf://127.0.0.1:8420/nqn.2019-05.io.nodestor:0a1b2c3d-0000-4000-8000-000000000001')).toBe('0a1b2c3d-0000-4000-8000-000000000001');
    } finally {
      await store.close();
    }
  });

  it('after kill -9 of a daemon writing to etcd, a nexus made again opens only the children that were healthy', async () => {
    const store = await EtcdStore.connect([etcd.endpoint]);
    const dir = tempDir();
    try {
      const disk = join(dir, 'disk.img');
      writeFileSync(disk, '');
      truncateSync(disk, 64 * 1024 * 1024);
      const args = ['--nexus-store', `etcd://${etcd.endpoint}`];
      const first = await spawnDaemon('ne', dir, args);
      const c1 = await connect(first.socket);
      await c1.call('pool_create', { name: 'p', disk: `uring://${disk}?blk_size=4096` });
      for (const name of ['r0', 'r1']) await c1.call('replica_create', { pool: 'p', name, size_bytes: 8 * 1024 * 1024, share: false });
      const config = join(dir, 'conf.json');
      const nexus = await c1.call<{ uuid: string }>('nexus_create', { name: 'nx', children: ['bdev:///p/r0', 'bdev:///p/r1'] });
      await c1.call('nexus_fault_child', { name: 'nx', uri: 'bdev:///p/r1' });
      const subsystems = await c1.call<{ subsystem: string }[]>('framework_get_subsystems');
      const saved = [];
      for (const { subsystem } of subsystems) saved.push({ subsystem, config: await c1.call('framework_get_config', { name: subsystem }) });
      writeFileSync(config, JSON.stringify({ subsystems: saved }));
      first.child.kill('SIGKILL');
      await first.exited;
      expect((await new StoreNexusInfoStore(store).load(nexus.uuid))!.cleanShutdown).toBe(false);
      const second = await spawnDaemon('ne', dir, [...args, '--config', config]);
      const c2 = await connect(second.socket);
      const [again] = await c2.call<{ uuid: string; children: { uri: string }[] }[]>('nexus_list');
      expect(again!.uuid).toBe(nexus.uuid);
      expect(again!.children.map((c) => c.uri)).toEqual(['bdev:///p/r0']); // never the stale r1
      expect(second.stderr()).toMatch(/"dropped":\["bdev:\/\/\/p\/r1"\],"msg":"nexus made without the children that were not healthy"/);
    } finally {
      await store.close();
    }
  });

  it('is fenced by owner: a writer for another node than the owner is refused, in the same transaction', async () => {
    const store = await EtcdStore.connect([etcd.endpoint]);
    try {
      const uuid = '11111111-2222-4333-8444-555555555555';
      const record = (healthy: boolean) => ({ name: 'v', uuid, cleanShutdown: false, children: [{ uri: 'bdev:///x', healthy }] });
      const plane = new StoreNexusInfoStore(store);
      const a = new StoreNexusInfoStore(store, 'node-a');
      const b = new StoreNexusInfoStore(store, 'node-b');
      await a.save(record(true)); // no owner yet: anyone writes
      await plane.setOwner(uuid, 'node-b');
      await expect(a.save(record(false))).rejects.toMatchObject({ code: 'Conflict', details: { node: 'node-a', target: 'node-b' } });
      await expect(a.remove(uuid)).rejects.toMatchObject({ code: 'Conflict' });
      expect((await plane.load(uuid))!.children[0]!.healthy).toBe(true); // untouched
      await b.save(record(false));
      expect((await plane.load(uuid))!.children[0]!.healthy).toBe(false);
      await plane.clearOwner(uuid);
      await plane.remove(uuid);
      expect(await plane.load(uuid)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
