// Two control-plane processes on one etcd: exactly one leads and only it reconciles (it
// destroys a replica no spec owns; the standby runs no pass). With the leader killed -9,
// the standby leads within the lease TTL and reconciles. The daemons know both URLs.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import { connect } from '../daemon/helpers/daemon.js';
import { ControlCluster, clusterSession, until } from './helpers/cluster.js';
import { startEtcd, type EtcdServer } from './helpers/etcd.js';

const TTL_MS = 2_000;
const session = clusterSession();
let etcd: EtcdServer;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop(); // after the session's teardown of the planes and daemons
});

interface Status {
  leader: boolean;
  store: string;
  reconcile: { passes: number };
}

describe('control planes on etcd', () => {
  it('one leads and reconciles; when it is killed the standby takes over within the TTL', async () => {
    const c = (session.cluster = new ControlCluster());
    const store = `etcd://${etcd.endpoint}`;
    const first = await c.startPlaneProcess({}, { store, slot: 0 });
    const firstApi = new ControlClient(first.url);
    await until('the first plane leads', async () => (await firstApi.request<Status>('GET', '/v0/status')).leader);
    const second = await c.startPlaneProcess({}, { store, slot: 1 });
    const secondApi = new ControlClient(second.url);
    expect(await secondApi.request<Status>('GET', '/v0/status')).toMatchObject({ leader: false, store: 'etcd' });
    c.url = `${first.url},${second.url}`;
    c.api = new ControlClient([first.url, second.url]);
    await Promise.all([0, 1].map((i) => c.startNode(i)));
    // Heartbeats go to the first plane; both see the nodes through etcd.
    await until('nodes online on both', async () => {
      const [a, b] = await Promise.all([firstApi.request<{ status: string }[]>('GET', '/v0/nodes'), secondApi.request<{ status: string }[]>('GET', '/v0/nodes')]);
      return a.filter((n) => n.status === 'Online').length === 2 && b.length === 2;
    });
    await c.createPool('node-0');
    const rpc = await connect(c.nodes.get('node-0')!.process.socket);
    const stray = async () => (await rpc.call<{ uuid: string }>('replica_create', { pool: 'pool', name: `${randomUUID()}-0`, size_bytes: 4 << 20, share: false })).uuid;
    const destroyed = (uuid: string) => until(`stray replica ${uuid} destroyed`, async () => !(await rpc.call<{ uuid: string }[]>('replica_list')).some((r) => r.uuid === uuid), 15_000);

    await destroyed(await stray());
    expect((await secondApi.request<Status>('GET', '/v0/status')).reconcile.passes).toBe(0);
    expect((await firstApi.request<Status>('GET', '/v0/status')).reconcile.passes).toBeGreaterThan(0);

    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    await until('the standby leads', async () => (await secondApi.request<Status>('GET', '/v0/status')).leader, TTL_MS + 5_000);
    expect(Date.now() - killedAt).toBeLessThan(TTL_MS + 2_500);
    await destroyed(await stray());
    expect((await secondApi.request<Status>('GET', '/v0/status')).reconcile.passes).toBeGreaterThan(0);
    // The daemons' heartbeats now reach the second plane: the nodes stay Online.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await secondApi.request<{ status: string }[]>('GET', '/v0/nodes')).map((n) => n.status)).toEqual(['Online', 'Online']);
  });
});
