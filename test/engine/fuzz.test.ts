import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The libFuzzer target over our NVMe/TCP controller (native/fuzz/nvmf_tcp_fuzz.cc: PDU
// framing, digests, IC, Connect, admin and I/O dispatch), built with ASan and UBSan by the
// test set-up, runs for a bounded time from seeds cut out of the real captures. Any crash,
// leak or sanitizer report fails the test and leaves the input in the printed directory.
const SECONDS = Number(process.env.NDS_FUZZ_SECONDS ?? 60);

describe('fuzzing the NVMe/TCP controller', () => {
  it(`runs ${SECONDS} s from the captures' host streams without a finding`, () => {
    const binary = fileURLToPath(new URL('../../build-fuzz/nds_fuzz_nvmf_tcp', import.meta.url));
    expect(existsSync(binary)).toBe(true);
    const work = mkdtempSync(join(tmpdir(), 'nds-fuzz-'));
    const corpus = join(work, 'corpus');
    const findings = join(work, 'findings');
    for (const dir of [corpus, findings]) spawnSync('mkdir', ['-p', dir]);
    const result = spawnSync(
      binary,
      [corpus, `-max_total_time=${SECONDS}`, '-rss_limit_mb=2048', '-timeout=10', `-artifact_prefix=${findings}/`, '-print_final_stats=1'],
      {
        encoding: 'utf8',
        timeout: (SECONDS + 120) * 1000,
        env: { ...process.env, NDS_FUZZ_SEEDS: corpus, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' },
      },
    );
    const output = `${result.stdout}\n${result.stderr}`;
    const found = readdirSync(findings);
    expect(found, `inputs that failed are in ${findings}\n${output.slice(-4000)}`).toEqual([]);
    expect(output).toMatch(/seeds: (\d+) connections written/);
    expect(Number(/seeds: (\d+) connections/.exec(output)![1])).toBeGreaterThanOrEqual(5);
    const runs = /Done (\d+) runs/.exec(output);
    expect(runs, output.slice(-4000)).not.toBeNull();
    expect(Number(runs![1])).toBeGreaterThan(1000);
    expect(result.status, output.slice(-4000)).toBe(0);
    rmSync(work, { recursive: true, force: true });
  }, (SECONDS + 180) * 1000);
});

// The pool-import fuzzer (native/fuzz/lvol_import_fuzz.cc): a real pool image with bit
// flips (resealed or not) and cuts in its metadata area. Import must succeed with a pool
// that passes fsck and intact lvols that read back exactly, or refuse with EIO.
const LVOL_SECONDS = Number(process.env.NDS_LVOL_FUZZ_SECONDS ?? 30);

describe('fuzzing pool import', () => {
  it(`runs ${LVOL_SECONDS} s over damaged pool images without a finding`, () => {
    const binary = fileURLToPath(new URL('../../build-fuzz/nds_fuzz_lvol_import', import.meta.url));
    expect(existsSync(binary)).toBe(true);
    const work = mkdtempSync(join(tmpdir(), 'nds-lvol-fuzz-'));
    const corpus = join(work, 'corpus');
    const findings = join(work, 'findings');
    for (const dir of [corpus, findings]) spawnSync('mkdir', ['-p', dir]);
    const result = spawnSync(
      binary,
      [corpus, fileURLToPath(new URL('../fixtures/lvol-import-seeds', import.meta.url)), `-max_total_time=${LVOL_SECONDS}`, '-rss_limit_mb=2048', '-timeout=20', `-artifact_prefix=${findings}/`, '-print_final_stats=1'],
      { encoding: 'utf8', timeout: (LVOL_SECONDS + 120) * 1000, env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' } },
    );
    const output = `${result.stdout}\n${result.stderr}`;
    expect(readdirSync(findings), `inputs that failed are in ${findings}\n${output.slice(-4000)}`).toEqual([]);
    const runs = /Done (\d+) runs/.exec(output);
    expect(runs, output.slice(-4000)).not.toBeNull();
    expect(Number(runs![1])).toBeGreaterThan(50);
    expect(result.status, output.slice(-4000)).toBe(0);
    rmSync(work, { recursive: true, force: true });
  }, (LVOL_SECONDS + 180) * 1000);
});
