// Helpers the multi-process benchmarks (and the multi-process tests) share: a serving
// process started from a compiled script beside this file, which prints one JSON line once
// ready and serves until its stdin closes; the median of trials; a free loopback port; and
// the end of a helper process with its directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
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

/** A port free now on 127.0.0.1 (the system's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Kills `child` (if it still runs), waits for it, and removes its directory. */
export async function killAndRemove(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  rmSync(dir, { recursive: true, force: true });
}
