// Placement on its own: distinct nodes, the pool with the most free space that fits,
// thick and thin capacity (overcommit), labels, and each error with what is missing.
import { describe, expect, it } from 'vitest';
import { ControlError } from '../../src/control/errors.js';
import { placeReplicas, type PlacementNode, type PlacementPool } from '../../src/control/scheduling/placement.js';

const GiB = 1024 ** 3;
const node = (name: string, labels: Record<string, string> = {}, status: 'Online' | 'Offline' = 'Online'): PlacementNode => ({ name, status, labels });
const pool = (nodeName: string, name: string, totalGiB: number, freeGiB: number, committedGiB = totalGiB - freeGiB, labels: Record<string, string> = {}): PlacementPool => ({
  spec: { node: nodeName, name, disk: `uring:///${name}`, labels },
  state: { status: 'Online', totalBytes: totalGiB * GiB, usedBytes: (totalGiB - freeGiB) * GiB, committedBytes: committedGiB * GiB, availableBytes: freeGiB * GiB },
});

function refused(fn: () => unknown): ControlError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ControlError) return error;
    throw error;
  }
  throw new Error('placement did not refuse');
}

describe('placement', () => {
  const nodes = [node('a'), node('b'), node('c')];
  const pools = [pool('a', 'a1', 10, 2), pool('a', 'a2', 10, 8), pool('b', 'b1', 10, 5), pool('c', 'c1', 10, 9)];

  it('puts replicas on distinct nodes, each on its fullest-free pool, nodes by free space', () => {
    expect(placeReplicas(nodes, pools, { sizeBytes: GiB, thin: false, count: 3 })).toEqual([
      { node: 'c', pool: 'c1' },
      { node: 'a', pool: 'a2' },
      { node: 'b', pool: 'b1' },
    ]);
    expect(placeReplicas(nodes, pools, { sizeBytes: GiB, thin: false, count: 2, excludeNodes: ['c'] })).toEqual([
      { node: 'a', pool: 'a2' },
      { node: 'b', pool: 'b1' },
    ]);
    expect(placeReplicas(nodes, pools, { sizeBytes: GiB, thin: false, count: 0 })).toEqual([]);
  });

  it('thick needs free space; thin fits within the overcommit limit', () => {
    // 6 GiB thick fits only on a2 (8 free) and c1 (9 free).
    expect(placeReplicas(nodes, pools, { sizeBytes: 6 * GiB, thin: false, count: 2 }).map((p) => p.pool)).toEqual(['c1', 'a2']);
    const e = refused(() => placeReplicas(nodes, pools, { sizeBytes: 6 * GiB, thin: false, count: 3 }));
    expect(e.code).toBe('NoSpace');
    expect(e.details).toMatchObject({ needed: 3, fitting: ['a', 'c'] });
    expect((e.details.reasons as Record<string, string>)['b/b1']).toMatch(/5368709120 bytes free, 6442450944 needed/);
    // Thin: 10 GiB pools with 400% overcommit take up to 40 GiB committed.
    const full = [pool('a', 'a1', 10, 10, 35), pool('b', 'b1', 10, 10, 20), pool('c', 'c1', 10, 10, 0)];
    expect(placeReplicas(nodes, full, { sizeBytes: 5 * GiB, thin: true, count: 3 }).map((p) => p.node).sort()).toEqual(['a', 'b', 'c']);
    expect(refused(() => placeReplicas(nodes, full, { sizeBytes: 6 * GiB, thin: true, count: 3 })).code).toBe('NoSpace');
    expect(placeReplicas(nodes, full, { sizeBytes: 6 * GiB, thin: true, count: 3, overcommit: 5 })).toHaveLength(3);
  });

  it('respects node and pool labels, and names what is missing', () => {
    const labelled = [node('a', { zone: 'z1' }), node('b', { zone: 'z2' }), node('c', { zone: 'z1' })];
    const lp = [pool('a', 'a1', 10, 9, 1, { tier: 'ssd' }), pool('b', 'b1', 10, 9, 1, { tier: 'ssd' }), pool('c', 'c1', 10, 9, 1, { tier: 'hdd' })];
    expect(placeReplicas(labelled, lp, { sizeBytes: GiB, thin: false, count: 2, topology: { nodeLabels: { zone: 'z1' } } }).map((p) => p.node).sort()).toEqual(['a', 'c']);
    expect(placeReplicas(labelled, lp, { sizeBytes: GiB, thin: false, count: 2, topology: { poolLabels: { tier: 'ssd' } } }).map((p) => p.node).sort()).toEqual(['a', 'b']);
    const e = refused(() => placeReplicas(labelled, lp, { sizeBytes: GiB, thin: false, count: 2, topology: { nodeLabels: { zone: 'z1' }, poolLabels: { tier: 'ssd' } } }));
    expect(e.code).toBe('NotEnoughNodes');
    expect(e.details).toMatchObject({ needed: 2, eligibleNodes: ['a'], reasons: { b: 'node labels do not match', c: 'no pool matches' } });
  });

  it('skips offline nodes and pools that are not online', () => {
    const withOffline = [node('a'), node('b', {}, 'Offline'), node('c')];
    const e = refused(() => placeReplicas(withOffline, pools, { sizeBytes: GiB, thin: false, count: 3 }));
    expect(e.code).toBe('NotEnoughNodes');
    expect(e.details).toMatchObject({ eligibleNodes: ['a', 'c'], reasons: { b: 'node is Offline' } });
    const unknown = pools.map((p) => (p.spec.node === 'c' ? { ...p, state: { ...p.state, status: 'Unknown' as const } } : p));
    expect(refused(() => placeReplicas(nodes, unknown, { sizeBytes: GiB, thin: false, count: 3 })).details).toMatchObject({ reasons: { c: 'no pool is online' } });
  });
});
