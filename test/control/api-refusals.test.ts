// The REST refusal property (helpers/api-refusals.ts) against a control plane with no
// nodes, for NODESTOR_API_REFUSAL_SECONDS (default 20): every request that needs a node is
// refused here, so this run exercises the refusals of the API layer and the services.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control/control-plane.js';
import { REFUSAL_UUID, runApiRefusals } from './helpers/api-refusals.js';

const SECONDS = Number(process.env.NODESTOR_API_REFUSAL_SECONDS ?? 20);
const TOKEN = 't0ken';
const dir = mkdtempSync(join(tmpdir(), 'nodestor-api-refusals-'));
let plane: ControlPlane;
beforeAll(async () => {
  plane = await ControlPlane.start({ store: `embedded:${join(dir, 'store')}`, listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await plane?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('REST API refusals, no nodes', () => {
  it(`change nothing and never answer 5xx, over ${SECONDS} s of requests built from the OpenAPI document`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const outcomes = await runApiRefusals({ url: plane.url, token: TOKEN, names: ['v1', 'node-a', 'p0', 'snap', REFUSAL_UUID], seconds: SECONDS });
    expect(outcomes.refused).toBeGreaterThan(50);
    expect(outcomes.accepted).toBeGreaterThan(10);
  });
});
