import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The libFuzzer targets, built with ASan and UBSan by the test set-up, each run for a
// bounded time. Any crash, leak or sanitizer report fails the test and leaves the input
// in the printed directory.
const SECONDS = Number(process.env.NDS_FUZZ_SECONDS ?? 60);
const LVOL_SECONDS = Number(process.env.NDS_LVOL_FUZZ_SECONDS ?? 30);
const HOST_SECONDS = Number(process.env.NDS_HOST_FUZZ_SECONDS ?? 30);

/**
 * Runs `target` for `seconds` over a fresh corpus (plus `seeds`; with `writeSeeds` the
 * target writes its own into the corpus first); returns its output and run count.
 */
function fuzz(target: string, seconds: number, options: { seeds?: string[]; writeSeeds?: boolean; args?: string[] } = {}): { output: string; runs: number; pdus: number } {
  const binary = fileURLToPath(new URL(`../../build-fuzz/${target}`, import.meta.url));
  expect(existsSync(binary)).toBe(true);
  const work = mkdtempSync(join(tmpdir(), `${target}-`));
  const corpus = join(work, 'corpus');
  const findings = join(work, 'findings');
  for (const dir of [corpus, findings]) mkdirSync(dir);
  const result = spawnSync(
    binary,
    [corpus, ...(options.seeds ?? []), `-max_total_time=${seconds}`, '-rss_limit_mb=2048', '-timeout=20', `-artifact_prefix=${findings}/`, '-print_final_stats=1', ...(options.args ?? [])],
    {
      encoding: 'utf8',
      timeout: (seconds + 120) * 1000,
      env: { ...process.env, ...(options.writeSeeds ? { NDS_FUZZ_SEEDS: corpus } : {}), ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' },
    },
  );
  const output = `${result.stdout}\n${result.stderr}`;
  expect(readdirSync(findings), `inputs that failed are in ${findings}\n${output.slice(-4000)}`).toEqual([]);
  const runs = /Done (\d+) runs/.exec(output);
  expect(runs, output.slice(-4000)).not.toBeNull();
  expect(result.status, output.slice(-4000)).toBe(0);
  rmSync(work, { recursive: true, force: true });
  // The NVMe/TCP targets say how many PDUs they handled (a figure the README reports).
  const pdus = Number(/pdus: (\d+)/.exec(output)?.[1] ?? 0);
  if (pdus > 0) process.stdout.write(`${target}: ${runs![1]} runs, ${pdus} PDUs in ${seconds} s\n`);
  return { output, runs: Number(runs![1]), pdus };
}

// Our NVMe/TCP controller (native/fuzz/nvmf_tcp_fuzz.cc: PDU framing, digests, IC,
// Connect, admin and I/O dispatch), from seeds cut out of the real captures.
describe('fuzzing the NVMe/TCP controller', () => {
  it(`runs ${SECONDS} s from the captures' host streams without a finding`, () => {
    // The captures' streams, and the corpus a 45-minute run grew (merged, inputs up to 4 KiB).
    const grown = fileURLToPath(new URL('../fixtures/nvmf-target-seeds', import.meta.url));
    const { output, runs, pdus } = fuzz('nds_fuzz_nvmf_tcp', SECONDS, { writeSeeds: true, seeds: [grown] });
    expect(Number(/seeds: (\d+) connections/.exec(output)?.[1] ?? 0)).toBeGreaterThanOrEqual(5);
    expect(runs).toBeGreaterThan(1000);
    expect(pdus).toBeGreaterThan(runs);
  }, (SECONDS + 180) * 1000);
});

// Pool import (native/fuzz/lvol_import_fuzz.cc): a real pool image with bit flips
// (resealed or not) and cuts in its metadata area. Import must succeed with a pool that
// passes fsck and intact lvols that read back exactly, or refuse with EIO.
describe('fuzzing pool import', () => {
  it(`runs ${LVOL_SECONDS} s over damaged pool images without a finding`, () => {
    const seeds = fileURLToPath(new URL('../fixtures/lvol-import-seeds', import.meta.url));
    expect(fuzz('nds_fuzz_lvol_import', LVOL_SECONDS, { seeds: [seeds] }).runs).toBeGreaterThan(50);
  }, (LVOL_SECONDS + 180) * 1000);
});

// Our NVMe/TCP host (native/fuzz/nvmf_host_fuzz.cc: bring-up, queues, the nvmf bdev's I/O)
// against a hostile target: our target's answers damaged as the input says, or raw bytes.
// With both digests intact, a read that succeeds must return the namespace's bytes.
describe('fuzzing the NVMe/TCP host', () => {
  it(`runs ${HOST_SECONDS} s against damaged and raw target answers without a finding`, () => {
    const seeds = fileURLToPath(new URL('../fixtures/nvmf-host-seeds', import.meta.url));
    const { runs, pdus } = fuzz('nds_fuzz_nvmf_host', HOST_SECONDS, { seeds: [seeds], args: ['-max_len=256'] });
    expect(runs).toBeGreaterThan(200);
    expect(pdus).toBeGreaterThan(runs * 5); // a bring-up alone is a dozen answers
  }, (HOST_SECONDS + 180) * 1000);
});
