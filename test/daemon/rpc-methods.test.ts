// The daemon's methods end to end over its Unix socket, in one daemon: each area's calls
// succeed with SPDK's result shapes, state changes are visible to the next call, and the
// engine's errors come back as -errno with our code in data.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcCode } from '../../src/rpc/protocol.js';
import { check } from '../../src/rpc/schema.js';
import { cleanup, connect, inProcessDaemon } from './helpers/daemon.js';

type Setup = Awaited<ReturnType<typeof inProcessDaemon>>;
let s: Setup;
const MiB = 1024 * 1024;

beforeAll(async () => {
  s = await inProcessDaemon({ replicaListener: { address: '127.0.0.1', port: 0 } });
});
afterAll(cleanup);

const call = <T = unknown>(method: string, params?: Record<string, unknown>) => s.client.call<T>(method, params);

describe('daemon methods', () => {
  it('framework: version, reactors, subsystems, node_info', async () => {
    const version = await call<{ version: string; fields: Record<string, unknown> }>('spdk_get_version');
    expect(version.version).toMatch(/^nodestor v\d+\.\d+\.\d+ \(SPDK v24\.01 RPC\)$/);
    expect(Object.keys(version.fields).sort()).toEqual(['major', 'minor', 'patch', 'suffix']);
    const reactors = await call<{ tick_rate: number; reactors: { lcore: number; lw_threads: unknown[] }[] }>('framework_get_reactors');
    expect(reactors.tick_rate).toBe(1e9);
    expect(reactors.reactors.map((r) => r.lcore)).toEqual([0]);
    expect(await call('framework_get_subsystems')).toEqual([
      { subsystem: 'keyring', depends_on: [] },
      { subsystem: 'bdev', depends_on: [] },
      { subsystem: 'nodestor', depends_on: ['bdev'] },
      { subsystem: 'nvmf', depends_on: ['bdev', 'nodestor'] },
    ]);
    await expect(call('framework_get_config', { name: 'vhost' })).rejects.toMatchObject({ code: RpcCode.invalidParams });
    const info = await call<Record<string, unknown>>('node_info');
    expect(info).toMatchObject({ node: 'test', pid: process.pid, pools: 0, nexuses: 0 });
  });

  it('bdevs: create, list with SPDK shapes, iostat, error injection, delete', async () => {
    expect(await call('bdev_malloc_create', { name: 'M0', num_blocks: 4096, block_size: 4096 })).toBe('M0');
    expect(await call('bdev_null_create', { name: 'N0', num_blocks: 1024, block_size: 512 })).toBe('N0');
    const file = join(s.dir, 'disk.img');
    writeFileSync(file, Buffer.alloc(8 * MiB));
    expect(await call('bdev_uring_create', { name: 'U0', filename: file, block_size: 4096 })).toBe('U0');
    await expect(call('bdev_aio_create', { name: 'A0', filename: 'relative.img' })).rejects.toMatchObject({ code: RpcCode.invalidParams });
    await expect(call('bdev_malloc_create', { name: 'M0', num_blocks: 16, block_size: 512 })).rejects.toMatchObject({ code: -17, data: { code: 'EEXIST' } });

    const [m0] = await call<Record<string, unknown>[]>('bdev_get_bdevs', { name: 'M0' });
    expect(Object.keys(m0!).sort()).toEqual(
      ['aliases', 'assigned_rate_limits', 'block_size', 'claimed', 'driver_specific', 'name', 'num_blocks', 'product_name', 'supported_io_types', 'uuid', 'zoned'].sort(),
    );
    expect(m0).toMatchObject({ name: 'M0', product_name: 'Malloc disk', block_size: 4096, num_blocks: 4096, claimed: false, supported_io_types: { read: true, write: true, unmap: true } });
    await expect(call('bdev_get_bdevs', { name: 'nope' })).rejects.toMatchObject({ code: -2, data: { code: 'ENOENT' } });

    expect(await call('bdev_error_create', { base_name: 'M0' })).toBe(true);
    const [ee] = await call<Record<string, unknown>[]>('bdev_get_bdevs', { name: 'EE_M0' });
    expect(ee).toMatchObject({ product_name: 'Error disk', num_blocks: 4096 });
    expect((await call<Record<string, unknown>[]>('bdev_get_bdevs', { name: 'M0' }))[0]).toMatchObject({ claimed: true, claimed_by: expect.any(String) });
    expect(await call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'read', error_type: 'failure', num: 1 })).toBe(true);
    const engine = s.daemon.context.engine;
    const ee0 = engine.getBdev('EE_M0')!;
    await expect(ee0.read(0, 4096)).rejects.toMatchObject({ code: 'EIO' });
    expect((await ee0.read(0, 4096)).length).toBe(4096); // num 1: the next read passes
    await expect(call('bdev_malloc_delete', { name: 'M0' })).rejects.toMatchObject({ code: -16, data: { code: 'EBUSY' } });

    const stat = await call<{ tick_rate: number; bdevs: Record<string, number>[] }>('bdev_get_iostat', { name: 'EE_M0' });
    expect(stat.tick_rate).toBe(1e9);
    // Both reads count as ops; only the one that passed moved bytes, and the other is an error.
    expect(stat.bdevs[0]).toMatchObject({ name: 'EE_M0', num_read_ops: 2, bytes_read: 4096, io_error: { errors: 1 } });

    // nomem: the bdev layer submits the read again; with num 2 the third attempt is served.
    await ee0.write(0, Buffer.alloc(4096, 0x3c));
    expect(await call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'read', error_type: 'nomem', num: 2 })).toBe(true);
    expect(await ee0.read(0, 4096)).toEqual(Buffer.alloc(4096, 0x3c));
    // pending: the read is held until the injection is cleared, then served.
    expect(await call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'read', error_type: 'pending', num: 1 })).toBe(true);
    let served = false;
    const held = ee0.read(0, 4096).then((data) => ((served = true), data));
    await new Promise((r) => setTimeout(r, 50));
    expect(served).toBe(false);
    expect(await call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'clear', error_type: 'failure' })).toBe(true);
    expect(await held).toEqual(Buffer.alloc(4096, 0x3c));
    // nodestor's extensions: another errno, a delay, and the refusals that change nothing.
    expect(await call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'write', error_type: 'failure', errno: 'ENOSPC', num: 1 })).toBe(true);
    await expect(ee0.write(0, Buffer.alloc(4096, 0x11))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await ee0.read(0, 4096)).toEqual(Buffer.alloc(4096, 0x3c)); // the refused write stored nothing
    expect(await call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'read', error_type: 'delay', latency_us: 30_000, num: 1 })).toBe(true);
    const t0 = Date.now();
    expect(await ee0.read(0, 4096)).toEqual(Buffer.alloc(4096, 0x3c));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    await expect(call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'read', error_type: 'delay' })).rejects.toMatchObject({ code: -22, data: { code: 'EINVAL' } });
    await expect(call('bdev_error_inject_error', { name: 'EE_M0', io_type: 'read', error_type: 'pending', errno: 'ENOSPC' })).rejects.toMatchObject({ code: -22, data: { code: 'EINVAL' } });
    expect(await ee0.read(0, 4096)).toEqual(Buffer.alloc(4096, 0x3c)); // neither refusal injected anything

    expect(await call('bdev_error_delete', { name: 'EE_M0' })).toBe(true);
    expect(await call('bdev_malloc_delete', { name: 'M0' })).toBe(true);
    await expect(call('bdev_malloc_delete', { name: 'N0' })).rejects.toMatchObject({ code: -19 }); // not a malloc bdev
    expect(await call('bdev_null_delete', { name: 'N0' })).toBe(true);
    expect(await call('bdev_uring_delete', { name: 'U0' })).toBe(true);
    expect((await call<unknown[]>('bdev_get_bdevs')).length).toBe(0);
  });

  it('lvol stores and lvols by SPDK names, and a full store', async () => {
    await call('bdev_malloc_create', { name: 'L0', num_blocks: 16384, block_size: 4096 });
    const lvs = await call<string>('bdev_lvol_create_lvstore', { bdev_name: 'L0', lvs_name: 'lvs0' });
    const [store] = await call<Record<string, unknown>[]>('bdev_lvol_get_lvstores', { lvs_name: 'lvs0' });
    expect(store).toMatchObject({ uuid: lvs, name: 'lvs0', base_bdev: 'L0', cluster_size: 4 * MiB, block_size: 4096 });
    expect(Object.keys(store!).sort()).toEqual(['base_bdev', 'block_size', 'cluster_size', 'free_clusters', 'name', 'total_data_clusters', 'uuid']);
    const vol = await call<string>('bdev_lvol_create', { lvol_name: 'vol1', size_in_mib: 8, lvs_name: 'lvs0', thin_provision: true });
    const snap = await call<string>('bdev_lvol_snapshot', { lvol_name: 'lvs0/vol1', snapshot_name: 'snap1' });
    const clone = await call<string>('bdev_lvol_clone', { snapshot_name: snap, clone_name: 'clone1' });
    const lvols = await call<Record<string, unknown>[]>('bdev_lvol_get_lvols', { lvs_uuid: lvs });
    const byName = Object.fromEntries(lvols.map((l) => [l.name, l]));
    expect(byName.vol1).toEqual({ alias: 'lvs0/vol1', uuid: vol, name: 'vol1', is_thin_provisioned: true, is_snapshot: false, is_clone: true, is_esnap_clone: false, is_degraded: false, lvs: { name: 'lvs0', uuid: lvs } });
    expect(byName.snap1).toMatchObject({ uuid: snap, is_snapshot: true });
    expect(byName.clone1).toMatchObject({ uuid: clone, is_clone: true });
    expect(await call('bdev_lvol_resize', { name: vol, size_in_mib: 12 })).toBe(true);
    expect(await call('bdev_lvol_inflate', { name: clone })).toBe(true);
    const ro = await call<string>('bdev_lvol_create', { lvol_name: 'ro', size_in_mib: 4, lvs_name: 'lvs0' });
    const roBdev = s.daemon.context.engine.getBdev('lvs0/ro')!;
    await roBdev.write(0, Buffer.alloc(4096, 7));
    expect(await call('bdev_lvol_set_read_only', { name: ro })).toBe(true);
    await expect(roBdev.write(0, Buffer.alloc(4096, 8))).rejects.toMatchObject({ code: 'EROFS' });
    expect((await roBdev.read(0, 4096)).equals(Buffer.alloc(4096, 7))).toBe(true);
    const roClone = await call<string>('bdev_lvol_clone', { snapshot_name: 'lvs0/ro', clone_name: 'roc' }); // read-only lvols can be cloned
    expect(await call('bdev_lvol_delete', { name: roClone })).toBe(true);
    expect(await call('bdev_lvol_delete', { name: ro })).toBe(true);
    await expect(call('bdev_lvol_delete', { name: snap })).rejects.toMatchObject({ code: -16, data: { code: 'EBUSY' } });
    await expect(call('bdev_lvol_create', { lvol_name: 'huge', size_in_mib: 1024, lvs_name: 'lvs0' })).rejects.toMatchObject({ code: -28, data: { code: 'ENOSPC' } });
    const [lbdev] = await call<Record<string, unknown>[]>('bdev_get_bdevs', { name: vol });
    expect(lbdev).toMatchObject({ name: 'lvs0/vol1', aliases: [vol], product_name: 'Logical Volume', driver_specific: { lvol: { lvol_store_uuid: lvs, thin_provision: true } } });
    for (const name of [clone, vol, snap]) expect(await call('bdev_lvol_delete', { name })).toBe(true);
    expect(await call('bdev_lvol_grow_lvstore', { uuid: lvs })).toBe(true);
    expect(await call('bdev_lvol_delete_lvstore', { lvs_name: 'lvs0' })).toBe(true);
    expect(await call('bdev_lvol_get_lvstores')).toEqual([]);
    await call('bdev_malloc_delete', { name: 'L0' });
  });

  it('NVMe-oF target and host: a subsystem, attached back over loopback, with SPDK shapes', async () => {
    const nqn = 'nqn.2016-06.io.spdk:cnode1';
    await call('bdev_malloc_create', { name: 'T0', num_blocks: 2048, block_size: 4096 });
    expect(await call('nvmf_create_transport', { trtype: 'TCP', max_queue_depth: 128 })).toBe(true);
    await expect(call('nvmf_create_transport', { trtype: 'TCP' })).rejects.toMatchObject({ code: -17 });
    expect(await call('nvmf_get_transports')).toEqual([expect.objectContaining({ trtype: 'TCP' })]);
    expect(await call('nvmf_create_subsystem', { nqn, serial_number: 'SPDK00000000000001', model_number: 'SPDK bdev Controller', allow_any_host: false })).toBe(true);
    expect(await call('nvmf_subsystem_add_ns', { nqn, namespace: { bdev_name: 'T0' } })).toBe(1);
    const port = 24000 + (process.pid % 1000);
    const listen_address = { trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: String(port) };
    expect(await call('nvmf_subsystem_add_listener', { nqn, listen_address })).toBe(true);
    const host = s.daemon.context.engine.nvmf.hostNqn;
    expect(await call('nvmf_subsystem_add_host', { nqn, host })).toBe(true);
    const subs = await call<Record<string, unknown>[]>('nvmf_get_subsystems');
    expect(subs[0]).toMatchObject({ nqn: 'nqn.2014-08.org.nvmexpress.discovery', subtype: 'Discovery' });
    expect(subs[1]).toMatchObject({
      nqn,
      subtype: 'NVMe',
      listen_addresses: [{ trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: String(port) }],
      allow_any_host: false,
      hosts: [{ nqn: host }],
      serial_number: 'SPDK00000000000001',
      model_number: 'SPDK bdev Controller',
      namespaces: [{ nsid: 1, bdev_name: 'T0', name: 'T0', uuid: expect.any(String), nguid: expect.stringMatching(/^[0-9A-F]{32}$/) }],
    });
    // A second namespace at NSID 3: attach makes a bdev for each active one.
    await call('bdev_malloc_create', { name: 'T3', num_blocks: 256, block_size: 4096 });
    expect(await call('nvmf_subsystem_add_ns', { nqn, namespace: { bdev_name: 'T3', nsid: 3 } })).toBe(3);
    expect(await call('bdev_nvme_attach_controller', { name: 'Nvme0', trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: String(port), subnqn: nqn })).toEqual(['Nvme0n1', 'Nvme0n3']);
    expect((await call<{ num_blocks: number }[]>('bdev_get_bdevs', { name: 'Nvme0n3' }))[0]!.num_blocks).toBe(256);
    const controllers = await call<Record<string, unknown>[]>('bdev_nvme_get_controllers');
    expect(controllers).toEqual([
      { name: 'Nvme0', ctrlrs: [{ state: 'enabled', trid: { trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: String(port), subnqn: nqn }, host: { nqn: host, addr: '', svcid: '' } }] },
    ]);
    const remote = s.daemon.context.engine.getBdev('Nvme0n1')!;
    const data = Buffer.alloc(4096, 0x5a);
    await remote.write(8192, data);
    expect((await s.daemon.context.engine.getBdev('T0')!.read(8192, 4096)).equals(data)).toBe(true);
    // One controller per attached namespace (each nvmf:// bdev has its own; SPDK shares one).
    const ctrls = await call<{ cntlid: number; hostnqn: string; num_io_qpairs: number }[]>('nvmf_subsystem_get_controllers', { nqn });
    const listener = { trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: String(port) };
    expect(ctrls).toEqual([0, 1].map(() => ({ cntlid: expect.any(Number), hostnqn: host, num_io_qpairs: expect.any(Number), listen_address: listener })));
    // Nvme0n1 did I/O, so its controller has an I/O queue (one per thread that did I/O).
    expect(Math.max(...ctrls.map((c) => c.num_io_qpairs))).toBeGreaterThanOrEqual(1);
    const qpairs = await call<{ cntlid: number; qid: number; state: string }[]>('nvmf_subsystem_get_qpairs', { nqn });
    for (const c of ctrls) {
      const mine = qpairs.filter((q) => q.cntlid === c.cntlid);
      expect(mine.map((q) => q.qid)[0]).toBe(0); // the admin queue first
      expect(new Set(mine.map((q) => q.qid)).size).toBe(c.num_io_qpairs + 1);
    }
    expect(qpairs.every((q) => q.state === 'active')).toBe(true);
    expect(await call('nvmf_subsystem_listener_set_ana_state', { nqn, listen_address, ana_state: 'non_optimized' })).toBe(true);
    expect(await call('nvmf_subsystem_allow_any_host', { nqn, allow_any_host: true })).toBe(true);
    expect((await call<Record<string, unknown>[]>('nvmf_get_subsystems', { nqn }))[0]).toMatchObject({ allow_any_host: true });
    expect(await call('bdev_nvme_detach_controller', { name: 'Nvme0' })).toBe(true);
    // The daemon logged the host's controller coming and going (its event pump).
    // Three controllers came and went: attach's namespace listing, then Nvme0n1 and Nvme0n3.
    const hostEvents = () => s.lines.filter((l) => l.msg === 'host.connected' || l.msg === 'host.disconnected').map((l) => l.event as Record<string, unknown>).filter((e) => e.subsystem === nqn);
    for (let i = 0; i < 200 && hostEvents().filter((e) => e.kind === 'host.disconnected').length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    const kinds = hostEvents().map((e) => e.kind);
    expect([kinds.filter((k) => k === 'host.connected').length, kinds.filter((k) => k === 'host.disconnected').length]).toEqual([3, 3]);
    expect(kinds[0]).toBe('host.connected');
    expect(hostEvents().every((e) => e.hostNqn === host)).toBe(true);
    expect(await call('bdev_nvme_get_controllers')).toEqual([]);
    expect(await call('nvmf_subsystem_remove_host', { nqn, host })).toBe(true);
    expect(await call('nvmf_subsystem_remove_listener', { nqn, listen_address })).toBe(true);
    expect(await call('nvmf_subsystem_remove_ns', { nqn, nsid: 1 })).toBe(true);
    expect(await call('nvmf_subsystem_remove_ns', { nqn, nsid: 3 })).toBe(true);
    await call('bdev_malloc_delete', { name: 'T3' });
    expect(await call('nvmf_delete_subsystem', { nqn })).toBe(true);
    await expect(call('nvmf_delete_subsystem', { nqn })).rejects.toMatchObject({ data: { code: 'ENOENT' } });
    await call('bdev_malloc_delete', { name: 'T0' });
  });

  it('pools, replicas and a nexus, with events to a subscriber and a config that lists them', async () => {
    const watcher = await connect(s.daemon.socketPath);
    const events: Record<string, unknown>[] = [];
    watcher.on('notification', (method, params) => method === 'event' && events.push(params as Record<string, unknown>));
    expect(await watcher.call('events_subscribe')).toBe(true);

    const pool = await call<Record<string, unknown>>('pool_create', { name: 'p0', disk: 'malloc:///pd?size_mb=64&blk_size=4096' });
    expect(pool).toMatchObject({ name: 'p0', state: 'online', cluster_size_bytes: 4 * MiB, total_bytes: expect.any(Number) });
    const replica = await call<Record<string, unknown>>('replica_create', { pool: 'p0', name: 'r0', size_bytes: 8 * MiB, thin: true });
    expect(replica).toMatchObject({ name: 'r0', pool: 'p0', size_bytes: 8 * MiB, thin: true, share: 'nvmf', uri: expect.stringMatching(/^nvmf:\/\/127\.0\.0\.1:\d+\/nqn\.2019-05\.io\.nodestor:[0-9a-f-]{36}$/) });
    await expect(call('replica_create', { pool: 'p0', name: 'r0', size_bytes: MiB })).rejects.toMatchObject({ data: { code: 'EEXIST' } });
    await call('replica_create', { pool: 'p0', name: 'r1', size_bytes: 8 * MiB, share: false });

    const nexus = await call<Record<string, unknown>>('nexus_create', { name: 'vol', children: [replica.uri as string, 'bdev:///p0/r1'] });
    expect(nexus).toMatchObject({ name: 'vol', state: 'Online', size_bytes: 8 * MiB, device_uri: null });
    const uri = await call<string>('nexus_publish', { name: 'vol', port: 0 });
    expect(uri).toMatch(/^nvmf:\/\/127\.0\.0\.1:\d+\/nqn\.2019-05\.io\.nodestor:vol$/);
    expect(await call('nexus_fault_child', { name: 'vol', uri: 'bdev:///p0/r1' })).toMatchObject({ state: 'Degraded' });
    const online = await call<Record<string, unknown>>('nexus_online_child', { name: 'vol', uri: 'bdev:///p0/r1' });
    expect(online.children).toEqual(expect.arrayContaining([expect.objectContaining({ uri: 'bdev:///p0/r1' })]));
    for (let i = 0; i < 100 && (await call<Record<string, unknown>[]>('nexus_list'))[0]!.state !== 'Online'; i++) await new Promise((r) => setTimeout(r, 20));
    const history = await call<Record<string, unknown>[]>('nexus_rebuild_history', { name: 'vol' });
    expect(history.at(-1)).toMatchObject({ childUri: 'bdev:///p0/r1', state: 'Completed' });

    const nodestor = await call<{ method: string; params: Record<string, unknown> }[]>('framework_get_config', { name: 'nodestor' });
    expect(nodestor.map((c) => c.method)).toEqual(['pool_import', 'nexus_create', 'nexus_publish']);
    expect(nodestor[1]!.params).toMatchObject({ name: 'vol', children: [replica.uri, 'bdev:///p0/r1'] });
    const nvmf = await call<{ method: string }[]>('framework_get_config', { name: 'nvmf' });
    expect(nvmf.filter((c) => c.method === 'nvmf_create_subsystem')).toHaveLength(1); // the replica's; the nexus's comes from nexus_publish

    expect(await call('nexus_destroy', { name: 'vol' })).toBe(true);
    expect((await call<Record<string, unknown>[]>('replica_list', { pool: 'p0' })).map((r) => [r.name, r.share]).sort()).toEqual([
      ['r0', 'nvmf'],
      ['r1', 'none'],
    ]);
    expect(await call('replica_destroy', { uuid: replica.uuid })).toBe(true);
    expect(await call('pool_export', { name: 'p0' })).toBe(true);
    expect(await call('pool_list')).toEqual([]);
    const kinds = events.map((e) => e.kind);
    for (const kind of ['pool.created', 'nexus.created', 'nexus.state', 'nexus.child', 'nexus.destroyed', 'pool.exported']) expect(kinds).toContain(kind);
    expect(events.every((e) => e.node === 'test' && typeof e.time === 'string')).toBe(true);
  });

  it('the rest: aio, pool import and destroy, replica share/unshare/resize, child and rebuild controls, decouple', async () => {
    const file = join(s.dir, 'aio.img');
    writeFileSync(file, Buffer.alloc(64 * MiB));
    expect(await call('bdev_aio_create', { name: 'A0', filename: file, block_size: 4096 })).toBe('A0');
    expect((await call<Record<string, unknown>[]>('bdev_get_bdevs', { name: 'A0' }))[0]).toMatchObject({ product_name: 'AIO disk', num_blocks: 16384 });
    await call('pool_create', { name: 'pa', disk: 'A0' });
    const r = await call<{ uuid: string; uri: string }>('replica_create', { pool: 'pa', name: 'ra', size_bytes: 8 * MiB, share: false });
    const shared = await call<string>('replica_share', { uuid: r.uuid, allowed_hosts: ['nqn.2026-12.io.example:h1'] });
    expect(shared).toMatch(new RegExp(`nqn\\.2019-05\\.io\\.nodestor:${r.uuid}$`));
    expect(await call('replica_share', { uuid: r.uuid })).toBe(shared); // already shared: the same URI
    expect((await call<Record<string, unknown>[]>('replica_list', { pool: 'pa' }))[0]).toMatchObject({ share: 'nvmf', allowed_hosts: ['nqn.2026-12.io.example:h1'] });
    expect(await call('replica_resize', { uuid: r.uuid, size_bytes: 12 * MiB })).toMatchObject({ size_bytes: 12 * MiB });
    expect(await call('replica_unshare', { uuid: r.uuid })).toBe(true);
    expect((await call<Record<string, unknown>[]>('replica_list', { pool: 'pa' }))[0]).toMatchObject({ share: 'none', uri: 'bdev:///pa/ra' });
    // decouple_parent: a clone of a snapshot stops depending on it.
    const snap = await call<string>('bdev_lvol_snapshot', { lvol_name: r.uuid, snapshot_name: 'sa' });
    const clone = await call<string>('bdev_lvol_clone', { snapshot_name: snap, clone_name: 'ca' });
    expect(await call('bdev_lvol_decouple_parent', { name: clone })).toBe(true);
    expect((await call<Record<string, unknown>[]>('bdev_lvol_get_lvols', { lvs_name: 'pa' })).find((l) => l.uuid === clone)).toMatchObject({ is_clone: false });
    expect(await call('pool_export', { name: 'pa' })).toBe(true);
    expect((await call<Record<string, unknown>>('pool_import', { disk: 'A0' })).name).toBe('pa');
    expect((await call<Record<string, unknown>[]>('replica_list', { pool: 'pa' })).map((x) => x.name).sort()).toEqual(['ca', 'ra', 'sa']);

    // A child whose writes are slowed (an error bdev with a delay) keeps its rebuild running.
    await call('bdev_malloc_create', { name: 'fast', num_blocks: 4096, block_size: 4096 });
    await call('bdev_malloc_create', { name: 'slow', num_blocks: 4096, block_size: 4096 });
    await call('bdev_error_create', { base_name: 'slow' });
    s.daemon.context.engine.getBdev('EE_slow')!.injectError({ ioType: 'write', latencyUs: 20_000 });
    await call('nexus_create', { name: 'nr', children: ['bdev:///fast'] });
    expect(await call('nexus_add_child', { name: 'nr', uri: 'bdev:///EE_slow' })).toMatchObject({ state: 'Degraded' });
    expect(await call('nexus_rebuild_pause', { name: 'nr', uri: 'bdev:///EE_slow' })).toMatchObject({ name: 'nr' });
    for (let i = 0; i < 200 && (await call<{ state: string }>('nexus_rebuild_stats', { name: 'nr', uri: 'bdev:///EE_slow' })).state !== 'Paused'; i++)
      await new Promise((res) => setTimeout(res, 10));
    expect(await call('nexus_rebuild_stats', { name: 'nr', uri: 'bdev:///EE_slow' })).toMatchObject({ state: 'Paused', childUri: 'bdev:///EE_slow', sourceUri: 'bdev:///fast' });
    await call('nexus_rebuild_resume', { name: 'nr', uri: 'bdev:///EE_slow' });
    expect((await call<{ state: string }>('nexus_rebuild_stats', { name: 'nr', uri: 'bdev:///EE_slow' })).state).toBe('Running');
    await call('nexus_rebuild_stop', { name: 'nr', uri: 'bdev:///EE_slow' });
    for (let i = 0; i < 200 && (await call<{ state: string }>('nexus_rebuild_stats', { name: 'nr', uri: 'bdev:///EE_slow' })).state !== 'Stopped'; i++)
      await new Promise((res) => setTimeout(res, 10));
    expect((await call<{ state: string }>('nexus_rebuild_stats', { name: 'nr', uri: 'bdev:///EE_slow' })).state).toBe('Stopped');
    s.daemon.context.engine.getBdev('EE_slow')!.clearInjectedErrors();
    const offline = await call<{ children: { uri: string; state: string }[] }>('nexus_offline_child', { name: 'nr', uri: 'bdev:///EE_slow' });
    expect(offline.children.find((c) => c.uri === 'bdev:///EE_slow')!.state).not.toBe('Open');
    await expect(call('nexus_remove_child', { name: 'nr', uri: 'bdev:///fast' })).rejects.toMatchObject({ data: { code: 'EBUSY' } }); // the last healthy child
    expect((await call<{ children: unknown[] }>('nexus_remove_child', { name: 'nr', uri: 'bdev:///EE_slow' })).children).toHaveLength(1);
    expect((await call<{ method: string; params: { children: string[] } }[]>('framework_get_config', { name: 'nodestor' })).find((c) => c.method === 'nexus_create')!.params.children).toEqual(['bdev:///fast']);
    // Every call the saved config holds passes its method's parameter check.
    for (const { subsystem } of await call<{ subsystem: string }[]>('framework_get_subsystems'))
      for (const c of await call<{ method: string; params?: unknown }[]>('framework_get_config', { name: subsystem }))
        expect(check(s.daemon.registry.schema(c.method)!, c.params ?? {}, 'params'), `${c.method} ${JSON.stringify(c.params)}`).toBeNull();
    await call('nexus_destroy', { name: 'nr' });
    const bdevConfig = await call<{ method: string; params: Record<string, unknown> }[]>('framework_get_config', { name: 'bdev' });
    expect(bdevConfig.map((c) => [c.method, c.params.name ?? c.params.base_name])).toEqual([
      ['bdev_aio_create', 'A0'],
      ['bdev_malloc_create', 'fast'],
      ['bdev_malloc_create', 'slow'],
      ['bdev_error_create', 'slow'],
    ]);
    expect(await call('pool_destroy', { name: 'pa' })).toBe(true);
    expect(await call('pool_list')).toEqual([]);
  });
});
