// The REST refusal property, shared by the run against a bare plane and the run against a
// plane with nodes: requests to every operation of the plane's own OpenAPI document, with
// path parameters and bodies that mostly fit their schemas or break them in one place. No
// answer is a server error; each one is JSON, an error being { code, message }; and a
// refused request changes nothing that the GETs show.
// Left out everywhere: a node's registration (its address would be dialled) and the event
// stream's follow mode (it does not end).
import fc from 'fast-check';
import { expect } from 'vitest';
import { fitting, nearly, refusalsChangeNothing, type Schema } from '../../helpers/schema-arbitrary.js';

export const REFUSAL_UUID = '6f1c2b4a-3d5e-4f60-8a7b-9c0d1e2f3a4b';

interface Operation {
  method: string;
  path: string;
  parameters?: { in: string; name: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
}

export interface RefusalRun {
  url: string;
  /** The plane's bearer token, if it has one. */
  token?: string;
  /** Names of objects that exist, or may: generated strings use them half the time. */
  names: string[];
  seconds: number;
  /** Operations left out, as 'METHOD /path/{param}'. */
  leaveOut?: string[];
  /**
   * With nodes, an accepted request starts work that goes on after its answer (replicas
   * made, targets published): the state after it is read once that work has settled.
   */
  settleAfterAccepted?: boolean;
}

async function send(run: RefusalRun, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const response = await fetch(`${run.url}${path}`, {
    method,
    headers: { ...(run.token ? { authorization: `Bearer ${run.token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
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
async function state(run: RefusalRun): Promise<string> {
  const get = async (path: string) => (await send(run, 'GET', path)).json;
  const volumes = ((await get('/v0/volumes')) as { spec: unknown }[]).map((v) => v.spec);
  const nodes = ((await get('/v0/nodes')) as { name?: string; node?: string }[]).map((n) => n.name ?? n.node);
  return JSON.stringify({ volumes, nodes, pools: await get('/v0/pools'), replicas: await get('/v0/replicas'), info: await get(`/v0/nexus-info/${REFUSAL_UUID}`) });
}

/** The state once two reads 1 s apart agree (bounded: 30 s). */
async function settledState(run: RefusalRun): Promise<string> {
  let last = await state(run);
  for (const end = Date.now() + 30_000; Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = await state(run);
    if (now === last) return now;
    last = now;
  }
  throw new Error(`the plane did not settle in 30 s: ${last}`);
}

/** Runs the property; returns how many requests were accepted and refused. */
export async function runApiRefusals(run: RefusalRun): Promise<{ accepted: number; refused: number }> {
  const doc = (await send(run, 'GET', '/v0/api-docs')).json as { paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>> };
  const leaveOut = new Set(['PUT /v0/nodes/{node}', ...(run.leaveOut ?? [])]);
  const operations: Operation[] = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ ...op, method: method.toUpperCase(), path })))
    .filter((op) => !leaveOut.has(`${op.method} ${op.path}`));
  expect(operations.length).toBeGreaterThan(15);
  const request = fc.constantFrom(...operations).chain((op) => {
    const params = (op.parameters ?? []).filter((p) => !(p.in === 'query' && p.name === 'follow'));
    const values = fc.tuple(...params.map((p) => (p.in === 'path' ? fc.oneof(fitting(p.schema, run.names), fc.string({ maxLength: 12 })) : fc.option(fitting(p.schema, run.names), { nil: undefined }))));
    const schema = op.requestBody?.content['application/json']?.schema;
    return fc.tuple(fc.constant(op), fc.constant(params), values, schema ? nearly(schema, run.names) : fc.constant(undefined));
  });
  return refusalsChangeNothing(
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
      const answer = await send(run, op.method, url, op.requestBody ? body : undefined);
      const what = `${op.method} ${url} ${JSON.stringify(body)} -> ${answer.status} ${answer.text.slice(0, 300)}`;
      expect(answer.status, what).toBeLessThan(500);
      if (answer.status !== 204) expect(answer.json, what).not.toBeUndefined();
      if (answer.status >= 400) expect(answer.json, what).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      return { refused: answer.status >= 400, what, startsWork: op.method !== 'GET' };
    },
    () => state(run),
    run.seconds,
    run.settleAfterAccepted ? () => settledState(run) : undefined,
  );
}
