// Property test of the daemon's methods from their own schemas, for
// NODESTOR_RPC_REFUSAL_SECONDS (default 20): requests that mostly fit each method's schema
// (names of objects that exist, sizes at the edges) or break it in one place. A refused
// request changes nothing: the bdevs, pools, replicas, nexuses and subsystems, as the list
// methods show them, are the same after it. An accepted one may change them. Methods that
// touch host paths or dial out are left out, as in rpc-fuzz.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError } from '../../src/rpc/protocol.js';
import { nearly, refusalsChangeNothing, type Schema } from '../helpers/schema-arbitrary.js';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';

const SECONDS = Number(process.env.NODESTOR_RPC_REFUSAL_SECONDS ?? 20);
const EXCLUDED = new Set(['bdev_aio_create', 'bdev_uring_create', 'pool_create', 'pool_import', 'bdev_nvme_attach_controller', 'bdev_wait_for_examine', 'events_subscribe', 'keyring_file_add_key']);
type Setup = Awaited<ReturnType<typeof inProcessDaemon>>;
let s: Setup;
beforeAll(async () => {
  s = await inProcessDaemon();
  for (const name of ['m0', 'm1', 'm2']) await s.client.call('bdev_malloc_create', { name, num_blocks: 8192, block_size: 4096 });
  await s.client.call('pool_create', { name: 'p0', disk: 'malloc:///pooldisk?size_mb=64&blk_size=4096' });
  await s.client.call('replica_create', { pool: 'p0', name: 'r0', size_bytes: 4 << 20, thin: true });
  await s.client.call('nexus_create', { name: 'n0', children: ['bdev:///m1', 'bdev:///m2'] });
});
afterAll(cleanup);

/** What the daemon holds, without counters or clocks. */
async function state(): Promise<string> {
  const c = s.client;
  const bdevs = (await c.call<{ name: string; num_blocks: number; block_size: number }[]>('bdev_get_bdevs')).map((b) => `${b.name}:${b.num_blocks}x${b.block_size}`).sort();
  const pools = (await c.call<{ name: string }[]>('pool_list')).map((p) => p.name).sort();
  const replicas = (await c.call<{ uuid: string; size_bytes?: number; uri?: string }[]>('replica_list')).map((r) => `${r.uuid}:${r.size_bytes}:${r.uri ?? ''}`).sort();
  const nexuses = (await c.call<{ name: string; size_bytes: number; device_uri: string | null; children: { uri: string }[] }[]>('nexus_list'))
    .map((n) => `${n.name}:${n.size_bytes}:${n.device_uri}:${n.children.map((ch) => ch.uri).join(',')}`)
    .sort();
  const subsystems = (await c.call<{ nqn: string; hosts: { nqn: string }[]; listen_addresses: { traddr: string; trsvcid: string }[]; namespaces?: { name: string }[]; allow_any_host: boolean }[]>('nvmf_get_subsystems'))
    .map((x) => JSON.stringify([x.nqn, x.allow_any_host, x.hosts.map((h) => h.nqn).sort(), x.listen_addresses.map((l) => `${l.traddr}:${l.trsvcid}`).sort(), (x.namespaces ?? []).map((n) => n.name)]))
    .sort();
  return JSON.stringify({ bdevs, pools, replicas, nexuses, subsystems });
}

describe('RPC refusals', () => {
  it(`change nothing, over ${SECONDS} s of requests built from the method schemas`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const methods = s.daemon.registry.names().filter((m) => !EXCLUDED.has(m));
    const names = ['m0', 'm1', 'm2', 'p0', 'r0', 'n0', 'bdev:///m0', 'p0/r0', 'nqn.2019-05.io.nodestor:n0', '127.0.0.1', 'pooldisk'];
    const request = fc.constantFrom(...methods).chain((method) => fc.tuple(fc.constant(method), nearly(s.daemon.registry.schema(method) as Schema, names)));
    const outcomes = await refusalsChangeNothing(
      request,
      async ([method, params]) => {
        const what = `${method} ${JSON.stringify(params)}`;
        try {
          await s.client.call(method, params as Record<string, unknown>, { timeoutMs: 10_000 });
          return { refused: false, what };
        } catch (error) {
          expect(error, what).toBeInstanceOf(RpcError);
          expect(Number.isInteger((error as RpcError).code)).toBe(true);
          expect((error as RpcError).message.length).toBeGreaterThan(0);
          return { refused: true, what };
        }
      },
      state,
      SECONDS,
    );
    expect(outcomes.refused).toBeGreaterThan(50);
    expect(outcomes.accepted).toBeGreaterThan(10);
    expect(await s.client.call('node_info')).toMatchObject({ node: 'test' });
  });
});
