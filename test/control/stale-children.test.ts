// Stale children. The target node is killed -9; before it returns, one child is marked
// unhealthy in the store and its replica's bytes are changed behind the nexus's back.
// When the node is back, the nexus is made again from the healthy children only, and the
// marked replica is rebuilt in full, never trusted: every replica ends with the bytes the
// host wrote.
import { describe, expect, it } from 'vitest';
import type { NexusPersistInfo } from '../../src/nexus/nexus.js';
import type { VolumeSpec } from '../../src/control/types.js';
import { BLOCK, BlockModel, verifyVolume, writeBlocks } from '../cluster/helpers/workload.js';
import { connect } from '../daemon/helpers/daemon.js';
import { clusterSession, replicaHashes, until, type Volume } from './helpers/cluster.js';

const SIZE = 8 << 20;
const session = clusterSession();

describe('stale children', () => {
  it('a nexus made again after its node restarts uses only the healthy children; the stale one is rebuilt', async () => {
    const c = await session.start(3);
    const created = await c.api.request<Volume>('POST', '/v0/volumes', { name: 'vol', sizeBytes: SIZE, replicas: 3 });
    const uuid = created.spec.uuid;
    const uri = (await c.api.request<Volume>('PUT', '/v0/volumes/vol/target', { node: 'node-0' })).spec.target!.uri!;
    const host = await session.hostEngine();
    let bdev = await host.createBdev(`${uri}?name=vol`);
    const model = new BlockModel(SIZE / BLOCK);
    await writeBlocks(bdev, model, [...Array(SIZE / BLOCK).keys()]);
    await bdev.destroy();

    await c.kill('node-0');
    const stale = created.state.replicas.find((r) => r.node === 'node-2')!;
    // The daemon wrote its nexus info through the control plane: every child healthy.
    const info = await c.api.request<NexusPersistInfo>('GET', `/v0/nexus-info/${uuid}`);
    expect(info.cleanShutdown).toBe(false);
    expect(info.children.map((ch) => ch.healthy)).toEqual([true, true, true]);
    const staleUri = info.children.find((ch) => ch.uri.includes(stale.uuid!))!.uri;
    await c.api.request('PUT', `/v0/nexus-info/${uuid}`, { ...info, children: info.children.map((ch) => (ch.uri === staleUri ? { ...ch, healthy: false } : ch)) });
    // Change the stale replica's bytes (as a write the others missed would): if it were
    // trusted, reads or the rebuild could return them.
    const rpc2 = await connect(c.nodes.get('node-2')!.process.socket);
    const [sub] = await rpc2.call<{ hosts: { nqn: string }[] }[]>('nvmf_get_subsystems', { nqn: `nqn.2019-05.io.nodestor:${stale.uuid}` });
    const allowed = sub!.hosts[0]!.nqn;
    const share = `nvmf://127.0.0.1:${c.nodes.get('node-2')!.replicaPort}/nqn.2019-05.io.nodestor:${stale.uuid}`;
    const direct = await host.createBdev(`${share}?hostnqn=${encodeURIComponent(allowed)}&name=stale`);
    await direct.write(0, Buffer.alloc(1 << 20, 0xee));
    await direct.destroy();

    await c.startNode(0);
    const online = await until('volume Online with all three replicas', async () => {
      const v = await c.api.request<Volume>('GET', '/v0/volumes/vol');
      return v.state.status === 'Online' && v.state.replicas.every((r) => r.status === 'Online') ? v : undefined;
    }, 60_000);
    expect(online.state.replicas.map((r) => r.node)).toEqual(['node-0', 'node-1', 'node-2']);
    const rpc0 = await connect(c.nodes.get('node-0')!.process.socket);
    const history = await rpc0.call<{ childUri: string; state: string; partial: boolean; bytesRebuilt: number }[]>('nexus_rebuild_history', { name: uuid });
    expect(history.filter((h) => h.childUri.includes(stale.uuid!))).toEqual([expect.objectContaining({ state: 'Completed', partial: false, bytesRebuilt: SIZE })]);
    const logged = c.lines.find((l) => l.msg === 'replica is not a child; adding it with a rebuild');
    expect(logged).toMatchObject({ volume: 'vol', replica: stale.name });

    bdev = await host.createBdev(`${uri}?name=vol-again`);
    expect(await verifyVolume(bdev, model)).toEqual([]);
    await bdev.destroy();
    await c.api.request('DELETE', '/v0/volumes/vol/target');
    const spec = JSON.parse((await c.plane.store.get('specs/volumes/vol'))!.value) as VolumeSpec;
    const hashes = await replicaHashes(c, host, spec, SIZE);
    expect(new Set(hashes.values())).toEqual(new Set(model.segmentHashes(SIZE)));
  });
});
