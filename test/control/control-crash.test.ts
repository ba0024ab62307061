// The control plane killed (kill -9, at a failpoint) in the middle of a volume creation
// and in the middle of a scale-up: after a restart on the same store it finishes the
// operation; the volume is complete and no replica is left that no spec owns.
import { describe, expect, it } from 'vitest';
import { connect } from '../daemon/helpers/daemon.js';
import { clusterSession, until, type ControlCluster, type Volume } from './helpers/cluster.js';

const MiB = 1 << 20;
const session = clusterSession();

async function nodeReplicas(c: ControlCluster, node: string): Promise<{ name: string; uuid: string }[]> {
  const rpc = await connect(c.nodes.get(node)!.process.socket);
  return rpc.call('replica_list');
}

/** Every replica on every node belongs to the volume, one per node. */
async function expectNoOrphans(c: ControlCluster, volume: Volume): Promise<void> {
  const owned = new Map(volume.state.replicas.map((r) => [r.name, r]));
  for (const node of c.nodes.keys()) {
    const found = await nodeReplicas(c, node);
    for (const r of found) expect(owned.get(r.name)).toMatchObject({ node, uuid: r.uuid });
    expect(found.length).toBe(volume.state.replicas.filter((r) => r.node === node).length);
  }
}

const cluster3 = (failpoint: string | undefined) => session.start(3, { plane: (c) => c.startPlaneProcess(failpoint ? { NODESTOR_FAILPOINT: failpoint } : {}) });

describe('control plane killed mid-operation', () => {
  it('during a volume creation (after 2 of 3 replicas): the restarted plane finishes it', async () => {
    const c = await cluster3('after:replica_create:2');
    await expect(c.api.request('POST', '/v0/volumes', { name: 'vol', sizeBytes: 8 * MiB, replicas: 3 })).rejects.toMatchObject({ code: 'NodeOffline' });
    await c.planeProcess!.exited;
    expect(c.planeProcess!.child.signalCode).toBe('SIGKILL');
    await c.startPlaneProcess();
    const done = await until('volume complete and Online', async () => {
      const v = await c.api.request<Volume>('GET', '/v0/volumes/vol');
      return !v.spec.operation && v.state.status === 'Online' && v.state.replicas.length === 3 ? v : undefined;
    });
    expect(done.state.replicas.map((r) => r.node)).toEqual(['node-0', 'node-1', 'node-2']);
    // A repeated create with the same spec succeeds and is the same volume.
    expect((await c.api.request<Volume>('POST', '/v0/volumes', { name: 'vol', sizeBytes: 8 * MiB, replicas: 3 })).spec.uuid).toBe(done.spec.uuid);
    await expectNoOrphans(c, done);
  });

  it('during a scale-up (after the new replica is made): the restarted plane adds it', async () => {
    const c = await cluster3(undefined);
    await c.api.request('POST', '/v0/volumes', { name: 'vol', sizeBytes: 8 * MiB, replicas: 2 });
    await c.api.request('PUT', '/v0/volumes/vol/target', { node: 'node-0' });
    await c.stopPlaneProcess();
    await c.startPlaneProcess({ NODESTOR_FAILPOINT: 'after:replica_create:1' });
    await expect(c.api.request('PUT', '/v0/volumes/vol/replica_count/3')).rejects.toMatchObject({ code: 'NodeOffline' });
    await c.planeProcess!.exited;
    await c.startPlaneProcess();
    const done = await until('three replicas, Online', async () => {
      const v = await c.api.request<Volume>('GET', '/v0/volumes/vol');
      return !v.spec.operation && v.state.status === 'Online' && v.state.replicas.length === 3 && v.state.replicas.every((r) => r.status === 'Online') ? v : undefined;
    });
    expect(done.state.replicas.map((r) => r.node).sort()).toEqual(['node-0', 'node-1', 'node-2']);
    await expectNoOrphans(c, done);
  });
});
