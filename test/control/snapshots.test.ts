// Consistent snapshots: taken while a host writes to the published volume, the replicas'
// snapshots hold the same bytes, each block one some write produced; repeated, the same
// snapshot; they go with the volume.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/index.js';
import { BLOCK, BlockModel, startWrites, writeBlocks } from '../cluster/helpers/workload.js';
import { connect } from '../daemon/helpers/daemon.js';
import { clusterSession, until, type ControlCluster, type Volume } from './helpers/cluster.js';

const SIZE = 8 << 20;
const session = clusterSession();

interface Snapshot {
  name: string;
  createdAt: string;
  replicas: { node: string; pool: string; replica: string; uuid: string }[];
}

/** Exposes one replica snapshot over NVMe/TCP on its node and reads it whole. */
async function readSnapshot(c: ControlCluster, host: Engine, part: Snapshot['replicas'][number]): Promise<Buffer> {
  const rpc = await connect(c.nodes.get(part.node)!.process.socket);
  const nqn = `nqn.2026-12.io.nodestor:check-${part.uuid}`;
  await rpc.call('nvmf_create_subsystem', { nqn, allow_any_host: true });
  await rpc.call('nvmf_subsystem_add_ns', { nqn, namespace: { bdev_name: part.uuid } });
  const port = c.nodes.get(part.node)!.replicaPort;
  await rpc.call('nvmf_subsystem_add_listener', { nqn, listen_address: { trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: String(port) } });
  const bdev = await host.createBdev(`nvmf://127.0.0.1:${port}/${nqn}?name=snap-${part.node}`);
  const bytes = Buffer.concat(await Promise.all(Array.from({ length: SIZE / (1 << 20) }, (_, i) => bdev.read(i << 20, 1 << 20))));
  await bdev.destroy();
  await rpc.call('nvmf_delete_subsystem', { nqn });
  return bytes;
}

describe('snapshots', () => {
  it('under writes, every replica snapshot holds the same bytes; repeated, the same snapshot; deleted with the volume', async () => {
    const c = await session.start(3);
    await c.api.request('POST', '/v0/volumes', { name: 'vol', sizeBytes: SIZE, replicas: 3 });
    const uri = (await c.api.request<Volume>('PUT', '/v0/volumes/vol/target', { node: 'node-0' })).spec.target!.uri!;
    const host = await session.hostEngine();
    const bdev = await host.createBdev(`${uri}?name=vol`);
    const model = new BlockModel(SIZE / BLOCK);
    await writeBlocks(bdev, model, [...Array(SIZE / BLOCK).keys()]);
    const writes = (session.writes = startWrites(bdev, model, { first: 0, end: SIZE / BLOCK }, 8));
    await until('writes running', async () => writes.acked > 100);

    const snap = await c.api.request<Snapshot>('POST', '/v0/volumes/vol/snapshots', { name: 'snap1' });
    const ackedAtSnapshot = writes.acked;
    await until('writes after the snapshot', async () => writes.acked > ackedAtSnapshot + 100);
    await writes.stop();
    expect(writes.errors).toEqual([]);
    expect(snap.replicas.map((r) => r.node).sort()).toEqual(['node-0', 'node-1', 'node-2']);
    expect(await c.api.request<Snapshot>('POST', '/v0/volumes/vol/snapshots', { name: 'snap1' })).toEqual(snap);
    expect(await c.api.request<Snapshot[]>('GET', '/v0/volumes/vol/snapshots')).toEqual([snap]);
    await expect(c.api.request('POST', '/v0/volumes/vol/snapshots', { name: 'bad/name' })).rejects.toMatchObject({ code: 'InvalidArgument' });

    const images = [];
    for (const part of snap.replicas) images.push(await readSnapshot(c, host, part));
    const hashes = images.map((b) => createHash('sha256').update(b).digest('hex'));
    expect(new Set(hashes).size).toBe(1);
    for (let block = 0; block < SIZE / BLOCK; block++) {
      const data = images[0]!.subarray(block * BLOCK, (block + 1) * BLOCK);
      expect(data.equals(BlockModel.data(block, data.readUInt32LE(4)))).toBe(true);
    }
    // The volume moved on after the snapshot: the snapshot is not the volume now.
    const now = Buffer.concat(await Promise.all(Array.from({ length: SIZE / (1 << 20) }, (_, i) => bdev.read(i << 20, 1 << 20))));
    expect(now.equals(images[0]!)).toBe(false);
    await bdev.destroy();

    await c.api.request('DELETE', '/v0/volumes/vol');
    for (const node of ['node-0', 'node-1', 'node-2']) {
      const rpc = await connect(c.nodes.get(node)!.process.socket);
      expect(await rpc.call('replica_list')).toEqual([]);
    }
  });
});
