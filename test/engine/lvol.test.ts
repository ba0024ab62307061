import { describe, expect, it } from 'vitest';
import type { Engine, Pool } from '../../src/index.js';
import { patternBytes, withEngine } from '../helpers/engine.js';

const MiB = 1 << 20;

async function withPool(body: (engine: Engine, pool: Pool) => Promise<void>) {
  await withEngine({ memoryMb: 512 }, async (engine) => {
    const pool = await engine.createPool({ name: 'p', disk: 'malloc:///d?size_mb=256&blk_size=4096', clusterSizeBytes: MiB });
    await body(engine, pool);
    await pool.check(); // whatever the test did, no cluster is referenced twice
  });
}

describe('lvols', () => {
  it('setReadOnly: writes get EROFS from then on, data stays, and it persists across export and import', async () => {
    await withPool(async (engine) => {
      await engine.createBdev('malloc:///rod?size_mb=64&blk_size=4096'); // outlives the pool's export
      const pool = await engine.createPool({ name: 'rop', disk: 'bdev:///rod', clusterSizeBytes: MiB });
      const vol = await pool.createLvol({ name: 'ro', sizeBytes: 4 * MiB, thin: true });
      const data = patternBytes(8192, 3);
      await vol.bdev.write(0, data);
      await vol.setReadOnly();
      expect(vol.readOnly).toBe(true);
      await vol.setReadOnly(); // already read-only: nothing to do
      await expect(vol.bdev.write(0, patternBytes(4096, 4))).rejects.toMatchObject({ code: 'EROFS' });
      await expect(vol.resize(8 * MiB)).rejects.toMatchObject({ code: 'EROFS' });
      expect((await vol.bdev.read(0, 8192)).equals(data)).toBe(true);
      await pool.export();
      const again = await engine.importPool({ disk: 'bdev:///rod' });
      const reopened = (await again.getLvol('ro'))!;
      expect(reopened.readOnly).toBe(true);
      await expect(reopened.bdev.write(0, patternBytes(4096, 5))).rejects.toMatchObject({ code: 'EROFS' });
      expect((await reopened.bdev.read(0, 8192)).equals(data)).toBe(true);
      await again.check();
    });
  });

  it('thin lvols read zeroes until written and allocate on first write; thick ones are zeroed', async () => {
    await withPool(async (_engine, pool) => {
      const thin = await pool.createLvol({ name: 'thin', sizeBytes: 8 * MiB, thin: true });
      const thick = await pool.createLvol({ name: 'thick', sizeBytes: 8 * MiB });
      expect(thin.sizeBytes).toBe(8 * MiB);
      expect(thin.bdev.sizeBytes).toBe(8 * MiB);
      expect(thin.bdev.module).toBe('lvol');
      expect((await thin.bdev.read(0, 8 * MiB)).equals(Buffer.alloc(8 * MiB))).toBe(true);
      expect((await thick.bdev.read(0, 8 * MiB)).equals(Buffer.alloc(8 * MiB))).toBe(true);
      // Sizes round up to whole clusters.
      const odd = await pool.createLvol({ name: 'odd', sizeBytes: MiB + 1, thin: true });
      expect(odd.sizeBytes).toBe(2 * MiB);
      // An I/O spanning clusters; the rest of each new cluster stays zero.
      await thin.bdev.write(MiB - 8192, patternBytes(16384, 1));
      const head = await thin.bdev.read(0, 2 * MiB);
      const expected = Buffer.alloc(2 * MiB);
      patternBytes(16384, 1).copy(expected, MiB - 8192);
      expect(head.equals(expected)).toBe(true);
      expect((await pool.refresh()).usedBytes).toBe(10 * MiB); // thick 8 + two thin clusters
    });
  });

  it('verified random I/O on a thin lvol, with thousands in flight', async () => {
    await withPool(async (_engine, pool) => {
      const lvol = await pool.createLvol({ name: 'v', sizeBytes: 32 * MiB, thin: true });
      const shadow = Buffer.alloc(32 * MiB);
      const blocks = new Set<number>();
      let rng = 5;
      while (blocks.size < 3000) {
        rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
        blocks.add(rng % 8192);
      }
      await Promise.all(
        [...blocks].map((b) => {
          const data = patternBytes(4096, b + 1);
          data.copy(shadow, b * 4096);
          return lvol.bdev.write(b * 4096, data);
        }),
      );
      expect((await lvol.bdev.read(0, 32 * MiB)).equals(shadow)).toBe(true);
    });
  });

  it('a snapshot taken while I/O runs freezes exactly the acknowledged data', async () => {
    await withPool(async (_engine, pool) => {
      const lvol = await pool.createLvol({ name: 'live', sizeBytes: 16 * MiB, thin: true });
      let stop = false;
      const acked = new Map<number, number>(); // block -> seed of the last acknowledged write
      let seed = 0;
      const writers = Array.from({ length: 16 }, async (_, w) => {
        while (!stop) {
          const block = (w * 256 + (seed % 256)) % 4096;
          const s = ++seed;
          await lvol.bdev.write(block * 4096, patternBytes(4096, s));
          acked.set(block, s);
        }
      });
      await new Promise((r) => setTimeout(r, 30));
      // Stop the writers, snapshot, then keep writing: the snapshot holds what was acked.
      stop = true;
      await Promise.all(writers);
      const atSnapshot = new Map(acked);
      const snap = await lvol.snapshot('snap');
      expect(snap.readOnly).toBe(true);
      expect(lvol.parent).toBe('snap');
      for (const [block] of atSnapshot) await lvol.bdev.write(block * 4096, patternBytes(4096, 99999));
      for (const [block, s] of atSnapshot) expect((await snap.bdev.read(block * 4096, 4096)).equals(patternBytes(4096, s))).toBe(true);
      for (const [block] of atSnapshot) expect((await lvol.bdev.read(block * 4096, 4096)).equals(patternBytes(4096, 99999))).toBe(true);
      // Snapshot while writes are in flight: it completes, I/O resumes, nothing fails.
      stop = false;
      const busy = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 200 && !stop; i++) await lvol.bdev.write(((w * 200 + i) % 4096) * 4096, patternBytes(4096, i));
      });
      const second = await lvol.snapshot('snap2');
      stop = true;
      await Promise.all(busy);
      expect(second.parent).toBe('snap');
      expect(lvol.parent).toBe('snap2');
      await expect(snap.bdev.write(0, Buffer.alloc(4096))).rejects.toMatchObject({ code: 'EROFS' });
      await expect(snap.resize(32 * MiB)).rejects.toMatchObject({ code: 'EROFS' });
      await expect(lvol.clone('not-a-snapshot')).rejects.toMatchObject({ code: 'EINVAL' });
    });
  });

  it('clones, chains, decoupleParent and inflate', async () => {
    await withPool(async (_engine, pool) => {
      const base = await pool.createLvol({ name: 'base', sizeBytes: 4 * MiB, thin: true });
      await base.bdev.write(0, patternBytes(MiB, 1)); // cluster 0
      const s1 = await base.snapshot('s1');
      const c1 = await s1.clone('c1');
      await c1.bdev.write(MiB, patternBytes(MiB, 2)); // cluster 1, in the clone only
      const s2 = await c1.snapshot('s2'); // a snapshot of a clone: a chain s1 <- s2 <- c1
      const c2 = await s2.clone('c2');
      expect([c1.parent, s2.parent, c2.parent]).toEqual(['s2', 's1', 's2']);
      expect((await c2.bdev.read(0, MiB)).equals(patternBytes(MiB, 1))).toBe(true);
      expect((await c2.bdev.read(MiB, MiB)).equals(patternBytes(MiB, 2))).toBe(true);
      // Partial write to an inherited cluster copies the rest of it.
      await c2.bdev.write(4096, patternBytes(4096, 3));
      const expected = Buffer.from(patternBytes(MiB, 1));
      patternBytes(4096, 3).copy(expected, 4096);
      expect((await c2.bdev.read(0, MiB)).equals(expected)).toBe(true);
      expect((await s1.bdev.read(0, MiB)).equals(patternBytes(MiB, 1))).toBe(true);
      await expect(s1.destroy()).rejects.toMatchObject({ code: 'EBUSY' });
      await expect(s2.destroy()).rejects.toMatchObject({ code: 'EBUSY' });

      // decoupleParent: c2 copies what s2 holds itself (cluster 1) and takes s1 as parent.
      await c2.decoupleParent();
      expect(c2.parent).toBe('s1');
      expect((await c2.bdev.read(MiB, MiB)).equals(patternBytes(MiB, 2))).toBe(true);
      expect((await c2.bdev.read(0, MiB)).equals(expected)).toBe(true);
      // inflate: c2 owns every cluster and has no parent.
      await c2.inflate();
      expect(c2.parent).toBeNull();
      expect(c2.thin).toBe(false);
      expect(c2.allocatedBytes).toBe(4 * MiB);
      expect((await c2.bdev.read(0, MiB)).equals(expected)).toBe(true);
      expect((await c2.bdev.read(2 * MiB, 2 * MiB)).equals(Buffer.alloc(2 * MiB))).toBe(true);
      // Now s2 has one clone left (c1); after destroying c1 it can go.
      await c2.destroy();
      await expect(s2.destroy()).rejects.toMatchObject({ code: 'EBUSY' });
      await c1.destroy();
      await s2.destroy();
      expect((await pool.listLvols()).map((l) => l.name).sort()).toEqual(['base', 's1']);
      await expect(c1.bdev.read(0, 4096)).rejects.toMatchObject({ code: 'DESTROYED' });
      await expect(c1.snapshot('x')).rejects.toMatchObject({ code: 'DESTROYED' });
    });
  });

  it('resize grows with zeroes and shrinking frees clusters; properties are kept', async () => {
    await withPool(async (_engine, pool) => {
      const lvol = await pool.createLvol({ name: 'r', sizeBytes: 4 * MiB });
      await lvol.bdev.write(3 * MiB, patternBytes(MiB, 7));
      await lvol.resize(8 * MiB);
      expect(lvol.sizeBytes).toBe(8 * MiB);
      expect(lvol.bdev.sizeBytes).toBe(8 * MiB);
      expect((await lvol.bdev.read(3 * MiB, MiB)).equals(patternBytes(MiB, 7))).toBe(true);
      expect((await lvol.bdev.read(4 * MiB, 4 * MiB)).equals(Buffer.alloc(4 * MiB))).toBe(true);
      expect((await pool.refresh()).usedBytes).toBe(8 * MiB); // thick: grown clusters allocated
      await lvol.resize(2 * MiB);
      expect(lvol.bdev.sizeBytes).toBe(2 * MiB);
      expect((await pool.refresh()).usedBytes).toBe(2 * MiB);
      await expect(lvol.bdev.read(3 * MiB, 4096)).rejects.toMatchObject({ code: 'EINVAL' });
      await lvol.resize(4 * MiB);
      expect((await lvol.bdev.read(2 * MiB, 2 * MiB)).equals(Buffer.alloc(2 * MiB))).toBe(true); // old data is gone
      await lvol.setProperty('tier', 'gold');
      await lvol.setProperty('tier', 'silver');
      expect(lvol.properties).toEqual({ tier: 'silver' });
      await expect(lvol.setProperty('', 'x')).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(lvol.resize(0)).rejects.toThrow(RangeError);
      await expect(lvol.resize(100 * 1024 * MiB)).rejects.toMatchObject({ code: 'ENOSPC' });
    });
  });

  it('a thick lvol that does not fit is ENOSPC; thin writes past the pool are ENOSPC too', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const pool = await engine.createPool({ name: 'tiny', disk: 'malloc:///t?size_mb=32&blk_size=4096', clusterSizeBytes: MiB });
      const free = pool.availableBytes;
      await expect(pool.createLvol({ name: 'x', sizeBytes: free + MiB })).rejects.toMatchObject({ code: 'ENOSPC' });
      const thin = await pool.createLvol({ name: 'thin', sizeBytes: 4 * free, thin: true });
      const results = await Promise.allSettled(
        Array.from({ length: free / MiB + 4 }, (_, i) => thin.bdev.write(i * MiB, Buffer.alloc(4096, 1))),
      );
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed.length).toBe(4);
      expect(failed.every((r) => (r as PromiseRejectedResult).reason.code === 'ENOSPC')).toBe(true);
      expect((await pool.refresh()).availableBytes).toBe(0);
      await pool.check();
    });
  });
});
