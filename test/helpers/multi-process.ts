// For tests that run several engine processes: free loopback ports, and one lock so that
// only one such test file runs its processes at a time (two cores are shared by all).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { freePort, killAndRemove } from '../../bench/processes.js';

const LOCK = join(tmpdir(), 'nodestor-control-cluster.lock');

/** Waits until no other test file runs a cluster; resolves with the release. */
export async function lockClusters(): Promise<() => void> {
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return () => rmSync(LOCK, { force: true });
    } catch {
      const owner = Number(readFileSync(LOCK, 'utf8') || '0');
      let alive = owner > 0;
      try {
        if (alive) process.kill(owner, 0);
      } catch {
        alive = false;
      }
      if (!alive) rmSync(LOCK, { force: true }); // its file died without releasing it
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
}

