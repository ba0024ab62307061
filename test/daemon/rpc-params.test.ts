// Every registered method refuses bad parameters with -32602 and a message naming the
// parameter: an unknown one, a missing required one, and each one with the wrong type.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcCode, RpcError } from '../../src/rpc/protocol.js';
import type { Schema } from '../../src/rpc/schema.js';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';

type Setup = Awaited<ReturnType<typeof inProcessDaemon>>;
let setup: Setup;

beforeAll(async () => {
  setup = await inProcessDaemon();
});
afterAll(cleanup);

function wrongValue(schema: Schema): unknown {
  switch (schema.type) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not a number';
    case 'boolean':
      return 'yes';
    case 'array':
      return { not: 'an array' };
    case 'object':
      return 'not an object';
  }
}

async function refusal(method: string, params: unknown): Promise<RpcError> {
  try {
    await setup.client.call(method, params as Record<string, unknown>);
  } catch (error) {
    return error as RpcError;
  }
  throw new Error(`${method} accepted ${JSON.stringify(params)}`);
}

describe('parameter checks of every method', () => {
  it('lists the SPDK and nodestor methods', async () => {
    const methods = await setup.client.call<string[]>('rpc_get_methods');
    for (const name of ['bdev_get_bdevs', 'bdev_malloc_create', 'bdev_lvol_create', 'nvmf_create_subsystem', 'nvmf_subsystem_add_ns', 'bdev_nvme_attach_controller', 'framework_get_config', 'pool_create', 'replica_create', 'nexus_create', 'events_subscribe'])
      expect(methods).toContain(name);
    expect(methods).toEqual([...methods].sort());
  });

  it('unknown, missing and wrongly typed parameters are -32602 naming the parameter', async () => {
    const registry = setup.daemon.registry;
    let checked = 0;
    for (const method of registry.names()) {
      const schema = registry.schema(method)!;
      if (schema.open) continue; // SPDK tunables: any member is accepted (and named in a warning)
      const unknown = await refusal(method, { bogus_parameter: 1 });
      expect(unknown).toMatchObject({ code: RpcCode.invalidParams, data: { code: 'EINVAL', method } });
      expect(unknown.message).toMatch(/bogus_parameter is not a parameter of this method/);
      for (const required of schema.required ?? []) {
        const missing = await refusal(method, {});
        expect(missing.code).toBe(RpcCode.invalidParams);
        expect(missing.message).toMatch(new RegExp(`${(schema.required ?? [])[0]} is required`));
        void required;
        break;
      }
      for (const [key, sub] of Object.entries(schema.properties)) {
        const wrong = await refusal(method, { [key]: wrongValue(sub) });
        expect(wrong.code).toBe(RpcCode.invalidParams);
        expect(wrong.message).toContain(key);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(150);
  });

  it('out-of-range values and params that are not an object are refused', async () => {
    await expect(setup.client.call('bdev_malloc_create', { num_blocks: 0, block_size: 4096 })).rejects.toMatchObject({
      code: RpcCode.invalidParams,
      message: 'Invalid parameters: num_blocks must be at least 1, got 0',
    });
    await expect(setup.client.call('bdev_malloc_create', { num_blocks: 8, block_size: 1024 })).rejects.toMatchObject({
      code: RpcCode.invalidParams,
      message: 'Invalid parameters: block_size must be 512 or 4096, got 1024',
    });
    await expect(setup.client.call('bdev_get_bdevs', [1, 2])).rejects.toMatchObject({ code: RpcCode.invalidParams, message: 'Invalid parameters: params must be an object' });
    await expect(setup.client.call('nvmf_subsystem_add_listener', { nqn: 'nqn.2016-06.io.spdk:x', listen_address: { trtype: 'TCP', traddr: '127.0.0.1', trsvcid: '99999' } })).rejects.toMatchObject({
      code: RpcCode.invalidParams,
    });
    await expect(setup.client.call('nosuch_method')).rejects.toMatchObject({ code: RpcCode.methodNotFound, message: 'Method not found: nosuch_method' });
  });
});
