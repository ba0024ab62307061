// The REST refusal property (helpers/api-refusals.ts) against a control plane with three
// real daemons, each with a pool, for NODESTOR_API_REFUSAL_SECONDS (default 20). Requests
// name the nodes, the pools and the volumes that exist, so they get past the lookups: volumes
// are made, published, scaled, snapshotted and deleted on real replicas, and the refusals
// come from the placement and the nodes too. After an accepted request the state is read
// once the work it started has settled; a refused one must change nothing.
// Also left out here: a pool's creation (its disk URI would reach the daemons' host paths).
import { describe, expect, it } from 'vitest';
import { REFUSAL_UUID, runApiRefusals } from './helpers/api-refusals.js';
import { clusterSession } from './helpers/cluster.js';

const SECONDS = Number(process.env.NODESTOR_API_REFUSAL_SECONDS ?? 20);
const session = clusterSession();

describe('REST API refusals, with nodes', () => {
  it(`change nothing and never answer 5xx, over ${SECONDS} s of requests against three daemons`, { timeout: (SECONDS + 240) * 1000 }, async () => {
    const c = await session.start(3);
    // Two volumes on real replicas, one published, for the requests to act on.
    await c.api.request('POST', '/v0/volumes', { name: 'v1', sizeBytes: 4 << 20, replicas: 3 });
    await c.api.request('PUT', '/v0/volumes/v1/target', { node: 'node-0' });
    await c.api.request('POST', '/v0/volumes', { name: 'v2', sizeBytes: 4 << 20, replicas: 2, thin: true });
    const outcomes = await runApiRefusals({
      url: c.plane.url,
      names: ['v1', 'v2', 'node-0', 'node-1', 'node-2', 'pool', 'snap', REFUSAL_UUID],
      seconds: SECONDS,
      leaveOut: ['POST /v0/nodes/{node}/pools'],
      settleAfterAccepted: true,
    });
    expect(outcomes.refused).toBeGreaterThan(30);
    expect(outcomes.accepted).toBeGreaterThan(3);
  });
});
