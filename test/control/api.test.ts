// The REST API on its own (a control plane with no nodes): the token, the OpenAPI
// document, the error shape for bad requests and unknown routes, and the refusal to listen
// off loopback without a token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import { ControlPlane } from '../../src/control/control-plane.js';

const dir = mkdtempSync(join(tmpdir(), 'nodestor-api-'));
const quiet = pino({ level: 'silent' });
let plane: ControlPlane;
beforeAll(async () => {
  plane = await ControlPlane.start({ store: `embedded:${join(dir, 'store')}`, listen: { host: '127.0.0.1', port: 0 }, token: 's3cret', logger: quiet });
});
afterAll(async () => {
  await plane?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('REST API', () => {
  it('needs the Bearer token when one is set', async () => {
    await expect(new ControlClient(plane.url).request('GET', '/v0/volumes')).rejects.toMatchObject({ code: 'Unauthorized', details: { httpStatus: 401 } });
    await expect(new ControlClient(plane.url, { token: 'wrong' }).request('GET', '/v0/volumes')).rejects.toMatchObject({ code: 'Unauthorized' });
    expect(await new ControlClient(plane.url, { token: 's3cret' }).request('GET', '/v0/volumes')).toEqual([]);
  });

  it('serves its OpenAPI document and answers bad requests with { code, message, details }', async () => {
    const api = new ControlClient(plane.url, { token: 's3cret' });
    const doc = await api.request<{ openapi: string; paths: Record<string, unknown> }>('GET', '/v0/api-docs');
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v0/volumes', '/v0/volumes/{name}/target', '/v0/nodes/{node}/pools', '/v0/volumes/{name}/snapshots']));
    await expect(api.request('POST', '/v0/volumes', { name: 'v', sizeBytes: 'big', replicas: 1 })).rejects.toMatchObject({ code: 'InvalidArgument', details: { httpStatus: 400 } });
    await expect(api.request('POST', '/v0/volumes', { name: 'v', sizeBytes: 1 << 20, replicas: 1, extra: true })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/additional properties/) });
    await expect(api.request('GET', '/v0/volumes/nope')).rejects.toMatchObject({ code: 'NotFound', message: 'no volume named nope', details: { volume: 'nope', httpStatus: 404 } });
    await expect(api.request('GET', '/v0/nothing')).rejects.toMatchObject({ code: 'NotFound', details: { httpStatus: 404 } });
    await expect(api.request('POST', '/v0/nodes/ghost/pools', { name: 'p', disk: 'uring:///x' })).rejects.toMatchObject({ code: 'NotFound', details: { node: 'ghost' } });
    // No node: a volume cannot be placed, and the answer says why.
    await expect(api.request('POST', '/v0/volumes', { name: 'v', sizeBytes: 1 << 20, replicas: 1 })).rejects.toMatchObject({ code: 'NotEnoughNodes', details: { httpStatus: 409, needed: 1, eligibleNodes: [] } });
    expect(await api.request('GET', '/v0/volumes')).toEqual([]); // nothing half-made
  });

  it('refuses to listen off loopback without a token', async () => {
    await expect(ControlPlane.start({ store: `embedded:${join(dir, 'other')}`, listen: { host: '0.0.0.0', port: 0 }, logger: quiet })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
