// The replica flow across engine processes on loopback: three engines, each with a pool on
// its own file and one replica lvol; two share theirs over NVMe/TCP (one subsystem per
// replica, allowlist = the nexus engine's host NQN); the first builds a nexus from its
// local lvol and the two remote replicas and publishes it; this test process is the host
// engine, writing and reading against a model of acknowledged writes.
// Layout on 2 cores, every reactor adaptive: node a (nexus + local replica) and the host
// on core 0, nodes b and c on core 1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lockClusters } from '../helpers/multi-process.js';
import { Engine } from '../../src/index.js';
import { Cluster, type EngineNode } from './helpers/cluster.js';
import { BLOCK, BlockModel, startWrites, verifyVolume, writeBlocks } from './helpers/workload.js';

let release: (() => void) | undefined;
beforeAll(async () => {
  release = await lockClusters();
}, 900_000);
afterAll(() => release?.());

const REPLICA_BYTES = 32 << 20;
const SEGMENT = 1 << 20; // the nexus's default rebuild segment
const BLOCKS_PER_SEGMENT = SEGMENT / BLOCK;
const CTRL_LOSS_MS = 1500;
// The nexus node's identity on the replicas' allowlists: stable across its restarts.
const NEXUS_NODE_NQN = 'nqn.2019-05.io.nodestor:node-a';

interface Child {
  uri: string;
  state: string;
  reason?: string;
  syncState: string;
}
interface NexusView {
  state: string;
  children: Child[];
  history: { childUri: string; state: string; partial: boolean; bytesRebuilt: number }[];
}
interface Shared {
  nqn: string;
  port: number;
  uri: string;
}

let cluster: Cluster | undefined;
let host: Engine | undefined;

