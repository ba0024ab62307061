// A replica's daemon killed (kill -9) under verified I/O from a host: the volume goes
// Degraded; back within the wait, its child is onlined and rebuilt partially; gone past a
// wait of 0, a new replica on a fourth node is rebuilt in full and the old one destroyed
// once its node is back. Either way the volume ends Online, the host saw no failed write,
// and every replica holds the same bytes. Layout on 2 cores, every reactor adaptive.
import { describe, expect, it } from 'vitest';
import type { VolumeSpec } from '../../src/control/types.js';
import { BLOCK, BlockModel, startWrites, verifyVolume } from '../cluster/helpers/workload.js';
import { connect } from '../daemon/helpers/daemon.js';
import { clusterSession, replicaHashes, until, type ControlCluster, type Volume } from './helpers/cluster.js';

const SIZE = 16 << 20;
const session = clusterSession();

interface History {
  childUri: string;
  state: string;
  partial: boolean;
  bytesRebuilt: number;
}

/** Writes go to the first `writtenFraction` of the volume, so a partial rebuild has less to copy. */
async function setUp(nodes: number, faultedChildWaitMs: number, writtenFraction = 1) {
  const c = await session.start(nodes);
  const created = await c.api.request<Volume>('POST', '/v0/volumes', { name: 'vol', sizeBytes: SIZE, replicas: 3, faultedChildWaitMs });
  expect(created.state.replicas.map((r) => r.node)).toEqual(['node-0', 'node-1', 'node-2']);
  const published = await c.api.request<Volume>('PUT', '/v0/volumes/vol/target', { node: 'node-0' });
  const host = await session.hostEngine();
  const bdev = await host.createBdev(`${published.spec.target!.uri!}?name=vol`);
  const model = new BlockModel(SIZE / BLOCK);
  const writes = startWrites(bdev, model, { first: 0, end: (SIZE / BLOCK) * writtenFraction }, 8);
  session.writes = writes;
  await until('some writes', async () => writes.acked > 200);
  return { c, bdev, model, writes, uuid: created.spec.uuid };
}

const volume = (c: ControlCluster) => c.api.request<Volume>('GET', '/v0/volumes/vol');

async function history(c: ControlCluster, uuid: string): Promise<History[]> {
  const rpc = await connect(c.nodes.get('node-0')!.process.socket);
  return rpc.call<History[]>('nexus_rebuild_history', { name: uuid });
}

async function checkReplicasIdentical(c: ControlCluster, model: BlockModel): Promise<void> {
  await c.api.request('DELETE', '/v0/volumes/vol/target');
  const spec = (await c.plane.store.get('specs/volumes/vol'))!;
  const hashes = await replicaHashes(c, session.host!, JSON.parse(spec.value) as VolumeSpec, SIZE);
  expect(hashes.size).toBe(3);
  expect(new Set(hashes.values())).toEqual(new Set(model.segmentHashes(SIZE)));
}

describe('control plane: a replica node dies', () => {
  it('comes back within the wait: Degraded, then its child is onlined and rebuilt partially', async () => {
    const { c, bdev, model, writes, uuid } = await setUp(3, 60_000, 1 / 4);
    await c.kill('node-2');
    await until('volume Degraded', async () => (await volume(c)).state.status === 'Degraded');
    // Away longer than the child's controller-loss timeout, so its child is faulted (a
    // shorter outage the host side rides out by reconnecting, with nothing to rebuild).
    await until('node-2 Offline and its child Faulted in the nexus', async () => {
      const rpc = await connect(c.nodes.get('node-0')!.process.socket);
      const [nexus] = await rpc.call<{ children: { uri: string; state: string }[] }[]>('nexus_list', { name: uuid });
      return c.plane.registry.node('node-2')?.status === 'Offline' && nexus!.children.some((ch) => ch.state === 'Faulted');
    });
    await c.startNode(2);
    const online = await until('volume Online again', async () => {
      const v = await volume(c);
      return v.state.status === 'Online' && v.state.replicas.every((r) => r.status === 'Online') ? v : undefined;
    }, 60_000);
    expect(online.state.replicas.map((r) => r.node)).toEqual(['node-0', 'node-1', 'node-2']);
    const node2 = online.state.replicas.find((r) => r.node === 'node-2')!;
    const rebuilt = (await history(c, uuid)).filter((h) => h.childUri.includes(node2.uuid!)).at(-1)!;
    expect(rebuilt).toMatchObject({ state: 'Completed', partial: true });
    expect(rebuilt.bytesRebuilt).toBeGreaterThan(0);
    // Only the segments written while it was away: at most the quarter the host writes to.
    expect(rebuilt.bytesRebuilt).toBeLessThanOrEqual(SIZE / 4);
    await writes.stop();
    expect(writes.errors).toEqual([]);
    expect(await verifyVolume(bdev, model)).toEqual([]);
    await bdev.destroy();
    await checkReplicasIdentical(c, model);
  });

  it('stays away past a wait of 0: replaced on a fourth node with a full rebuild; the old replica goes when its node returns', async () => {
    const { c, bdev, model, writes, uuid } = await setUp(4, 0);
    const old = (await volume(c)).state.replicas.find((r) => r.node === 'node-2')!;
    await c.kill('node-2');
    const replaced = await until('a replica on node-3, Online', async () => {
      const v = await volume(c);
      return v.state.status === 'Online' && v.state.replicas.some((r) => r.node === 'node-3') ? v : undefined;
    }, 60_000);
    expect(replaced.state.replicas.map((r) => r.node).sort()).toEqual(['node-0', 'node-1', 'node-3']);
    const fresh = replaced.state.replicas.find((r) => r.node === 'node-3')!;
    expect((await history(c, uuid)).filter((h) => h.childUri.includes(fresh.uuid!)).at(-1)).toMatchObject({ state: 'Completed', partial: false, bytesRebuilt: SIZE });
    await writes.stop();
    expect(writes.errors).toEqual([]);
    expect(await verifyVolume(bdev, model)).toEqual([]);

    await c.startNode(2);
    await until('the old replica destroyed', async () => {
      const n = c.plane.registry.node('node-2');
      return n?.status === 'Online' && n.refreshedAt > 0 && n.pools.has('pool') && !n.replicas.some((r) => r.uuid === old.uuid!);
    });
    await bdev.destroy();
    await checkReplicasIdentical(c, model);
  });
});
