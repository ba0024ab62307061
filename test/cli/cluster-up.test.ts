// `nodestor up` with the 3-node example (its workdir moved to a temporary folder) and a
// 10 s matrix: three daemons and a control plane come up, the 3-replica volume is
// published, the report (JSON, a chart per case group, HTML) compares the cases; then
// `nodestor down` leaves no process, socket or file behind. A malformed file is refused,
// naming the field, before anything starts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { lockClusters } from '../helpers/multi-process.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/cluster-3-node.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nodestor-up-'));
const workdir = join(dir, 'cluster');
const file = join(dir, 'cluster.yaml');
let release: (() => void) | undefined;

function nodestor(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  release = await lockClusters();
  const spec = parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown> & { benchmark: Record<string, unknown> };
  spec.workdir = workdir;
  spec.benchmark = { ...spec.benchmark, queueDepths: [16], seconds: 5 }; // 2 workloads x 5 s
  writeFileSync(file, stringify(spec));
});
afterAll(() => {
  if (existsSync(workdir)) nodestor('down', file); // a failed test still stops its cluster
  rmSync(dir, { recursive: true, force: true });
  release?.();
});

describe('nodestor up / down', () => {
  it('brings the 3-node example up, benchmarks it into a report, and down removes everything', () => {
    const up = nodestor('up', file);
    expect(up.code, up.stderr).toBe(0);
    const result = JSON.parse(up.stdout) as { control: string; volumes: { name: string; uri: string }[] };
    expect(result.volumes).toEqual([{ name: 'vol-3r', uri: expect.stringMatching(/^nvmf:\/\/127\.0\.0\.1:\d+\/nqn\./) }]);
    const state = JSON.parse(readFileSync(join(workdir, 'state.json'), 'utf8')) as { control: { pid: number }; nodes: { name: string; pid: number; socket: string }[] };
    const pids = [state.control.pid, ...state.nodes.map((n) => n.pid)];
    expect(state.nodes.map((n) => n.name)).toEqual(['node-0', 'node-1', 'node-2']);
    expect(pids.every(alive)).toBe(true);
    expect(state.nodes.every((n) => existsSync(n.socket))).toBe(true);

    const reportDir = join(workdir, 'report');
    const files = readdirSync(reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, files.find((f) => f.endsWith('.json'))!), 'utf8')) as { cases: { volume: string; workload: string; queueDepth: number; iops: number; errors: number }[] };
    expect(report.cases.map((c) => [c.volume, c.workload, c.queueDepth])).toEqual([
      ['vol-3r', 'randread', 16],
      ['vol-3r', 'randwrite', 16],
    ]);
    expect(report.cases.every((c) => c.iops > 100 && c.errors === 0)).toBe(true);
    expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(2);
    expect(readFileSync(join(reportDir, files.find((f) => f.endsWith('.html'))!), 'utf8').match(/<svg[\s>]/g)).toHaveLength(2);

    // A second up while it runs is refused; down stops it all and removes the workdir.
    expect(nodestor('up', file, '--no-bench')).toMatchObject({ code: 1, stderr: expect.stringMatching(/^nodestor: .*already up/) });
    const down = nodestor('down', file);
    expect(down.code, down.stderr).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(workdir)).toBe(false);
    expect(nodestor('down', file)).toMatchObject({ code: 0, stderr: expect.stringMatching(/^nothing to do/) });
  }, 240_000);

  it('refuses a malformed cluster file, naming the field, before starting anything', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, stringify({ name: 'bad', workdir: join(dir, 'bad'), nodes: [{ name: 'n0' }], pools: [{ node: 'n9', sizeMb: 64 }] }));
    const r = nodestor('up', bad);
    expect(r).toMatchObject({ code: 2, stderr: `nodestor: ${bad}: pools[0].node: no node 'n9' in nodes\nnodestor: see 'nodestor --help' or 'nodestor <command> --help'\n` });
    writeFileSync(bad, stringify({ name: 'bad', nodes: [{ name: 'n0', colour: 'red' }], pools: [{ node: 'n0', sizeMb: 64 }] }));
    expect(nodestor('up', bad).stderr).toMatch(/nodes\[0\]\.colour: unknown field/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });
});
