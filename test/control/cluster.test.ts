// Three daemon processes and a control plane: pools, a 3-replica volume placed on distinct
// nodes, published, and verified I/O from a host engine in this process; then the same
// through the CLI. Layout on 2 cores, every reactor adaptive.
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BlockModel, verifyVolume, writeBlocks } from '../cluster/helpers/workload.js';
import { clusterSession, until, type Volume } from './helpers/cluster.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const run = promisify(execFile);
const MiB = 1 << 20;
const session = clusterSession();
const threeNodes = () => session.start(3, { pools: false });

async function hostIo(uri: string, blocks: number): Promise<void> {
  const host = await session.hostEngine();
  const bdev = await host.createBdev(`${uri}?name=vol`);
  const model = new BlockModel(blocks);
  await writeBlocks(bdev, model, [...Array(blocks).keys()]);
  expect(await verifyVolume(bdev, model)).toEqual([]);
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
    // The control plane's metrics: state, replica counts desired and Online, the target node.
    await c.plane.reconcileNow();
    const metrics = await (await fetch(`${c.plane.url}/metrics`)).text();
    for (const line of [
      'nodestor_control_volume_state{volume="vol1",state="Online"} 1',
      'nodestor_control_volume_state{volume="vol1",state="Degraded"} 0',
      'nodestor_control_volume_replicas_desired{volume="vol1"} 3',
      'nodestor_control_volume_replicas_online{volume="vol1"} 3',
      `nodestor_control_volume_target{volume="vol1",node="${published.spec.target!.node}"} 1`,
      'nodestor_control_node_online{node="node-0"} 1',
    ])
      expect(metrics.split('\n')).toContain(line);
    expect(Number(/^nodestor_control_reconcile_passes_total (\d+)$/m.exec(metrics)![1])).toBeGreaterThan(0);
    execFileSync('promtool', ['check', 'metrics'], { input: metrics });
    await hostIo(uri, (16 * MiB) / 4096);

    // Resize: the replicas grow, then the nexus; a host that connects again sees the new size.
    await expect(c.api.request('PUT', '/v0/volumes/vol1/size', { sizeBytes: 8 * MiB })).rejects.toMatchObject({ code: 'InvalidArgument' });
    const grown = await c.api.request<Volume>('PUT', '/v0/volumes/vol1/size', { sizeBytes: 24 * MiB });
    expect(grown.spec.sizeBytes).toBe(24 * MiB);
    const host = await session.hostEngine();
    const reconnected = await host.createBdev(`${uri}?name=vol-grown`);
    expect(reconnected.sizeBytes).toBe(24 * MiB);
    await reconnected.write(20 * MiB, Buffer.alloc(4096, 0x77));
    expect(await reconnected.read(20 * MiB, 4096)).toEqual(Buffer.alloc(4096, 0x77));
    await reconnected.destroy();

    // Scale down: a replica away from the target goes first; scale up: a new one, rebuilt in full.
    const down = await c.api.request<Volume>('PUT', '/v0/volumes/vol1/replica_count/2');
    expect(down.state.replicas).toHaveLength(2);
    expect(down.state.replicas.map((r) => r.node)).toContain(published.spec.target!.node);
    const removed = created.state.replicas.find((r) => !down.state.replicas.some((d) => d.name === r.name))!;
    await c.plane.registry.refresh();
    expect(c.plane.registry.node(removed.node)!.replicas).toEqual([]); // destroyed on its node
    await c.api.request('PUT', '/v0/volumes/vol1/replica_count/3');
    const up = await until('three replicas Online again', async () => {
      const v = await c.api.request<Volume>('GET', '/v0/volumes/vol1');
      return v.state.replicas.length === 3 && v.state.replicas.every((r) => r.status === 'Online') ? v : undefined;
    });
    expect(up.state.replicas.map((r) => r.node).sort()).toEqual(['node-0', 'node-1', 'node-2']);
    // A scale-up with no node to go to is refused, and leaves the count as it was (found by
    // the REST property test: the count was saved first, and the plane kept trying it).
    await expect(c.api.request('PUT', '/v0/volumes/vol1/replica_count/4')).rejects.toMatchObject({ code: 'NotEnoughNodes' });
    expect((await c.api.request<Volume>('GET', '/v0/volumes/vol1')).spec.replicas).toBe(3);
    // A target's host that is not an NQN is refused by the API, before any node sees it.
    await expect(c.api.request('PUT', '/v0/volumes/vol1/target', { hosts: ['not-an-nqn'] })).rejects.toMatchObject({ code: 'InvalidArgument' });

    await c.api.request('DELETE', '/v0/volumes/vol1/target');
    await c.api.request('DELETE', '/v0/volumes/vol1');
    await expect(c.api.request('GET', '/v0/volumes/vol1')).rejects.toMatchObject({ code: 'NotFound' });
    await c.plane.registry.refresh();
    for (const n of c.plane.registry.nodes()) {
      expect(n.replicas).toEqual([]);
      expect(n.nexuses).toEqual([]);
    }
  });

  it('CLI: the same set-up from the nodestor command, tables and JSON, and placement errors', async () => {
    const c = await threeNodes();
    const cli = async (...args: string[]) => (await run(process.execPath, [CLI, ...args, '--control', c.plane.url], { timeout: 60_000 })).stdout;
    for (const node of ['node-0', 'node-1', 'node-2'])
      expect(await cli('create', 'pool', node, 'pool', `uring://${c.nodes.get(node)!.disk}`)).toMatch(new RegExp(`^pool ${node}/pool Online, \\d+(\\.\\d)?MiB\\n$`));
    const nodes = await cli('get', 'nodes');
    expect(nodes.split('\n')[0]).toMatch(/^ID\s+GRPC-ENDPOINT\s+STATUS$/);
    expect(nodes.split('\n').filter((l) => / Online$/.test(l))).toHaveLength(3);

    const created = await cli('create', 'volume', 'vol2', '8MiB', '--replicas', '3', '-o', 'json', '--request-id', 'cli-create-vol2');
    const volume = JSON.parse(created) as Volume;
    expect(volume.spec).toMatchObject({ name: 'vol2', sizeBytes: 8 * MiB, replicas: 3, thin: false });
    const uri = (await cli('publish', 'volume', 'vol2', '--node', 'node-1')).trim();
    expect(uri).toMatch(/^nvmf:\/\/127\.0\.0\.1:\d+\//);
    const rows = (await cli('get', 'volumes')).trim().split('\n');
    expect(rows[0]).toMatch(/^ID\s+REPLICAS\s+TARGET-NODE\s+ACCESSIBILITY\s+STATUS\s+SIZE\s+THIN-PROVISIONED$/);
    expect(rows[1]!.split(/\s+/)).toEqual([volume.spec.uuid, '3', 'node-1', 'nvmf', 'Online', '8MiB', 'false']);
    const topology = (await cli('get', 'volume-replica-topology', 'vol2')).trim().split('\n');
    expect(topology.slice(1).map((l) => l.split(/\s+/)[4])).toEqual(['Online', 'Online', 'Online']);
    expect((await cli('get', 'volumes', 'vol2', '-o', 'yaml'))).toMatch(/^spec:\n {2}name: vol2\n/);
    await hostIo(uri, (8 * MiB) / 4096);

    // The request id goes from the CLI through the control plane to each daemon's log.
    const planeLines = c.lines.filter((l) => l.requestId === 'cli-create-vol2').map((l) => l.msg);
    expect(planeLines).toContain('volume created');
    expect(planeLines).toContain('api call');
    for (const node of ['node-0', 'node-1', 'node-2']) {
      const lines = c.nodes.get(node)!.process.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.filter((l) => l.rpc === 'replica_create').map((l) => l.requestId)).toEqual(['cli-create-vol2']);
    }

    // Placement errors name what is missing: a 4th replica needs a 4th node, and 1 GiB fits nowhere.
    const tooMany = await run(process.execPath, [CLI, 'create', 'volume', 'v4', '8MiB', '--replicas', '4', '--control', c.plane.url]).catch((e: { stderr: string; code: number }) => e);
    expect(tooMany).toMatchObject({ code: 1 }); // refused by the control plane (2 is for bad arguments)
    expect((tooMany as { stderr: string }).stderr).toMatch(/^nodestor: NotEnoughNodes: 4 replica\(s\) need 4 distinct eligible node\(s\); 3 found/);
    expect((tooMany as { stderr: string }).stderr).toMatch(/\nnodestor: the control plane logged this as request [0-9a-f-]{36}\n$/);
    await expect(c.api.request('POST', '/v0/volumes', { name: 'big', sizeBytes: 1024 * MiB, replicas: 1 })).rejects.toMatchObject({ code: 'NoSpace', details: { httpStatus: 409, needed: 1 } });
    await expect(c.api.request('POST', '/v0/volumes', { name: 'bad name!', sizeBytes: MiB, replicas: 1 })).rejects.toMatchObject({ code: 'InvalidArgument', details: { httpStatus: 400 } });
    expect(await cli('delete', 'volume', 'vol2')).toBe('volume vol2 deleted\n');
    expect(JSON.parse(await cli('get', 'volumes', '-o', 'json'))).toEqual([]);
  });
});
