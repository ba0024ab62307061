// Real `nodestor daemon` processes over real sockets: a stop by SIGTERM during I/O, a
// kill -9, a restart from the configuration saved as rpc.py saves it, a config that fails,
// and SPDK v24.01's own saved config. The host doing the I/O is an engine in this process.
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/index.js';
import type { RpcClient } from '../../src/rpc/client.js';
import { BlockModel, startWrites } from '../cluster/helpers/workload.js';
import { cleanup, connect, spawnDaemon, tempDir } from './helpers/daemon.js';

const MiB = 1024 * 1024;
const basePort = 21000 + (process.pid % 300) * 8; // 21000-23399: apart from the other tests' port ranges
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await cleanup();
});

/** The configuration as SPDK's rpc.py save_config builds it, from the client side. */
async function saveConfig(client: RpcClient): Promise<object> {
  const subsystems = await client.call<{ subsystem: string }[]>('framework_get_subsystems');
  const out = [];
  for (const { subsystem } of subsystems) out.push({ subsystem, config: await client.call('framework_get_config', { name: subsystem }) });
  return { subsystems: out };
}

async function hostEngine(): Promise<Engine> {
  engine = await Engine.start({ cores: [1], memoryMb: 64, hugepages: 'off', idle: 'adaptive' });
  return engine;
}

/**
 * A daemon process with a pool on a file and a thin replica shared on `replicaPort`, its
 * config saved as rpc.py saves it, and random writes from this process's engine running
 * until 500 are acknowledged (they go on until stopped).
 */
async function replicaUnderWrites(node: string, replicaPort: number) {
  const dir = tempDir();
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, 64 * MiB);
  const daemon = await spawnDaemon(node, dir, ['--replica-listener', `127.0.0.1:${replicaPort}`]);
  const client = await connect(daemon.socket);
  await client.call('pool_create', { name: 'p0', disk: `uring://${disk}?blk_size=4096` });
  const replica = await client.call<{ uri: string; uuid: string }>('replica_create', { pool: 'p0', name: 'r0', size_bytes: 16 * MiB, thin: true });
  const config = await saveConfig(client);
  const configFile = join(dir, 'conf.json');
  writeFileSync(configFile, JSON.stringify(config));
  const host = await hostEngine();
  const remote = await host.createBdev(`${replica.uri}?ctrl_loss_timeout_ms=300&reconnect_delay_ms=50`);
  const model = new BlockModel(1024);
  const writes = startWrites(remote, model, { first: 0, end: 1024 }, 8);
  while (writes.acked < 500) await new Promise((r) => setTimeout(r, 5));
  const stopWrites = async () => {
    await writes.stop();
    await remote.destroy();
  };
  return { dir, daemon, replica, config, configFile, host, model, stopWrites };
}

async function readBack(host: Engine, uri: string, model: BlockModel): Promise<string[]> {
  const bdev = await host.createBdev(uri);
  const problems: string[] = [];
  for (let b = 0; b < model.blocks; b++) {
    const problem = model.check(b, await bdev.read(b * 4096, 4096));
    if (problem) problems.push(problem);
  }
  await bdev.destroy();
  return problems;
}

