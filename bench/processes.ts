// Helpers the multi-process benchmarks share: a serving process started from a compiled
// script beside this file, which prints one JSON line once ready and serves until its
// stdin closes; and the median of trials.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ServingProcess<T> {
  ready: T; // what the process printed once ready
  stop: () => Promise<void>;
}

export async function startServingProcess<T>(script: string, args: string[]): Promise<ServingProcess<T>> {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const child = spawn(process.execPath, [path, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return {
    ready: JSON.parse(line) as T,
    stop: async () => {
      child.stdin!.end();
      await once(child, 'exit');
    },
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}
