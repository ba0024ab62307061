// A daemon whose replica listener is reached through something else (a proxy, a NAT):
// replica URIs name the advertised address, while the share listens where it was told.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';

afterAll(cleanup);

describe('an advertised replica listener', () => {
  it('replica URIs name it; the share still listens on the real listener', async () => {
    const s = await inProcessDaemon({ replicaListener: { address: '127.0.0.1', port: 0 }, advertisedReplicaListener: { address: '127.0.0.2', port: 4999 } });
    const call = <T = unknown>(method: string, params?: Record<string, unknown>) => s.client.call<T>(method, params);
    await call('pool_create', { name: 'pv', disk: 'malloc:///pvd?size_mb=64&blk_size=4096' });
    const replica = await call<{ uuid: string; uri: string }>('replica_create', { pool: 'pv', name: 'rv', size_bytes: 4 << 20, thin: true });
    expect(replica.uri).toBe(`nvmf://127.0.0.2:4999/nqn.2019-05.io.nodestor:${replica.uuid}`);
    const subsystems = await call<{ nqn: string; listen_addresses: { traddr: string; trsvcid: string }[] }[]>('nvmf_get_subsystems');
    const sub = subsystems.find((x) => x.nqn === `nqn.2019-05.io.nodestor:${replica.uuid}`);
    expect(sub!.listen_addresses).toHaveLength(1);
    expect(sub!.listen_addresses[0]!.traddr).toBe('127.0.0.1');
    expect(sub!.listen_addresses[0]!.trsvcid).not.toBe('4999');
    expect(await call('replica_share', { uuid: replica.uuid })).toBe(replica.uri);
    expect(await call('pool_destroy', { name: 'pv' })).toBe(true);
  });
});
