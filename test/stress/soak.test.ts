// The reliability soak (bench/soak.ts) as CI runs it: NODESTOR_SOAK_MINUTES (default 3) of
// seeded faults on 4 daemon processes and a control plane, as `npm run soak` runs it. It
// must pass every check after every fault: Online again, replicas byte-equal, no
// acknowledged write lost, no garbage read. It holds the cluster lock (it is the heaviest
// multi-process test) and leaves no process or file behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lockClusters } from '../helpers/multi-process.js';

const MINUTES = Number(process.env.NODESTOR_SOAK_MINUTES ?? 3);
const SEED = Number(process.env.NODESTOR_SOAK_SEED ?? 20);
const SOAK = fileURLToPath(new URL('../../dist/bench/soak.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'nodestor-soak-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Summary {
  passed: boolean;
  stopReason?: string;
  faults: { injected: number; byKind: Record<string, number> };
  writes: { acknowledged: number; lost: number };
  reads: { checked: number; garbage: number };
  replicaMismatches: number;
  problems: string[];
  rebuilds: { count: number; completed: number };
}

describe('soak', () => {
  it(`passes every check over ${MINUTES} min of faults (seed ${SEED})`, { timeout: (MINUTES * 60 + 300) * 1000 }, async () => {
    const release = await lockClusters();
    let stderr = '';
    let code: number | null;
    try {
      const child = spawn(process.execPath, [SOAK, '--minutes', String(MINUTES), '--seed', String(SEED), '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    } finally {
      release();
    }
    const report = readdirSync(out).find((f) => f.startsWith('soak-') && f.endsWith('.json'));
    expect(report, stderr.slice(-4000)).toBeDefined();
    const summary = JSON.parse(readFileSync(join(out, report!), 'utf8')) as Summary;
    expect(summary.problems, stderr.slice(-4000)).toEqual([]);
    expect(summary.passed).toBe(true);
    expect(code).toBe(0);
    expect(summary.writes.lost).toBe(0);
    expect(summary.reads.garbage).toBe(0);
    expect(summary.replicaMismatches).toBe(0);
    expect(summary.faults.injected).toBeGreaterThanOrEqual(MINUTES * 3);
    expect(Object.keys(summary.faults.byKind).length).toBeGreaterThanOrEqual(4);
    expect(summary.writes.acknowledged).toBeGreaterThan(1000);
    expect(summary.reads.checked).toBeGreaterThan(300);
    // The cluster's workdir (sockets, pools, logs) is gone; only the report files remain.
    const workdir = /cluster up: .* in (\S+)/.exec(stderr)?.[1];
    expect(workdir, stderr.slice(0, 2000)).toBeDefined();
    expect(existsSync(workdir!)).toBe(false);
    expect(readdirSync(out).every((f) => f.startsWith('soak-') && !f.startsWith('soak-logs-'))).toBe(true);
  });
});
