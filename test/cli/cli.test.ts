// The `nodestor` command's surface: every command and subcommand has help (found by
// walking `--help` from the top), and mistakes end with one line, no stack trace unless
// --debug, and the documented exit code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function nodestor(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODESTOR_CONTROL: 'http://127.0.0.1:9' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The subcommand names a help text lists under "Commands:". */
function commandsIn(help: string): string[] {
  const at = help.indexOf('\nCommands:\n');
  if (at < 0) return [];
  return help
    .slice(at + 11)
    .split('\n')
    .map((line) => /^ {2}([a-z][a-z-]*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
}

describe('nodestor command', () => {
  it('has help for every command and subcommand, exit code 0', () => {
    const seen: string[] = [];
    const walk = (path: string[]) => {
      const { code, stdout } = nodestor(...path, '--help');
      expect(code, path.join(' ')).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: nodestor${path.length ? ` ${path.join(' ')}` : ''} `));
      seen.push(path.join(' '));
      for (const name of commandsIn(stdout)) walk([...path, name]);
    };
    walk([]);
    for (const command of ['daemon', 'rpc', 'control', 'get volumes', 'get events', 'create volume', 'create pool', 'scale volume', 'delete volume']) expect(seen).toContain(command);
    expect(nodestor('--help').stdout).toContain('Exit codes:');
    expect(nodestor('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('ends a mistake with one line and its exit code; the stack only with --debug', () => {
    const unknown = nodestor('frobnicate');
    expect([unknown.code, unknown.stderr]).toEqual([2, "error: unknown command 'frobnicate'\n"]);
    const badOption = nodestor('get', 'volumes', '--bogus');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/^error: unknown option '--bogus'/);
    const badSize = nodestor('create', 'volume', 'v', '12XB');
    expect(badSize).toMatchObject({ code: 2, stderr: "nodestor: a size like 1GiB, 512MiB or 4096, got '12XB'\nnodestor: see 'nodestor --help' or 'nodestor <command> --help'\n" });
    const badIdle = nodestor('daemon', '--node', 'x', '--idle', 'sometimes');
    expect(badIdle).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nodestor: --idle must be poll or adaptive\n/) });
    const badRequestId = nodestor('get', 'volumes', '--request-id', 'has space');
    expect(badRequestId.code).toBe(2);

    // Nothing listens: exit 3, and no stack unless asked for.
    const unreachable = nodestor('get', 'volumes', '--control', 'http://127.0.0.1:9');
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toBe('nodestor: NodeOffline: no control plane answers at http://127.0.0.1:9: fetch failed\n');
    const debug = nodestor('get', 'volumes', '--control', 'http://127.0.0.1:9', '--debug');
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/\n {4}at .*client\.js/);
    const noSocket = nodestor('rpc', 'bdev_get_bdevs', '--socket', '/nonexistent/nodestor.sock');
    expect(noSocket).toMatchObject({ code: 3, stderr: 'nodestor: ENOENT: connect ENOENT /nonexistent/nodestor.sock\n' });
    for (const r of [unknown, badOption, badSize, badIdle, unreachable, noSocket]) expect(r.stderr).not.toMatch(/\n {4}at /);
  });

  it('bench: runs a benchmark from the package and writes its JSON, its SVG charts and one self-contained HTML report', () => {
    const out = mkdtempSync(join(tmpdir(), 'nodestor-bench-test-'));
    try {
      const r = spawnSync(process.execPath, [CLI, 'bench', 'bdevperf', '--suite', '--seconds', '0.1', '--idle', 'adaptive', '--out', out], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { benchmark: string; runs: { workload: string; queueDepth: number; iops: number }[] };
      expect(result.benchmark).toBe('bdevperf-suite');
      expect(result.runs).toHaveLength(32);
      expect(result.runs.every((p) => p.iops > 0)).toBe(true);
      const files = readdirSync(out).sort();
      expect(files.map((f) => f.replace(/^bdevperf-suite-[\dT-]+Z/, ''))).toEqual(['-iops-128k.svg', '-iops-4k.svg', '-latency-128k.svg', '-latency-4k.svg', '.html', '.json']);
      // It says what it wrote, and only that, after a table of the figures.
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1)!.replace(/^wrote /, '').split(', ').sort()).toEqual(files.map((f) => join(out, f)));
      expect(lines).toContainEqual(expect.stringMatching(/^runs\[31\]\.iops +[\d,]+$/));
      const html = readFileSync(join(out, files.find((f) => f.endsWith('.html'))!), 'utf8');
      expect(html.match(/<svg[\s>]/g)).toHaveLength(4);
      expect(html).not.toMatch(/(src|href)="https?:/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('bench: a bad benchmark argument is one line and exit code 2', () => {
    expect(nodestor('bench', 'bdevperf', '--bdev', 'bogus')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nodestor: --bdev must be malloc, null, uring:\/path or aio:\/path, got 'bogus'\n/) });
    expect(nodestor('bench', 'nope')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nodestor: no benchmark 'nope'\n/) });
    expect(nodestor('bench', '--help').stdout).toContain('nodestor bench metrics [--bdevs 1000]');
  });
});
