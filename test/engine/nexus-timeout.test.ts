// The nexus I/O timeout: a child holding an I/O past ioTimeoutMs is faulted TimedOut and its
// I/Os are taken back and served by the other children. Error bdevs delaying I/O by far
// longer than the timeout stand in for a hung device.
import { describe, expect, it, vi } from 'vitest';
import { codeOf, patternBytes, withEngine } from '../helpers/engine.js';
import { rebuildEnd } from '../helpers/nexus.js';

const MiB = 1 << 20;
const HUNG_US = 30_000_000; // 30 s: a test that waited for it would time out

describe('nexus I/O timeout', () => {
  it('faults a child holding reads or writes past the timeout and serves them from the other child', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const size = 4 * MiB;
      for (const n of ['t0', 't1']) await engine.createBdev(`malloc:///${n}?size_mb=4&blk_size=4096`);
      const hanging = await engine.createBdev('error:///et1?base=t1');
      const nexus = await engine.createNexus({ name: 'tmo', children: ['bdev:///t0', 'bdev:///et1'], ioTimeoutMs: 200 });
      const data = patternBytes(size, 51);
      await nexus.bdev.write(0, data);

      // Reads: round-robin sends some of them to et1, which holds them; all come back right.
      hanging.injectError({ ioType: 'read', latencyUs: HUNG_US });
      const offsets = [0, 1, 2, 3, 4, 5].map((i) => i * 512 * 1024);
      const reads = await Promise.all(offsets.map((o) => nexus.bdev.read(o, 4096)));
      offsets.forEach((o, i) => expect(reads[i]!.equals(data.subarray(o, o + 4096))).toBe(true));
      // A read taken back is served at once; the fault it reported is decided on the app
      // thread, so its state may show a moment after the read's answer.
      await vi.waitFor(() => expect(nexus.children[1]).toMatchObject({ state: 'Faulted', reason: 'TimedOut', syncState: 'OutOfSync' }), {
        timeout: 2000,
      });
      expect(nexus.state).toBe('Degraded');

      // Back with nothing missed: the partial rebuild copies nothing.
      hanging.clearInjectedErrors();
      let end = rebuildEnd(nexus, 'bdev:///et1');
      await nexus.onlineChild('bdev:///et1');
      expect(await end).toBe('Completed');
      expect(nexus.rebuildStats('bdev:///et1')).toMatchObject({ partial: true, bytesRebuilt: 0 });

      // A write et1 holds is acknowledged once et1 is faulted, and logged as missed there.
      hanging.injectError({ ioType: 'write', latencyUs: HUNG_US });
      const chunk = patternBytes(8192, 52);
      await nexus.bdev.write(2 * MiB + 4096, chunk);
      data.set(chunk, 2 * MiB + 4096);
      expect(nexus.children[1]).toMatchObject({ state: 'Faulted', reason: 'TimedOut' });
      expect((await nexus.bdev.read(0, size)).equals(data)).toBe(true);
      hanging.clearInjectedErrors();
      end = rebuildEnd(nexus, 'bdev:///et1');
      await nexus.onlineChild('bdev:///et1');
      expect(await end).toBe('Completed');
      expect(nexus.rebuildStats('bdev:///et1')).toMatchObject({ partial: true, bytesRebuilt: MiB, segmentsDone: 1 });
      expect(nexus.state).toBe('Online');
      expect((await hanging.read(0, size)).equals(data)).toBe(true);
      await nexus.destroy();
    });
  });

  it('on the last healthy child the I/O fails ETIMEDOUT and the child stays; 0 turns the timeout off', async () => {
    await withEngine({ memoryMb: 128 }, async (engine) => {
      await engine.createBdev('malloc:///l0?size_mb=4&blk_size=4096');
      const hanging = await engine.createBdev('error:///el0?base=l0');
      const nexus = await engine.createNexus({ name: 'last', children: ['bdev:///el0'], ioTimeoutMs: 100 });
      const block = patternBytes(4096, 61);
      await nexus.bdev.write(0, block);
      hanging.injectError({ ioType: 'read', latencyUs: HUNG_US });
      expect(await codeOf(nexus.bdev.read(0, 4096))).toBe('ETIMEDOUT');
      expect(nexus.children[0]).toMatchObject({ state: 'Open', syncState: 'Synced' });
      hanging.clearInjectedErrors();
      expect((await nexus.bdev.read(0, 4096)).equals(block)).toBe(true);
      await nexus.destroy();

      // Without a timeout a slow child is waited for, however long it takes.
      const patient = await engine.createNexus({ name: 'patient', children: ['bdev:///el0'], ioTimeoutMs: 0 });
      hanging.injectError({ ioType: 'read', latencyUs: 400_000 });
      expect((await patient.bdev.read(0, 4096)).equals(block)).toBe(true);
      expect(patient.children[0]).toMatchObject({ state: 'Open' });
      await patient.destroy();

      for (const bad of [-1, 1.5, 3_600_001])
        await expect(engine.createNexus({ name: 'bad', children: ['bdev:///el0'], ioTimeoutMs: bad })).rejects.toThrow(/ioTimeoutMs/);
    });
  });
});
