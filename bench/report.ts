// What every benchmark does with its result: describe the machine, print the JSON on
// stdout, and keep a copy under the results folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

export function machine(): { cpus: number; model: string | undefined; node: string } {
  return { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
}

/** Prints `output` and writes `<out>/<name>-<date>.json`; returns that path without ".json". */
export function publish(out: string, name: string, output: { date: string }): string {
  console.log(JSON.stringify(output, null, 2));
  mkdirSync(out, { recursive: true });
  const base = `${out}/${name}-${output.date.replace(/[:.]/g, '-')}`;
  writeFileSync(`${base}.json`, JSON.stringify(output, null, 2));
  return base;
}

/** Milliseconds summarised: count, median, p90 and max, to 0.1 ms. */
export function msStats(values: number[]): { n: number; medianMs: number; p90Ms: number; maxMs: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
  return { n: sorted.length, medianMs: at(0.5), p90Ms: at(0.9), maxMs: at(1) };
}
