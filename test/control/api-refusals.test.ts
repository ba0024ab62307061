// Property test of the REST API from its own OpenAPI document, for
// NODESTOR_API_REFUSAL_SECONDS (default 20): requests to every operation, with path
// parameters and bodies that mostly fit their schemas or break them in one place, against a
// control plane with no nodes. No answer is a server error; each one is JSON, an error
// being { code, message }; and a refused request changes nothing that the GETs show.
// Left out: a node's registration (its address would be dialled) and the event stream's
// follow mode (it does not end).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control/control-plane.js';
import { fitting, nearly, refusalsChangeNothing, type Schema } from '../helpers/schema-arbitrary.js';

const SECONDS = Number(process.env.NODESTOR_API_REFUSAL_SECONDS ?? 20);
const TOKEN = 't0ken';
const UUID = '6f1c2b4a-3d5e-4f60-8a7b-9c0d1e2f3a4b';
const dir = mkdtempSync(join(tmpdir(), 'nodestor-api-refusals-'));
let plane: ControlPlane;
beforeAll(async () => {
  plane = await ControlPlane.start({ store: `embedded:${join(dir, 'store')}`, listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await plane?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Operation {
  method: string;
  path: string;
  parameters?: { in: string; name: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
}

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const response = await fetch(`${plane.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** What the plane holds, as its GETs show it (node and volume status left out: they move by themselves). */
async function state(): Promise<string> {
  const get = async (path: string) => (await send('GET', path)).json;
  const volumes = ((await get('/v0/volumes')) as { spec: unknown }[]).map((v) => v.spec);
  const nodes = ((await get('/v0/nodes')) as { name?: string; node?: string }[]).map((n) => n.name ?? n.node);
  return JSON.stringify({ volumes, nodes, pools: await get('/v0/pools'), replicas: await get('/v0/replicas'), info: await get(`/v0/nexus-info/${UUID}`) });
}

describe('REST API refusals', () => {
  it(`change nothing and never answer 5xx, over ${SECONDS} s of requests built from the OpenAPI document`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const doc = (await send('GET', '/v0/api-docs')).json as { paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>> };
    const operations: Operation[] = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ ...op, method: method.toUpperCase(), path })))
      .filter((op) => !(op.method === 'PUT' && op.path === '/v0/nodes/{node}'));
    expect(operations.length).toBeGreaterThan(15);
    const names = ['v1', 'node-a', 'p0', 'snap', UUID];
    const request = fc.constantFrom(...operations).chain((op) => {
      const params = (op.parameters ?? []).filter((p) => !(p.in === 'query' && p.name === 'follow'));
      const values = fc.tuple(...params.map((p) => (p.in === 'path' ? fc.oneof(fitting(p.schema, names), fc.string({ maxLength: 12 })) : fc.option(fitting(p.schema, names), { nil: undefined }))));
      const schema = op.requestBody?.content['application/json']?.schema;
      return fc.tuple(fc.constant(op), fc.constant(params), values, schema ? nearly(schema, names) : fc.constant(undefined));
    });
    const outcomes = await refusalsChangeNothing(
      request,
      async ([op, params, values, body]) => {
        let path = op.path;
        const query = new URLSearchParams();
        params.forEach((p, i) => {
          const value = values[i];
          if (p.in === 'path') path = path.replace(`{${p.name}}`, encodeURIComponent(String(value)));
          else if (value !== undefined) query.set(p.name, String(value));
        });
        const url = query.size > 0 ? `${path}?${query}` : path;
        const answer = await send(op.method, url, op.requestBody ? body : undefined);
        const what = `${op.method} ${url} ${JSON.stringify(body)} -> ${answer.status} ${answer.text.slice(0, 300)}`;
        expect(answer.status, what).toBeLessThan(500);
        if (answer.status !== 204) expect(answer.json, what).not.toBeUndefined();
        if (answer.status >= 400) expect(answer.json, what).toMatchObject({ code: expect.any(String), message: expect.any(String) });
        return { refused: answer.status >= 400, what };
      },
      state,
      SECONDS,
    );
    expect(outcomes.refused).toBeGreaterThan(50);
    expect(outcomes.accepted).toBeGreaterThan(10);
  });
});
