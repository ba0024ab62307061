// A nexus made again after its daemon was killed: writes in flight at the kill may have
// reached one child and not the other, and what each missed was known only to the dead
// process. So one child is kept and the others are copied from it in full. After a clean
// stop both are trusted as they are. Real daemon processes over files.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/rpc/client.js';
import { patternBytes } from '../helpers/engine.js';
import { cleanup, connect, spawnDaemon, tempDir } from './helpers/daemon.js';

const SIZE = 4 << 20;
const UUID = '5b1e0c52-8d7e-4d3a-9b61-0c2f6a4e7d10';
const CHILDREN = ['bdev:///d0', 'bdev:///d1'];

afterEach(cleanup);

interface NexusEntry {
  state: string;
  children: { uri: string; state: string; sync_state: string; rebuild_progress?: number }[];
}
interface RebuildEntry {
  childUri: string;
  state: string;
  partial: boolean;
  bytesRebuilt: number;
}

async function untilSynced(client: RpcClient): Promise<NexusEntry> {
  for (let i = 0; i < 200; i++) {
    const [nexus] = await client.call<NexusEntry[]>('nexus_list', { name: 'v' });
    if (nexus && nexus.children.length === 2 && nexus.children.every((c) => c.sync_state === 'Synced' && c.rebuild_progress === undefined)) return nexus;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the nexus children did not both become Synced in 10 s');
}

describe('a nexus made again after its daemon stopped', () => {
  it('after kill -9 keeps one child and rebuilds the other in full; after a clean stop keeps both', async () => {
    const dir = tempDir();
    const files = ['d0', 'd1'].map((n) => join(dir, `${n}.img`));
    const data = patternBytes(SIZE, 71);
    for (const f of files) writeFileSync(f, data);
    const configFile = join(dir, 'conf.json');
    const bdevs = files.map((filename, i) => ({ method: 'bdev_uring_create', params: { name: `d${i}`, filename } }));
    writeFileSync(configFile, JSON.stringify({ subsystems: [{ subsystem: 'bdev', config: bdevs }] }));
    const start = async () => {
      const daemon = await spawnDaemon('n', dir, ['--config', configFile]);
      const client = await connect(daemon.socket);
      await client.call('nexus_create', { name: 'v', uuid: UUID, children: CHILDREN });
      return { daemon, client };
    };

    const first = await start();
    expect((await untilSynced(first.client)).state).toBe('Online');
    first.daemon.child.kill('SIGKILL');
    expect(await first.daemon.exited).toBe('SIGKILL');
    // A write that reached d1 only before the kill (the host had no answer for it).
    const torn = patternBytes(4096, 72);
    const d1 = readFileSync(files[1]!);
    torn.copy(d1, 100 * 4096);
    writeFileSync(files[1]!, d1);

    const second = await start();
    await untilSynced(second.client);
    const history = await second.client.call<RebuildEntry[]>('nexus_rebuild_history', { name: 'v' });
    expect(history.map((h) => [h.childUri, h.state, h.partial, h.bytesRebuilt])).toEqual([['bdev:///d1', 'Completed', false, SIZE]]);
    expect(second.daemon.stderr()).toMatch(/"msg":"nexus stopped uncleanly: one child kept, the others rebuilt in full"/);
    second.daemon.child.kill('SIGTERM');
    expect(await second.daemon.exited).toBe(0);
    expect(readFileSync(files[1]!).equals(data)).toBe(true);
    expect(readFileSync(files[0]!).equals(data)).toBe(true);

    const third = await start();
    const [nexus] = await third.client.call<NexusEntry[]>('nexus_list', { name: 'v' });
    expect(nexus!.children.map((c) => [c.uri, c.state, c.sync_state])).toEqual([
      ['bdev:///d0', 'Open', 'Synced'],
      ['bdev:///d1', 'Open', 'Synced'],
    ]);
    expect(await third.client.call('nexus_rebuild_history', { name: 'v' })).toEqual([]);
  });
});
