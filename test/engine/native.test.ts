import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The engine's own C++ tests (rings, pollers, io channels, pools, DMA allocator, URIs,
// iostat, engine I/O, uring/aio/error modules, benchmark jobs), built by the test set-up
// (`npm test` runs scripts/setup.mjs --native-tests first) once with AddressSanitizer and
// UndefinedBehaviorSanitizer and once with ThreadSanitizer.
const builds = [
  {
    name: 'ASan + UBSan',
    dir: 'build-native-tests',
    env: { ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' },
    report: /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/,
  },
  {
    name: 'TSan',
    dir: 'build-native-tsan',
    env: { TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1' },
    report: /WARNING: ThreadSanitizer/,
  },
];

describe.each(builds)('native engine tests under $name', ({ dir, env, report }) => {
  it('all pass, with no sanitizer report', () => {
    const binary = fileURLToPath(new URL(`../../${dir}/nds_engine_tests`, import.meta.url));
    expect(existsSync(binary)).toBe(true);
    const result = spawnSync(binary, [], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).not.toMatch(report);
    const summary = /(\d+) passed, (\d+) failed/.exec(result.stdout);
    expect(summary, output).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThanOrEqual(22);
    expect(Number(summary![2]), output).toBe(0);
    expect(result.status, output).toBe(0);
  }, 300_000);
});
