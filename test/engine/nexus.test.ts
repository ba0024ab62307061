import { describe, expect, it } from 'vitest';
import { NodestorError, type NexusPersistInfo } from '../../src/index.js';
import { codeOf, patternBytes, withEngine } from '../helpers/engine.js';
import { rebuildEnd } from '../helpers/nexus.js';

const MiB = 1 << 20;

describe('nexus', () => {
  it('mirrors writes to every child, faults a failing child without failing I/O, and keeps the last child', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const size = 8 * MiB;
      const bases = await Promise.all([0, 1, 2].map((i) => engine.createBdev(`malloc:///m${i}?size_mb=8&blk_size=4096`)));
      const err = await engine.createBdev('error:///e2?base=m2');
      const persisted: NexusPersistInfo[] = [];
      const states: string[] = [];
      const nexus = await engine.createNexus({
        name: 'vol1',
        children: ['bdev:///m0', 'bdev:///m1', 'bdev:///e2'],
        persist: async (info) => {
          persisted.push(structuredClone(info));
        },
      });
      nexus.on('state', (s) => states.push(s));
      expect(nexus.state).toBe('Online');
      expect(nexus.sizeBytes).toBe(size);
      expect(nexus.bdev.module).toBe('nexus');
      expect(nexus.children.map((c) => [c.uri, c.state, c.syncState])).toEqual([
        ['bdev:///m0', 'Open', 'Synced'],
        ['bdev:///m1', 'Open', 'Synced'],
        ['bdev:///e2', 'Open', 'Synced'],
      ]);
      expect(persisted[0]).toMatchObject({ name: 'vol1', cleanShutdown: false });
      expect(persisted[0]!.children.every((c) => c.healthy)).toBe(true);
      // The children are claimed: nobody else writes them.
      await expect(bases[0]!.write(0, Buffer.alloc(4096))).rejects.toMatchObject({ code: 'EPERM' });

      const data = patternBytes(size, 7);
      await nexus.bdev.write(0, data);
      for (const b of bases) expect((await b.read(0, size)).equals(data)).toBe(true);

      // e2 fails writes: the write succeeds (m0, m1 have it), e2 is faulted and persisted as unhealthy first.
      err.injectError({ ioType: 'write', errno: 'EIO' });
      const update = patternBytes(64 * 1024, 8);
      await nexus.bdev.write(MiB, update);
      data.set(update, MiB);
      expect(nexus.state).toBe('Degraded');
      const e2 = nexus.children.find((c) => c.uri === 'bdev:///e2')!;
      expect([e2.state, e2.reason, e2.syncState]).toEqual(['Faulted', 'IoError', 'OutOfSync']);
      const last = persisted.at(-1)!;
      expect(last.children.find((c) => c.uri === 'bdev:///e2')!.healthy).toBe(false);
      expect((await nexus.bdev.read(0, size)).equals(data)).toBe(true);
      expect(states).toContain('Degraded');

      // Reads fail on m0: served by m1, and m0 is faulted too.
      await nexus.faultChild('bdev:///m0');
      expect(await codeOf(nexus.faultChild('bdev:///m1'))).toBe('EBUSY');
      expect(await codeOf(nexus.removeChild('bdev:///m1'))).toBe('EBUSY');
      expect(await codeOf(nexus.offlineChild('bdev:///m1'))).toBe('EBUSY');
      await expect(nexus.faultChild('bdev:///m1')).rejects.toThrow(/last healthy child/);
      expect(nexus.state).toBe('Degraded');
      expect((await nexus.bdev.read(0, size)).equals(data)).toBe(true);
      expect(await codeOf(nexus.removeChild('bdev:///nope'))).toBe('ENOENT');

      await nexus.destroy();
      expect(nexus.status).toBe('closed');
      expect(engine.nexus('vol1')).toBeUndefined();
      expect(persisted.at(-1)!.cleanShutdown).toBe(true);
      // The children are free again.
      await bases[0]!.write(0, Buffer.alloc(4096));
    });
  });

  it('an error on the last healthy child reaches the application, and owned children go with the nexus', async () => {
    await withEngine({ memoryMb: 128 }, async (engine) => {
      await engine.createBdev('malloc:///base?size_mb=4&blk_size=4096');
      const err = await engine.createBdev('error:///only?base=base');
      const nexus = await engine.createNexus({ name: 'solo', children: ['bdev:///only', 'malloc:///owned?size_mb=8&blk_size=4096'] });
      expect(nexus.sizeBytes).toBe(4 * MiB); // the smallest child
      const owned = engine.getBdev('owned')!; // shown, claimed by the nexus that made it
      expect(owned.module).toBe('malloc');
      await nexus.faultChild('malloc:///owned?size_mb=8&blk_size=4096');
      err.injectError({ ioType: 'write', errno: 'ENOSPC' });
      expect(await codeOf(nexus.bdev.write(0, Buffer.alloc(4096)))).toBe('ENOSPC');
      expect(nexus.children[0]!.state).toBe('Open'); // not faulted: it is the last one
      err.clearInjectedErrors();
      await nexus.bdev.write(0, Buffer.alloc(4096, 1));
      await nexus.destroy();
      expect(owned.status).toBe('closed');
      expect(engine.getBdev('owned')).toBeUndefined();
      // The owned child was destroyed with it; its name is free.
      const again = await engine.createBdev('malloc:///owned?size_mb=1');
      await again.destroy();
    });
  });

  it('rejects bad options and children with coded errors', async () => {
    await withEngine({ memoryMb: 64 }, async (engine) => {
      await engine.createBdev('malloc:///a?size_mb=4&blk_size=4096');
      await engine.createBdev('malloc:///b?size_mb=4&blk_size=512');
      await expect(engine.createNexus({ name: 'x', children: [] })).rejects.toThrow(RangeError);
      await expect(engine.createNexus({ name: 'a/b', children: ['bdev:///a'] })).rejects.toThrow(RangeError);
      await expect(engine.createNexus({ name: 'x', children: ['bdev:///a'], rebuild: { segmentBytes: 3000 } })).rejects.toThrow(RangeError);
      expect(await codeOf(engine.createNexus({ name: 'x', children: ['bdev:///missing'] }))).toBe('ENOENT');
      expect(await codeOf(engine.createNexus({ name: 'x', children: ['bdev:///a', 'bdev:///b'] }))).toBe('EINVAL');
      expect(await codeOf(engine.createNexus({ name: 'x', children: ['bdev:///a'], sizeBytes: 8 * MiB }))).toBe('EINVAL');
      expect(await codeOf(engine.createNexus({ name: 'x', children: ['bdev:///a', 'bdev:///a'] }))).toBe('EINVAL');
      expect(await codeOf(engine.createNexus({ name: 'x', children: ['bogus:///z'] }))).toBe('EINVAL');
      // Nothing was left claimed by the failed attempts.
      const ok = await engine.createNexus({ name: 'x', children: ['bdev:///a'] });
      expect(await codeOf(engine.createNexus({ name: 'x', children: ['bdev:///b'] }))).toBe('EEXIST');
      const failing = await codeOf(
        engine.createNexus({ name: 'y', children: ['bdev:///b'], persist: async () => { throw new Error('store down'); } }),
      );
      expect(failing).toBe('EIO');
      await ok.destroy();
    });
  });

  it('rebuilds a returning child partially and a new child fully, with pause, resume, stop and history', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const size = 16 * MiB;
      for (const n of ['r0', 'r1']) await engine.createBdev(`malloc:///${n}?size_mb=16&blk_size=4096`);
      const nexus = await engine.createNexus({ name: 'rb', children: ['bdev:///r0', 'bdev:///r1'], rebuild: { segmentBytes: MiB, parallel: 2, verify: true } });
      const data = patternBytes(size, 11);
      await nexus.bdev.write(0, data);

      // Offline r1, write three segments' worth (segments 2, 5 and 6), online: only those are copied.
      await nexus.offlineChild('bdev:///r1');
      expect(nexus.children[1]!.state).toBe('Closed');
      for (const [offset, length] of [[2 * MiB + 4096, 8192], [5 * MiB + MiB - 4096, 8192]] as const) {
        const chunk = patternBytes(length, offset);
        await nexus.bdev.write(offset, chunk);
        data.set(chunk, offset);
      }
      const partial = rebuildEnd(nexus, 'bdev:///r1');
      await nexus.onlineChild('bdev:///r1');
      expect(await partial).toBe('Completed');
      const stats = nexus.rebuildStats('bdev:///r1')!;
      expect(stats).toMatchObject({ state: 'Completed', partial: true, bytesRebuilt: 3 * MiB, segmentsDone: 3 });
      expect(nexus.state).toBe('Online');
      const r1 = engine.getBdev('r1')!;
      expect((await r1.read(0, size)).equals(data)).toBe(true);

      // A new child: full rebuild, paused and resumed, while writes continue.
      const added = 'malloc:///r2?size_mb=16&blk_size=4096';
      const full = rebuildEnd(nexus, added);
      await nexus.addChild(added);
      await nexus.pauseRebuild(added).catch(() => undefined); // it may already be done
      const writes = [];
      for (let i = 0; i < 32; i++) {
        const chunk = patternBytes(4096, 100 + i);
        const offset = ((i * 7919) % 4096) * 4096;
        data.set(chunk, offset);
        writes.push(nexus.bdev.write(offset, chunk));
      }
      await Promise.all(writes);
      await nexus.resumeRebuild(added).catch(() => undefined);
      expect(await full).toBe('Completed');
      expect(nexus.rebuildStats(added)).toMatchObject({ partial: false, bytesRebuilt: size, bytesTotal: size });
      expect((await nexus.bdev.read(0, size)).equals(data)).toBe(true);
      for (const child of ['r0', 'r1']) expect((await engine.getBdev(child)!.read(0, size)).equals(data)).toBe(true);

      // Stop: the child is left faulted and out of sync; the history has every rebuild.
      await nexus.faultChild(added);
      const stopped = rebuildEnd(nexus, added);
      await nexus.onlineChild(added);
      await nexus.pauseRebuild(added).catch(() => undefined);
      await nexus.stopRebuild(added).catch(() => undefined);
      const end = await stopped;
      const child = nexus.children.find((c) => c.uri === added)!;
      if (end === 'Stopped') expect([child.state, child.reason]).toEqual(['Faulted', 'OutOfSync']);
      const history = await nexus.rebuildHistory();
      expect(history.map((h) => [h.childUri, h.partial])).toEqual([
        ['bdev:///r1', true],
        [added, false],
        [added, false],
      ]);

      // Remove / add / rebuild cycles.
      for (let cycle = 0; cycle < 3; cycle++) {
        await nexus.removeChild(added);
        expect(nexus.children.map((c) => c.uri)).toEqual(['bdev:///r0', 'bdev:///r1']);
        const done = rebuildEnd(nexus, added);
        await nexus.addChild(added);
        expect(await done).toBe('Completed');
        expect(nexus.state).toBe('Online');
      }
      await nexus.destroy();
    });
  });

  it('carries a rebuild on from another source when its source fails mid-copy', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const size = 16 * MiB;
      for (const n of ['s0', 's1', 's2']) await engine.createBdev(`malloc:///${n}?size_mb=16&blk_size=4096`);
      const flaky = await engine.createBdev('error:///es0?base=s0');
      // es0 comes first, so it is the source the rebuild picks.
      const nexus = await engine.createNexus({
        name: 'failover',
        children: ['bdev:///es0', 'bdev:///s1'],
        rebuild: { segmentBytes: MiB, parallel: 2 },
      });
      const data = patternBytes(size, 21);
      await nexus.bdev.write(0, data);

      const added = 'bdev:///s2';
      const end = rebuildEnd(nexus, added);
      // Slow reads on the source keep the copy in progress while it is paused and the
      // source breaks; the segments copied before stay copied.
      flaky.injectError({ ioType: 'read', latencyUs: 20_000 });
      await nexus.addChild(added);
      await nexus.pauseRebuild(added);
      flaky.injectError({ ioType: 'read', errno: 'EIO' });
      await nexus.resumeRebuild(added);
      expect(await end).toBe('Completed');

      expect(nexus.children.map((c) => [c.uri, c.state, c.reason ?? null, c.syncState])).toEqual([
        ['bdev:///es0', 'Faulted', 'IoError', 'OutOfSync'],
        ['bdev:///s1', 'Open', null, 'Synced'],
        [added, 'Open', null, 'Synced'],
      ]);
      const history = (await nexus.rebuildHistory()).filter((h) => h.childUri === added);
      expect(history.map((h) => [h.state, h.sourceUri])).toEqual([
        ['Failed', 'bdev:///es0'],
        ['Completed', 'bdev:///s1'],
      ]);
      expect(history[0]!.error).toMatch(/reading the source failed.*carried on from bdev:\/\/\/s1/);
      // The second job copied exactly what the first did not.
      expect(history[0]!.bytesRebuilt + history[1]!.bytesRebuilt).toBe(size);
      expect(history[1]!.bytesTotal).toBe(history[1]!.bytesRebuilt);
      expect((await engine.getBdev('s2')!.read(0, size)).equals(data)).toBe(true);
      expect((await nexus.bdev.read(0, size)).equals(data)).toBe(true);
      await nexus.destroy();
    });
  });

  it('removing the source of a paused rebuild: the removal does not wait, the rebuild moves to another source', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const size = 8 * MiB;
      for (const n of ['u0', 'u1', 'u2']) await engine.createBdev(`malloc:///${n}?size_mb=8&blk_size=4096`);
      const slow = await engine.createBdev('error:///eu0?base=u0');
      const nexus = await engine.createNexus({
        name: 'mover',
        children: ['bdev:///eu0', 'bdev:///u1'],
        rebuild: { segmentBytes: MiB, parallel: 1 },
      });
      const data = patternBytes(size, 51);
      await nexus.bdev.write(0, data);
      slow.injectError({ ioType: 'read', latencyUs: 20_000 });
      const end = rebuildEnd(nexus, 'bdev:///u2');
      await nexus.addChild('bdev:///u2');
      await nexus.pauseRebuild('bdev:///u2');
      await nexus.removeChild('bdev:///eu0');  // resolves although the rebuild is paused
      expect(nexus.children.map((c) => c.uri)).toEqual(['bdev:///u1', 'bdev:///u2']);
      const moved = nexus.rebuildStats('bdev:///u2')!;
      expect([moved.state, moved.sourceUri]).toEqual(['Paused', 'bdev:///u1']);  // still paused, as the user left it
      await nexus.resumeRebuild('bdev:///u2');
      expect(await end).toBe('Completed');
      const history = (await nexus.rebuildHistory()).filter((h) => h.childUri === 'bdev:///u2');
      expect(history.map((h) => [h.state, h.sourceUri])).toEqual([
        ['Failed', 'bdev:///eu0'],
        ['Completed', 'bdev:///u1'],
      ]);
      expect(history[0]!.bytesRebuilt + history[1]!.bytesRebuilt).toBe(size);
      expect(nexus.state).toBe('Online');
      expect((await engine.getBdev('u2')!.read(0, size)).equals(data)).toBe(true);
      await nexus.destroy();
    });
  });

  it('faults a child whose bdev is gone (reason Gone) and refuses to online it until it is back', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const size = 4 * MiB;
      for (const n of ['g0', 'g1']) await engine.createBdev(`malloc:///${n}?size_mb=4&blk_size=4096`);
      const vanishing = await engine.createBdev('error:///eg1?base=g1');
      const nexus = await engine.createNexus({ name: 'gone', children: ['bdev:///g0', 'bdev:///eg1'] });
      const data = patternBytes(size, 41);
      await nexus.bdev.write(0, data);
      vanishing.injectError({ mode: 'gone' });
      const chunk = patternBytes(8192, 42);
      await nexus.bdev.write(MiB, chunk);  // acknowledged: g0 took it
      data.set(chunk, MiB);
      expect(nexus.children[1]).toMatchObject({ state: 'Faulted', reason: 'Gone', syncState: 'OutOfSync' });
      expect(nexus.state).toBe('Degraded');
      await expect(nexus.onlineChild('bdev:///eg1')).rejects.toMatchObject({ code: 'ENODEV' });
      expect(nexus.children[1]).toMatchObject({ state: 'Faulted', reason: 'Gone' });
      // Back again: the nexus logged what it missed while gone, so only that segment is copied.
      vanishing.clearInjectedErrors();
      const end = rebuildEnd(nexus, 'bdev:///eg1');
      await nexus.onlineChild('bdev:///eg1');
      expect(await end).toBe('Completed');
      expect(nexus.rebuildStats('bdev:///eg1')).toMatchObject({ partial: true, bytesRebuilt: MiB, segmentsDone: 1 });
      expect(nexus.state).toBe('Online');
      expect((await vanishing.read(0, size)).equals(data)).toBe(true);
      await nexus.destroy();
    });
  });

  it('a rebuild whose only source fails ends Failed; the source, the last healthy child, stays', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      for (const n of ['v0', 'v1']) await engine.createBdev(`malloc:///${n}?size_mb=4&blk_size=4096`);
      const only = await engine.createBdev('error:///ev0?base=v0');
      const nexus = await engine.createNexus({ name: 'lone', children: ['bdev:///ev0'], rebuild: { segmentBytes: MiB, parallel: 1 } });
      const data = patternBytes(4 * MiB, 61);
      await nexus.bdev.write(0, data);
      only.injectError({ ioType: 'read', errno: 'EIO', count: 1 });  // one failed read, then fine
      const end = rebuildEnd(nexus, 'bdev:///v1');
      await nexus.addChild('bdev:///v1');
      expect(await end).toBe('Failed');
      expect(nexus.children.map((c) => [c.uri, c.state, c.reason ?? null])).toEqual([
        ['bdev:///ev0', 'Open', null],
        ['bdev:///v1', 'Faulted', 'RebuildFailed'],
      ]);
      // Not retried from the source that failed: one history entry.
      expect((await nexus.rebuildHistory()).map((h) => [h.childUri, h.state])).toEqual([['bdev:///v1', 'Failed']]);
      expect((await nexus.bdev.read(0, 4 * MiB)).equals(data)).toBe(true);
      await nexus.destroy();
    });
  });

  it('stopRebuild stops one child and leaves the rebuild of another alone', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const size = 8 * MiB;
      for (const n of ['t0', 'ta', 'tb']) await engine.createBdev(`malloc:///${n}?size_mb=8&blk_size=4096`);
      const slow = await engine.createBdev('error:///et0?base=t0');
      const nexus = await engine.createNexus({ name: 'two', children: ['bdev:///et0'], rebuild: { segmentBytes: MiB, parallel: 1 } });
      const data = patternBytes(size, 31);
      await nexus.bdev.write(0, data);
      slow.injectError({ ioType: 'read', latencyUs: 20_000 });  // rebuilds stay in progress while paused
      const [a, b] = ['bdev:///ta', 'bdev:///tb'];
      const endB = rebuildEnd(nexus, b);
      await nexus.addChild(a);
      await nexus.pauseRebuild(a);
      await nexus.addChild(b);
      await nexus.pauseRebuild(b);
      // b stays paused: stopping a must not wait for it.
      await nexus.stopRebuild(a);
      expect(nexus.children.find((c) => c.uri === a)).toMatchObject({ state: 'Faulted', reason: 'OutOfSync' });
      expect(nexus.rebuildStats(b)!.state).toBe('Paused');
      await expect(nexus.stopRebuild(a)).rejects.toMatchObject({ code: 'ENOENT' });
      await nexus.resumeRebuild(b);
      expect(await endB).toBe('Completed');
      expect((await engine.getBdev('tb')!.read(0, size)).equals(data)).toBe(true);
      expect(nexus.state).toBe('Degraded');
      await nexus.destroy();
    });
  });

  it('striped reads: every segment reads back from its child, and from another when that child fails', async () => {
    await withEngine({ memoryMb: 128 }, async (engine) => {
      await engine.createBdev('malloc:///s0?size_mb=4&blk_size=4096');
      await engine.createBdev('malloc:///s1base?size_mb=4&blk_size=4096');
      const failing = await engine.createBdev('error:///s1?base=s1base');
      const nexus = await engine.createNexus({ name: 'st', children: ['bdev:///s0', 'bdev:///s1'], readPolicy: 'striped', rebuild: { segmentBytes: 64 << 10 } });
      const data = patternBytes(4 * MiB, 21);
      await nexus.bdev.write(0, data);
      expect((await nexus.bdev.read(0, 4 * MiB)).equals(data)).toBe(true);
      failing.injectError({ ioType: 'read', errno: 'EIO' });
      for (let seg = 0; seg < 4; seg++) expect((await nexus.bdev.read(seg * 65536, 4096)).equals(data.subarray(seg * 65536, seg * 65536 + 4096))).toBe(true);
      expect(nexus.children[1]).toMatchObject({ state: 'Faulted', reason: 'IoError' });
      await expect(engine.createNexus({ name: 'bad', children: ['bdev:///s0'], readPolicy: 'random' as 'striped' })).rejects.toThrow(RangeError);
      await nexus.destroy();
    });
  });

  it('publishes over NVMe/TCP and serves verified I/O to our host', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      for (const n of ['p0', 'p1']) await engine.createBdev(`malloc:///${n}?size_mb=8&blk_size=4096`);
      const nexus = await engine.createNexus({ name: 'pub', children: ['bdev:///p0', 'bdev:///p1'] });
      const uri = await nexus.publish({ port: 0 });
      expect(uri).toMatch(/^nvmf:\/\/127\.0\.0\.1:\d+\/nqn\.2019-05\.io\.nodestor:pub$/);
      const remote = await engine.createBdev(`${uri}?name=pubhost`);
      const data = patternBytes(256 * 1024, 3);
      await remote.write(4096, data);
      expect((await nexus.bdev.read(4096, data.length)).equals(data)).toBe(true);
      expect((await engine.getBdev('p1')!.read(4096, data.length)).equals(data)).toBe(true);
      await remote.destroy();
      await nexus.unpublish();
      expect(await engine.nvmf.listSubsystems()).toEqual([]);
      await nexus.destroy();
    });
  });

  it('faults a remote child whose NVMe/TCP target goes away and keeps serving', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      await engine.createBdev('malloc:///local?size_mb=8&blk_size=4096');
      await engine.createBdev('malloc:///far?size_mb=8&blk_size=4096');
      const nqn = 'nqn.2026-11.io.nodestor:far';
      const sub = await engine.nvmf.createSubsystem({ nqn, allowAnyHost: true });
      await sub.addNamespace('far');
      const { port } = await sub.addListener({ port: 0 });
      const remoteUri = `nvmf://127.0.0.1:${port}/${nqn}?name=farchild&ctrl_loss_timeout_ms=300&reconnect_delay_ms=50`;
      const nexus = await engine.createNexus({ name: 'mixed', children: ['bdev:///local', remoteUri] });
      const data = patternBytes(64 * 1024, 5);
      await nexus.bdev.write(0, data);
      expect((await engine.getBdev('far')!.read(0, data.length)).equals(data)).toBe(true);

      await sub.destroy(); // the target goes away
      const more = patternBytes(64 * 1024, 6);
      await nexus.bdev.write(MiB, more); // succeeds on the local child
      const remote = nexus.children.find((c) => c.uri === remoteUri)!;
      expect(remote.state).toBe('Faulted');
      expect(['Gone', 'IoError', 'TimedOut']).toContain(remote.reason);
      expect(nexus.state).toBe('Degraded');
      expect((await nexus.bdev.read(MiB, more.length)).equals(more)).toBe(true);
      await nexus.removeChild(remoteUri);
      expect(nexus.state).toBe('Online');
      await nexus.destroy();
    });
  });

  it('pauseWrites holds writes (reads go on) until resumeWrites; a shutdown lets held writes go', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      await Promise.all([0, 1].map((i) => engine.createBdev(`malloc:///p${i}?size_mb=8&blk_size=4096`)));
      const nexus = await engine.createNexus({ name: 'paused', children: ['bdev:///p0', 'bdev:///p1'] });
      const before = patternBytes(4096, 1);
      await nexus.bdev.write(0, before);
      await nexus.pauseWrites();
      expect(await codeOf(nexus.pauseWrites())).toBe('EBUSY');
      let landed = false;
      const held = nexus.bdev.write(0, patternBytes(4096, 2)).then(() => (landed = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(landed).toBe(false);
      expect((await nexus.bdev.read(0, 4096)).equals(before)).toBe(true); // reads are served
      for (const child of ['p0', 'p1']) expect((await engine.getBdev(child)!.read(0, 4096)).equals(before)).toBe(true);
      await nexus.resumeWrites();
      await held;
      expect((await nexus.bdev.read(0, 4096)).equals(patternBytes(4096, 2))).toBe(true);
      expect(await codeOf(nexus.resumeWrites())).toBe('EINVAL');

      await nexus.pauseWrites();
      const stuck = nexus.bdev.write(4096, patternBytes(4096, 3)).then(() => 'ok', (e: NodestorError) => e.code);
      await nexus.shutdown();
      expect(['ok', 'ENODEV']).toContain(await stuck);
      await nexus.destroy();
    });
  });

  it('grows once its children have grown; writes beyond the old end reach every child', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const pool = await engine.createPool({ name: 'gp', disk: 'malloc:///gd?size_mb=96&blk_size=4096', clusterSizeBytes: MiB });
      const lvols = await Promise.all([0, 1].map((i) => pool.createLvol({ name: `g${i}`, sizeBytes: 8 * MiB })));
      const nexus = await engine.createNexus({ name: 'growing', children: ['bdev:///gp/g0', 'bdev:///gp/g1'] });
      await nexus.bdev.write(0, patternBytes(4096, 4));
      expect(await codeOf(nexus.grow(16 * MiB))).toBe('EINVAL'); // the children are still 8 MiB
      expect(await codeOf(nexus.grow(4 * MiB))).toBe('EINVAL'); // no shrinking
      for (const l of lvols) await l.resize(16 * MiB);
      expect(await codeOf(nexus.bdev.write(12 * MiB, patternBytes(4096, 5)))).toBe('EINVAL'); // beyond the end still
      await nexus.grow(16 * MiB);
      expect([nexus.sizeBytes, nexus.bdev.sizeBytes]).toEqual([16 * MiB, 16 * MiB]);
      await nexus.bdev.write(12 * MiB, patternBytes(4096, 5));
      for (const l of lvols) expect((await l.bdev.read(12 * MiB, 4096)).equals(patternBytes(4096, 5))).toBe(true);
      expect((await nexus.bdev.read(0, 4096)).equals(patternBytes(4096, 4))).toBe(true);
      await nexus.grow(16 * MiB); // the same size again: nothing to do
      await nexus.destroy();
    });
  });
});