afterEach(async () => {
  await host?.stop();
  host = undefined;
  await cluster?.teardown();
  cluster = undefined;
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Three nodes with a replica each; node a's nexus over all three, published to the host. */
async function buildVolume() {
  cluster = new Cluster();
  host = await Engine.start({ cores: [0], memoryMb: 64, hugepages: 'off', idle: 'adaptive' });
  const nodes = {
    a: await cluster.startNode('a', 0),
    b: await cluster.startNode('b', 1),
    c: await cluster.startNode('c', 1),
  };
  const shared: Record<'b' | 'c', Shared> = {} as never;
  for (const key of ['a', 'b', 'c'] as const) {
    const node = nodes[key];
    await node.call('openPool', { name: `pool-${key}`, disk: node.diskPath });
    await node.call('createReplica', { name: 'r', sizeBytes: REPLICA_BYTES });
    if (key !== 'a')
      shared[key] = await node.call<Shared>('shareReplica', { name: 'r', port: 0, allowedHosts: [NEXUS_NODE_NQN, host.nvmf.hostNqn] });
  }
  const options = `?hostnqn=${NEXUS_NODE_NQN}&ctrl_loss_timeout_ms=${CTRL_LOSS_MS}&reconnect_delay_ms=100`;
  const children = ['bdev:///pool-a/r', shared.b.uri + options, shared.c.uri + options];
  const persistFile = join(cluster.dir, 'nexus-info.json');
  await nodes.a.call('createNexus', { name: 'vol', children, persistFile, ioTimeoutMs: 30_000 });
  const published = await nodes.a.call<string>('publishNexus', { name: 'vol', allowedHost: host.nvmf.hostNqn });
  const volume = await host.createBdev(`${published}?hostnqn=${host.nvmf.hostNqn}&name=vol`);
  return { nodes, shared, children, persistFile, volume, published };
}

const nexusInfo = (node: EngineNode) => node.call<NexusView>('nexusInfo', { name: 'vol' });

function segmentsOf(blocks: Iterable<number>): Set<number> {
  return new Set([...blocks].map((b) => Math.floor(b / BLOCKS_PER_SEGMENT)));
}

describe('a replicated volume across engine processes', () => {
  it('survives kill -9 of a replica; the replica comes back after ctrl_loss_timeout and is rebuilt partially', async () => {
    const { nodes, shared, children, volume } = await buildVolume();
    const model = new BlockModel(REPLICA_BYTES / BLOCK);
    const regionX = { first: 0, end: 16 * BLOCKS_PER_SEGMENT }; // segments 0-15: random writes
    const regionY = Array.from({ length: 8 }, (_, i) => (20 + i) * BLOCKS_PER_SEGMENT + 3); // segments 20-27

    const writes = startWrites(volume, model, regionX, 8);
    await until('writes before the kill', async () => (writes.acked >= 300 ? true : undefined));
    const killedAt = Date.now();
    await nodes.b.kill();
    await until('the nexus to fault b', async () => {
      const info = await nexusInfo(nodes.a);
      return info.state === 'Degraded' && info.children[1]!.state === 'Faulted' ? info : undefined;
    });
    const ackedAtFault = writes.acked;
    await until('writes after the fault', async () => (writes.acked >= ackedAtFault + 300 ? true : undefined));
    await writes.stop();
    expect(writes.errors).toEqual([]); // the host saw no error
    let info = await nexusInfo(nodes.a);
    expect(info.state).toBe('Degraded');
    expect(info.children.map((c) => [c.state, c.syncState])).toEqual([
      ['Open', 'Synced'],
      ['Faulted', 'OutOfSync'],
      ['Open', 'Synced'],
    ]);
    // Away longer than ctrl_loss_timeout: the nexus's bdev for b is gone for good.
    await new Promise((resolve) => setTimeout(resolve, CTRL_LOSS_MS + 500));
    await writeBlocks(volume, model, regionY); // written while b is away
    expect((await nexusInfo(nodes.a)).children[1]!.reason).toBe('Gone');

    // b restarts: imports its pool (not exported: it was killed) and shares the replica on the same NQN and port.
    const b2 = await cluster!.startNode('b2', 1, 0, nodes.b.diskPath);
    const reopened = await b2.call<{ lvols: string[] }>('openPool', { name: 'pool-b', disk: nodes.b.diskPath });
    expect(reopened.lvols).toEqual(['r']);
    const again = await b2.call<Shared>('shareReplica', {
      name: 'r',
      port: shared.b.port,
      allowedHosts: [NEXUS_NODE_NQN],
    });
    expect(again.nqn).toBe(shared.b.nqn);
    await nodes.a.call('onlineChild', { name: 'vol', uri: children[1] });
    info = await until('b rebuilt', async () => {
      const now = await nexusInfo(nodes.a);
      return now.state === 'Online' ? now : undefined;
    });
    // Only the segments written while b was away were copied.
    const rebuild = info.history.filter((h) => h.childUri === children[1]).at(-1)!;
    expect(rebuild.state).toBe('Completed');
    expect(rebuild.partial).toBe(true);
    const afterKill = segmentsOf([...writes.begun.filter((w) => w.at >= killedAt).map((w) => w.block), ...regionY]);
    const couldMiss = segmentsOf([...Array.from({ length: 16 }, (_, s) => s * BLOCKS_PER_SEGMENT), ...regionY]);
    expect(rebuild.bytesRebuilt % SEGMENT).toBe(0);
    expect(rebuild.bytesRebuilt).toBeGreaterThanOrEqual(afterKill.size * SEGMENT);
    expect(rebuild.bytesRebuilt).toBeLessThanOrEqual(couldMiss.size * SEGMENT);
    expect(rebuild.bytesRebuilt).toBeLessThan(REPLICA_BYTES);

    // Every replica is byte-identical with the model, and the host reads back every write.
    const expected = model.segmentHashes(SEGMENT);
    for (const node of [nodes.a, b2, nodes.c])
      expect(await node.call<string[]>('hashReplica', { name: 'r', segmentBytes: SEGMENT })).toEqual(expected);
    expect(await verifyVolume(volume, model)).toEqual([]);
  }, 60_000);

  it('survives kill -9 of the nexus mid-write: every replica keeps every acknowledged write, and so does a new nexus', async () => {
    const { nodes, shared, persistFile, volume } = await buildVolume();
    const model = new BlockModel(REPLICA_BYTES / BLOCK);
    const writes = startWrites(volume, model, { first: 0, end: model.blocks }, 16);
    await until('writes before the kill', async () => (writes.acked >= 500 ? true : undefined));
    await nodes.a.kill();
    await writes.stop(); // the writes in flight fail with the connection (or were acknowledged)
    await volume.destroy();
    const persisted = JSON.parse(readFileSync(persistFile, 'utf8')) as {
      cleanShutdown: boolean;
      children: { uri: string; healthy: boolean }[];
    };
    expect(persisted.cleanShutdown).toBe(false);
    expect(persisted.children.map((c) => c.healthy)).toEqual([true, true, true]);

    // Node a again: its pool imports (dirty). Each replica on its own holds every acknowledged write.
    const a2 = await cluster!.startNode('a2', 0, 0, nodes.a.diskPath);
    const reopened = await a2.call<{ importedDirty: boolean; lvols: string[] }>('openPool', { name: 'pool-a', disk: nodes.a.diskPath });
    expect(reopened).toMatchObject({ importedDirty: true, lvols: ['r'] });
    const local = await a2.call<Shared>('shareReplica', { name: 'r', port: 0, allowedHosts: [host!.nvmf.hostNqn] });
    for (const [name, uri] of [['a', local.uri], ['b', shared.b.uri], ['c', shared.c.uri]] as const) {
      const replica = await host!.createBdev(`${uri}?hostnqn=${host!.nvmf.hostNqn}&name=check-${name}`);
      expect({ replica: name, problems: await verifyVolume(replica, model) }).toEqual({ replica: name, problems: [] });
      await replica.destroy();
    }
    await a2.call('unshareReplica', { name: 'r' });

    // A new nexus over the children the persist hook last called healthy reads back every write.
    const healthy = persisted.children.filter((c) => c.healthy).map((c) => c.uri);
    await a2.call('createNexus', { name: 'vol', children: healthy, persistFile, ioTimeoutMs: 30_000 });
    const published = await a2.call<string>('publishNexus', { name: 'vol', allowedHost: host!.nvmf.hostNqn });
    const again = await host!.createBdev(`${published}?hostnqn=${host!.nvmf.hostNqn}&name=vol2`);
    expect(await verifyVolume(again, model)).toEqual([]);
    const fresh = Array.from({ length: 64 }, (_, i) => i * 97);
    await writeBlocks(again, model, fresh); // and it takes writes
    expect(await verifyVolume(again, model)).toEqual([]);
  }, 60_000);
});
