// Fencing. The target node's daemon is stopped (SIGSTOP: alive, but cut off from the
// control plane); the volume was published with failover, so its target moves to another
// node holding a replica, and the replicas are fenced to the new node's host NQN first.
// When the old daemon resumes, its nexus's writes no longer reach the replicas: a write
// through it never shows in the volume. The old nexus is then destroyed as unowned and its
// node's replica rebuilt, and every replica ends with the new target's bytes.
import { afterEach, describe, expect, it } from 'vitest';
import type { VolumeSpec } from '../../src/control/types.js';
import { BLOCK, BlockModel, verifyVolume, writeBlocks } from '../cluster/helpers/workload.js';
import { connect } from '../daemon/helpers/daemon.js';
import { clusterSession, replicaHashes, until, type Volume } from './helpers/cluster.js';

const SIZE = 8 << 20;
const session = clusterSession();
afterEach(() => {
  // A failed test may leave node-0 stopped; it must be able to die in the teardown.
  const stopped = session.cluster?.nodes.get('node-0')?.process.child;
  if (stopped && stopped.exitCode === null) stopped.kill('SIGCONT');
});

describe('fencing', () => {
  it('a target moved away from a cut-off node: the old nexus can no longer write to the replicas', async () => {
    const c = await session.start(3);
    const created = await c.api.request<Volume>('POST', '/v0/volumes', { name: 'vol', sizeBytes: SIZE, replicas: 3, faultedChildWaitMs: 60_000 });
    const oldUri = (await c.api.request<Volume>('PUT', '/v0/volumes/vol/target', { node: 'node-0', failover: true })).spec.target!.uri!;
    const host = await session.hostEngine();
    const old = await host.createBdev(`${oldUri}?name=old&ctrl_loss_timeout_ms=20000`);
    const model = new BlockModel(SIZE / BLOCK);
    await writeBlocks(old, model, [...Array(SIZE / BLOCK).keys()]);

    c.nodes.get('node-0')!.process.child.kill('SIGSTOP');
    const moved = await until('the target moved off node-0', async () => {
      const v = await c.api.request<Volume>('GET', '/v0/volumes/vol');
      // The nexus shows on the new node before its publish has written the URI into the spec.
      return v.spec.target && v.spec.target.node !== 'node-0' && v.spec.target.uri && v.state.target?.state ? v : undefined;
    });
    const newNode = moved.spec.target!.node;
    // Each remote replica of the new nexus lets in the new node's host NQN alone.
    for (const r of created.state.replicas.filter((x) => x.node !== 'node-0' && x.node !== newNode)) {
      const rpc = await connect(c.nodes.get(r.node)!.process.socket);
      const [sub] = await rpc.call<{ allow_any_host: boolean; hosts: { nqn: string }[] }[]>('nvmf_get_subsystems', { nqn: `nqn.2019-05.io.nodestor:${r.uuid}` });
      expect(sub).toMatchObject({ allow_any_host: false, hosts: [{ nqn: `nqn.2019-05.io.nodestor:node:${newNode}` }] });
    }
    const fresh = await host.createBdev(`${moved.spec.target!.uri!}?name=new`);
    expect(await verifyVolume(fresh, model)).toEqual([]);
    await writeBlocks(fresh, model, [0, 1, 2, 3]);

    // The old daemon resumes: a write through its nexus reaches at most its own replica.
    c.nodes.get('node-0')!.process.child.kill('SIGCONT');
    const stale = Buffer.alloc(BLOCK, 0xab);
    await old.write(0, stale).catch(() => undefined);
    const rpc0 = await connect(c.nodes.get('node-0')!.process.socket);
    const oldChildren = await rpc0
      .call<{ children: { uri: string; state: string }[] }[]>('nexus_list', { name: created.spec.uuid })
      .then(([n]) => n?.children ?? [], () => []);
    for (const child of oldChildren.filter((ch) => ch.uri.startsWith('nvmf://'))) expect(child.state).not.toBe('Open');
    expect(await verifyVolume(fresh, model)).toEqual([]); // block 0 is the new target's, not the old nexus's
    // Nor may the old nexus overwrite the new one's record of which children are healthy.
    const info = await c.api.request<{ children: { uri: string }[] }>('GET', `/v0/nexus-info/${created.spec.uuid}`);
    expect(info.children.filter((ch) => ch.uri.includes(encodeURIComponent('nqn.2019-05.io.nodestor:node:node-0')))).toEqual([]);
    await expect(
      c.api.request('PUT', `/v0/nexus-info/${created.spec.uuid}?node=node-0`, { name: created.spec.uuid, uuid: created.spec.uuid, cleanShutdown: false, children: [] }),
    ).rejects.toMatchObject({ code: 'Conflict', details: { target: newNode } });

    // The old nexus is unowned: destroyed; node-0's replica rejoins with a rebuild.
    const online = await until('volume Online with all three replicas', async () => {
      const v = await c.api.request<Volume>('GET', '/v0/volumes/vol');
      return v.state.status === 'Online' && v.state.replicas.every((r) => r.status === 'Online') ? v : undefined;
    }, 60_000);
    expect(online.state.replicas.map((r) => r.node)).toEqual(['node-0', 'node-1', 'node-2']);
    expect(c.plane.registry.node('node-0')!.nexuses).toEqual([]);
    await old.destroy();
    expect(await verifyVolume(fresh, model)).toEqual([]);
    await fresh.destroy();
    await c.api.request('DELETE', '/v0/volumes/vol/target');
    const spec = JSON.parse((await c.plane.store.get('specs/volumes/vol'))!.value) as VolumeSpec;
    expect(new Set((await replicaHashes(c, host, spec, SIZE)).values())).toEqual(new Set(model.segmentHashes(SIZE)));
  });
});
