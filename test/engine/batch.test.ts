import { describe, expect, it } from 'vitest';
import { patternBytes, withEngine } from '../helpers/engine.js';

describe('batched I/O (IoBatch)', () => {
  it('writes and reads many blocks per submission, zero-copy and plain buffers alike', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('malloc:///m?size_mb=16&blk_size=4096');
      const batch = bdev.createBatch(512);
      expect(batch.capacity).toBe(512);
      const dma = Array.from({ length: 256 }, () => engine.allocBuffer(4096));
      for (let i = 0; i < 256; i++) {
        patternBytes(4096, i).copy(dma[i]!);
        batch.write(i * 8192, dma[i]!); // even blocks, DMA buffers
        batch.write(i * 8192 + 4096, patternBytes(4096, 1000 + i)); // odd blocks, plain buffers
      }
      expect(batch.length).toBe(512);
      const written = await batch.submit();
      expect(written).toMatchObject({ count: 512, failed: 0, errors: [] });
      expect([...written.statuses].every((s) => s === 0)).toBe(true);
      expect(batch.length).toBe(0); // empty again, reusable

      const into = Array.from({ length: 512 }, (_, i) => (i % 2 === 0 ? engine.allocBuffer(4096) : Buffer.alloc(4096)));
      into.forEach((target, i) => batch.read(i * 4096, target));
      const read = await batch.submit();
      expect(read.failed).toBe(0);
      const expected = (i: number) => patternBytes(4096, i % 2 === 0 ? i / 2 : 1000 + (i - 1) / 2);
      expect(into.every((got, i) => got.equals(expected(i)))).toBe(true);
      expect((await bdev.read(8192 * 3, 4096)).equals(patternBytes(4096, 3))).toBe(true);
      const stats = bdev.stats();
      expect(stats.writeOps).toBe(512);
      expect(stats.readOps).toBe(513);
    });
  });

  it('several batches in flight at once, with unmap and writeZeroes', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('malloc:///m?size_mb=16&blk_size=512');
      const batches = Array.from({ length: 8 }, () => bdev.createBatch(64));
      batches.forEach((b, n) => {
        for (let i = 0; i < 64; i++) b.write((n * 64 + i) * 4096, patternBytes(4096, n * 64 + i));
      });
      const results = await Promise.all(batches.map((b) => b.submit()));
      expect(results.map((r) => r.failed)).toEqual(new Array(8).fill(0));
      const z = bdev.createBatch(2).unmap(0, 4096).writeZeroes(4096, 512);
      expect((await z.submit()).failed).toBe(0);
      const head = await bdev.read(0, 8192);
      const expected = Buffer.concat([Buffer.alloc(4608), patternBytes(4096, 1).subarray(512)]);
      expect(head.equals(expected)).toBe(true);
    });
  });

  it('reports each failed I/O by index and code, and the others still complete', async () => {
    await withEngine({}, async (engine) => {
      await engine.createBdev('malloc:///base?size_mb=4&blk_size=4096');
      const err = await engine.createBdev('error:///err?base=base');
      err.injectError({ ioType: 'write', errno: 'ENOSPC', count: 3 });
      const batch = err.createBatch(10);
      for (let i = 0; i < 10; i++) batch.write(i * 4096, patternBytes(4096, i));
      const result = await batch.submit();
      expect(result.count).toBe(10);
      expect(result.failed).toBe(3);
      expect(result.errors.map((e) => e.code)).toEqual(['ENOSPC', 'ENOSPC', 'ENOSPC']);
      const failedIndexes = result.errors.map((e) => e.index);
      for (let i = 0; i < 10; i++) {
        const back = await err.read(i * 4096, 4096);
        expect(back.equals(failedIndexes.includes(i) ? Buffer.alloc(4096) : patternBytes(4096, i))).toBe(true);
      }
    });
  });

  it('refuses bad entries, a full batch, resubmission in flight, and use after destroy', async () => {
    await withEngine({ hugepages: 'off', memoryMb: 32 }, async (engine) => {
      const bdev = await engine.createBdev('malloc:///m?size_mb=1&blk_size=4096');
      const batch = bdev.createBatch(2);
      expect(() => batch.read(1, Buffer.alloc(4096))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => batch.read(bdev.sizeBytes, Buffer.alloc(4096))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => batch.write(0, 'x' as unknown as Buffer)).toThrow(TypeError);
      expect(() => batch.unmap(-4096, 4096)).toThrow(RangeError);
      batch.read(0, Buffer.alloc(4096)).read(4096, Buffer.alloc(4096));
      expect(() => batch.read(8192, Buffer.alloc(4096))).toThrow(/the batch is full/);
      const inFlight = batch.submit();
      await expect(batch.submit()).rejects.toMatchObject({ code: 'EBUSY' });
      expect(() => batch.read(0, Buffer.alloc(4096))).toThrow(expect.objectContaining({ code: 'EBUSY' }));
      expect((await inFlight).failed).toBe(0);
      expect(await batch.submit()).toMatchObject({ count: 0, failed: 0 });
      expect(() => bdev.createBatch(0)).toThrow(RangeError);
      batch.read(0, Buffer.alloc(4096));
      await bdev.destroy();
      await expect(batch.submit()).rejects.toMatchObject({ code: 'DESTROYED' });
    });
  });
});
