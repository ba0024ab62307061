import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The engine's own C++ tests (rings, pollers, io channels, pools, DMA allocator, URIs,
// iostat, engine I/O), built with AddressSanitizer and UndefinedBehaviorSanitizer by the
// test set-up (`npm test` runs scripts/setup.mjs --native-tests first).
const binary = fileURLToPath(new URL('../../build-native-tests/nds_engine_tests', import.meta.url));

describe('native engine tests under ASan and UBSan', () => {
  it('all pass, with no sanitizer report', () => {
    expect(existsSync(binary)).toBe(true);
    const result = spawnSync(binary, [], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' },
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).not.toMatch(/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/);
    const summary = /(\d+) passed, (\d+) failed/.exec(result.stdout);
    expect(summary, output).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThanOrEqual(18);
    expect(Number(summary![2]), output).toBe(0);
    expect(result.status, output).toBe(0);
  });
});