describe('nodestor daemon processes', () => {
  it('SIGTERM during writes stops cleanly (exit 0); a restart from the saved config serves every acknowledged write', async () => {
    const { dir, daemon: a, replica, config, configFile, host, model, stopWrites } = await replicaUnderWrites('a', basePort);
    a.child.kill('SIGTERM');
    a.child.kill('SIGINT'); // a second signal during the stop changes nothing (a different one: the kernel would merge two SIGTERMs)
    expect(await a.exited).toBe(0);
    await stopWrites();
    const log = a.stderr();
    expect(log).toMatch(/"msg":"already stopping; this signal changes nothing"/);
    expect(log).toMatch(/"pool":"p0","msg":"pool exported"/);
    expect(log).toMatch(/"msg":"daemon stopped"/);
    expect(log).toMatch(/"rpc":"replica_create".*"ok":true/);

    const b = await spawnDaemon('a', dir, ['--replica-listener', `127.0.0.1:${basePort}`, '--config', configFile]);
    const again = await connect(b.socket);
    const pools = await again.call<{ name: string; imported_dirty: boolean }[]>('pool_list');
    expect(pools.map((p) => [p.name, p.imported_dirty])).toEqual([['p0', false]]); // exported cleanly
    const replicas = await again.call<{ uuid: string; uri: string }[]>('replica_list');
    expect(replicas).toEqual([expect.objectContaining({ uuid: replica.uuid, uri: replica.uri })]);
    expect(await saveConfig(again)).toEqual(config);
    expect(await readBack(host, replica.uri, model)).toEqual([]);
  });

  it('after kill -9 during writes, a restart imports the pool and every acknowledged write is there', async () => {
    const { dir, daemon: a, replica, configFile, host, model, stopWrites } = await replicaUnderWrites('k', basePort + 1);
    a.child.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    await stopWrites();
    const b = await spawnDaemon('k', dir, ['--replica-listener', `127.0.0.1:${basePort + 1}`, '--config', configFile]);
    const again = await connect(b.socket);
    expect((await again.call<{ imported_dirty: boolean }[]>('pool_list'))[0]!.imported_dirty).toBe(true);
    expect(await readBack(host, replica.uri, model)).toEqual([]);
  });

  it('a config with an unknown method or a failing call stops the start, naming the method and its index', async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        subsystems: [
          { subsystem: 'bdev', config: [{ method: 'bdev_malloc_create', params: { name: 'M0', num_blocks: 256, block_size: 4096 } }, { method: 'bdev_frobnicate', params: {} }] },
        ],
      }),
    );
    await expect(spawnDaemon('c', dir, ['--config', bad])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/config call 1 \(bdev\.config\[1\]\) bdev_frobnicate failed \[-32601\]: Method not found: bdev_frobnicate/),
    });
    const failing = join(dir, 'failing.json');
    writeFileSync(failing, JSON.stringify({ subsystems: [{ subsystem: 'bdev', config: [{ method: 'bdev_lvol_create', params: { lvol_name: 'v', size_in_mib: 4, lvs_name: 'none' } }] }] }));
    await expect(spawnDaemon('c', dir, ['--config', failing])).rejects.toMatchObject({ stderr: expect.stringMatching(/config call 0 \(bdev\.config\[0\]\) bdev_lvol_create failed: no lvol store none/) });
  });

  it("starts from SPDK v24.01 nvmf_tgt's saved config: same bdevs, lvol store, subsystem and listener; tunables named in warnings", async () => {
    const dir = tempDir();
    const aio = join(dir, 'aio0.img');
    writeFileSync(aio, '');
    truncateSync(aio, 128 * MiB);
    // SPDK finds the lvol store on the aio bdev by examining it: make one there first.
    const prep = await spawnDaemon('s', dir);
    const p = await connect(prep.socket);
    await p.call('bdev_aio_create', { name: 'Aio0', filename: aio, block_size: 4096 });
    await p.call('bdev_lvol_create_lvstore', { bdev_name: 'Aio0', lvs_name: 'lvs0' });
    const vol = await p.call<string>('bdev_lvol_create', { lvol_name: 'vol1', size_in_mib: 32, lvs_name: 'lvs0' });
    prep.child.kill('SIGTERM');
    expect(await prep.exited).toBe(0);

    const saved = readFileSync(fileURLToPath(new URL('../vectors/spdk-config/nvmf_tgt-save_config.json', import.meta.url)), 'utf8');
    const port = basePort + 2;
    const config = saved
      .replace('/var/tmp/aio0.img', aio)
      .replace('"trsvcid": "24899"', `"trsvcid": "${port}"`)
      .replaceAll('01d57d21-922a-439e-a452-094f5e8767fc', vol) // the lvol's UUID, which SPDK names its bdev by
      .replace('01D57D21922A439EA452094F5E8767FC', vol.replaceAll('-', '').toUpperCase());
    const file = join(dir, 'spdk.json');
    writeFileSync(file, config);
    const d = await spawnDaemon('s', dir, ['--config', file]);
    const c = await connect(d.socket);
    const bdevs = await c.call<{ name: string; uuid: string; num_blocks: number }[]>('bdev_get_bdevs');
    expect(bdevs.find((b) => b.name === 'Malloc0')).toMatchObject({ uuid: '1686bf01-12cd-419f-b7b5-0478c51d8b78', num_blocks: 16384 });
    expect(bdevs.map((b) => b.name).sort()).toEqual(['Aio0', 'Malloc0', 'lvs0/vol1']);
    expect((await c.call<{ name: string }[]>('bdev_lvol_get_lvstores')).map((s) => s.name)).toEqual(['lvs0']);
    const [, sub] = await c.call<Record<string, unknown>[]>('nvmf_get_subsystems');
    expect(sub).toMatchObject({
      nqn: 'nqn.2016-06.io.spdk:bars-daemon',
      allow_any_host: true,
      serial_number: 'BARS0000000000001',
      model_number: 'bars_daemon',
      listen_addresses: [{ trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: String(port) }],
      namespaces: [{ nsid: 1, bdev_name: 'lvs0/vol1', uuid: vol }],
    });
    const log = d.stderr();
    for (const method of ['framework_set_scheduler', 'sock_impl_set_options', 'iobuf_set_options', 'accel_set_options', 'bdev_set_options', 'bdev_nvme_set_hotplug', 'nvmf_set_config', 'nvmf_set_crdt'])
      expect(log).toContain(`"msg":"${method}: accepted; it has no meaning in nodestor"`);
    expect(log).toMatch(/"method":"nvmf_create_transport","ignored":\["max_queue_depth"/);
    expect(log).toMatch(/"msg":"bdev_nvme_set_options: these options have no meaning in nodestor"/);
    // A host reads the namespace through the listener the config made.
    const host = await hostEngine();
    const remote = await host.createBdev(`nvmf://127.0.0.1:${port}/nqn.2016-06.io.spdk:bars-daemon`);
    expect(remote.sizeBytes).toBe(32 * MiB);
    await remote.destroy();
  });
});
