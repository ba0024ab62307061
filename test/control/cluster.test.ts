// Three daemon processes and a control plane: pools, a 3-replica volume placed on distinct
// nodes, published, and verified I/O from a host engine in this process; then the same
// through the CLI. Layout on 2 cores, every reactor adaptive.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/index.js';
import { BlockModel, verifyVolume, writeBlocks } from '../cluster/helpers/workload.js';
import { ControlCluster, until } from './helpers/cluster.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const run = promisify(execFile);
const MiB = 1 << 20;

let cluster: ControlCluster | undefined;
let host: Engine | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
  await cluster?.teardown();
  cluster = undefined;
});

interface Volume {
  spec: { name: string; uuid: string; sizeBytes: number; replicas: number; target?: { node: string; uri?: string } };
  state: { status: string; target?: { node: string; uri?: string }; replicas: { uuid: string; node: string; pool: string; status: string }[] };
}

async function threeNodes(): Promise<ControlCluster> {
  cluster = new ControlCluster();
  await cluster.startPlane();
  await Promise.all([0, 1, 2].map((i) => cluster!.startNode(i)));
  await until('three nodes online', async () => {
    const nodes = await cluster!.api.request<{ name: string; status: string }[]>('GET', '/v0/nodes');
    return nodes.filter((n) => n.status === 'Online').length === 3;
  });
  return cluster;
}

async function hostIo(uri: string, blocks: number): Promise<void> {
  host = await Engine.start({ memoryMb: 128, hugepages: 'off', idle: 'adaptive' });
  const bdev = await host.createBdev(`${uri}?name=vol`);
  const model = new BlockModel(blocks);
  await writeBlocks(bdev, model, [...Array(blocks).keys()]);
  await verifyVolume(bdev, model);
}

describe('control plane: three nodes', () => {
  it('REST: pools, a 3-replica volume on distinct nodes, published, verified I/O from a host', async () => {
    const c = await threeNodes();
    for (const node of ['node-0', 'node-1', 'node-2']) await c.createPool(node);
    const pools = await c.api.request<{ spec: { node: string }; state: { status: string; totalBytes: number } }[]>('GET', '/v0/pools');
    expect(pools.map((p) => [p.spec.node, p.state.status])).toEqual([
      ['node-0', 'Online'],
      ['node-1', 'Online'],
      ['node-2', 'Online'],
    ]);
    const created = await c.api.request<Volume>('POST', '/v0/volumes', { name: 'vol1', sizeBytes: 16 * MiB, replicas: 3 });
    expect(new Set(created.state.replicas.map((r) => r.node))).toEqual(new Set(['node-0', 'node-1', 'node-2']));
    expect(created.state.status).toBe('Online');
    // Repeating the same create succeeds and changes nothing; another spec under the name is refused.
    const again = await c.api.request<Volume>('POST', '/v0/volumes', { name: 'vol1', sizeBytes: 16 * MiB, replicas: 3 });
    expect(again.spec.uuid).toBe(created.spec.uuid);
    await expect(c.api.request('POST', '/v0/volumes', { name: 'vol1', sizeBytes: 32 * MiB, replicas: 3 })).rejects.toMatchObject({ code: 'AlreadyExists' });

    const published = await c.api.request<Volume>('PUT', '/v0/volumes/vol1/target', {});
    const uri = published.spec.target!.uri!;
    expect(uri).toMatch(new RegExp(`^nvmf://127\\.0\\.0\\.1:\\d+/nqn\\.2019-05\\.io\\.nodestor:${created.spec.uuid}$`));
    expect(published.state.status).toBe('Online');
    expect(published.state.replicas.map((r) => r.status)).toEqual(['Online', 'Online', 'Online']);
    await hostIo(uri, (16 * MiB) / 4096);

    await c.api.request('DELETE', '/v0/volumes/vol1/target');
    await c.api.request('DELETE', '/v0/volumes/vol1');
    await expect(c.api.request('GET', '/v0/volumes/vol1')).rejects.toMatchObject({ code: 'NotFound' });
    await c.plane.registry.refresh();
    for (const n of c.plane.registry.nodes()) {
      expect(n.replicas).toEqual([]);
      expect(n.nexuses).toEqual([]);
    }
  });
});
