import { describe, expect, it } from 'vitest';
import type { Bdev, Engine } from '../../src/index.js';
import { patternBytes, withEngine } from '../helpers/engine.js';

/**
 * Random verified I/O: `inFlight` operations at a time against a shadow copy. Each
 * in-flight slot owns a stripe of blocks, so no two concurrent I/Os touch the same block
 * and every read has exactly one correct answer.
 */
async function verifiedRandomIo(bdev: Bdev, ios: number, inFlight: number, ioBlocks: number, seed: number) {
  const bs = bdev.blockSize;
  const shadow = Buffer.alloc(bdev.sizeBytes);
  const stripeBlocks = Math.floor(bdev.numBlocks / inFlight);
  expect(stripeBlocks).toBeGreaterThanOrEqual(ioBlocks);
  let rng = seed;
  const next = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0);
  let issued = 0;
  let mismatches = 0;
  let reads = 0;
  async function slot(index: number) {
    while (issued < ios) {
      const n = issued++;
      const block = index * stripeBlocks + (next() % (stripeBlocks - ioBlocks + 1));
      const offset = block * bs;
      const length = ioBlocks * bs;
      if (next() % 2 === 0) {
        const data = patternBytes(length, n + seed);
        data.copy(shadow, offset);
        await bdev.write(offset, data);
      } else {
        reads++;
        const got = await bdev.read(offset, length);
        if (!got.equals(shadow.subarray(offset, offset + length))) mismatches++;
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, (_, i) => slot(i)));
  return { mismatches, reads, shadow };
}

describe.each(['adaptive', 'poll'] as const)('verified I/O on malloc (idle %s)', (idle) => {
  it('thousands of random 4 KiB reads and writes in flight read back what was written', async () => {
    await withEngine({ idle }, async (engine) => {
      const bdev = await engine.createBdev('malloc:///m0?size_mb=32&blk_size=4096');
      expect(bdev.module).toBe('malloc');
      expect(bdev.blockSize).toBe(4096);
      expect(bdev.numBlocks).toBe(8192);
      expect(bdev.sizeBytes).toBe(32 << 20);
      expect(bdev.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const { mismatches, reads, shadow } = await verifiedRandomIo(bdev, 40_000, 2048, 1, 1);
      expect(reads).toBeGreaterThan(15_000);
      expect(mismatches).toBe(0);
      // A final full pass over the device agrees with the shadow copy.
      const whole = await bdev.read(0, bdev.sizeBytes);
      expect(whole.equals(shadow)).toBe(true);
    });
  });
});

describe('verified I/O', () => {
  it('multi-block I/O on 512-byte blocks, including I/O larger than the bounce pools', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('malloc:///m512?num_blocks=16384');
      expect(bdev.blockSize).toBe(512);
      expect(bdev.sizeBytes).toBe(16384 * 512);
      const { mismatches } = await verifiedRandomIo(bdev, 4000, 64, 16, 7);
      expect(mismatches).toBe(0);
      const big = patternBytes(1 << 20, 99); // 1 MiB: above the 128 KiB pooled buffers
      await bdev.write(512 * 100, big);
      expect((await bdev.read(512 * 100, 1 << 20)).equals(big)).toBe(true);
    });
  });

  it('never-written ranges of a malloc bdev read as zeroes', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('malloc:///fresh?size_mb=4&blk_size=4096');
      expect((await bdev.read(0, 4 << 20)).equals(Buffer.alloc(4 << 20))).toBe(true);
    });
  });

  it('unmap and writeZeroes zero exactly their range; flush succeeds', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('malloc:///z?size_mb=1&blk_size=4096');
      const data = patternBytes(64 * 1024, 3);
      await bdev.write(0, data);
      await bdev.unmap(4096, 8192);
      await bdev.writeZeroes(32768, 4096);
      await bdev.flush();
      const expected = Buffer.from(data);
      expected.fill(0, 4096, 4096 + 8192);
      expected.fill(0, 32768, 32768 + 4096);
      expect((await bdev.read(0, 64 * 1024)).equals(expected)).toBe(true);
    });
  });

  it('null bdev: writes are discarded and reads return zeroes, at depth', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('null:///n0?size_mb=64&blk_size=4096');
      expect(bdev.module).toBe('null');
      const writes = Array.from({ length: 4096 }, (_, i) => bdev.write(i * 4096, patternBytes(4096, i)));
      await Promise.all(writes);
      const reads = await Promise.all(Array.from({ length: 4096 }, (_, i) => bdev.read(i * 4096, 4096)));
      const zero = Buffer.alloc(4096);
      expect(reads.every((b) => b.equals(zero))).toBe(true);
      await bdev.unmap(0, 4096);
      await bdev.writeZeroes(0, 4096);
      await bdev.flush();
    });
  });

  it('zero-copy: DMA buffers from allocBuffer are read into and written from directly', async () => {
    await withEngine({}, async (engine: Engine) => {
      const bdev = await engine.createBdev('malloc:///dma?size_mb=4&blk_size=4096');
      const before = engine.info().memory.usedBytes;
      const out = engine.allocBuffer(16384);
      expect(out.byteLength).toBe(16384);
      expect(engine.info().memory.usedBytes).toBe(before + 16384);
      patternBytes(16384, 5).copy(out);
      await bdev.write(8192, out);
      const into = engine.allocBuffer(16384);
      const returned = await bdev.readInto(8192, into);
      expect(returned).toBe(into);
      expect(into.equals(patternBytes(16384, 5))).toBe(true);
      // readInto also takes plain buffers and subarrays (copied through a bounce buffer).
      const plain = new Uint8Array(4096 * 3).subarray(4096, 8192);
      await bdev.readInto(8192, plain);
      expect(Buffer.from(plain).equals(patternBytes(16384, 5).subarray(0, 4096))).toBe(true);
    });
  });

  it('a plain buffer is captured at call time: changing it afterwards does not change what is written', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('malloc:///cap?size_mb=1&blk_size=4096');
      const data = Buffer.alloc(4096, 0xaa);
      const write = bdev.write(0, data);
      data.fill(0x55);
      await write;
      expect((await bdev.read(0, 4096)).equals(Buffer.alloc(4096, 0xaa))).toBe(true);
    });
  });

  it('iostat counts are exact after a known workload, and reset starts from zero', async () => {
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev('malloc:///st?size_mb=8&blk_size=4096');
      await Promise.all(Array.from({ length: 300 }, (_, i) => bdev.write(i * 4096, patternBytes(4096, i))));
      await Promise.all(Array.from({ length: 200 }, (_, i) => bdev.read(i * 8192, 8192)));
      await bdev.unmap(0, 4096 * 10);
      await bdev.writeZeroes(0, 4096);
      await bdev.flush();
      await bdev.flush();
      const s = bdev.stats();
      expect(s.writeOps).toBe(300);
      expect(s.bytesWritten).toBe(300 * 4096);
      expect(s.readOps).toBe(200);
      expect(s.bytesRead).toBe(200 * 8192);
      expect(s.unmapOps).toBe(1);
      expect(s.byType.unmap.bytes).toBe(40960);
      expect(s.writeZeroesOps).toBe(1);
      expect(s.flushOps).toBe(2);
      expect(s.errors).toBe(0);
      expect(s.latency.read.p50).toBeGreaterThan(0);
      expect(s.latency.read.p99).toBeGreaterThanOrEqual(s.latency.read.p50);
      expect(s.latency.read.p999).toBeGreaterThanOrEqual(s.latency.read.p99);
      expect(s.latency.read.max).toBeGreaterThanOrEqual(s.latency.read.p999);
      bdev.resetStats();
      const zero = bdev.stats();
      expect([zero.readOps, zero.writeOps, zero.bytesRead, zero.flushOps, zero.latency.read.p50]).toEqual([0, 0, 0, 0, 0]);
      await bdev.read(0, 4096);
      expect(bdev.stats().readOps).toBe(1);
      expect(bdev.stats().bytesRead).toBe(4096);
    });
  });

  it('bdevs are listed and found by name; destroy frees a malloc bdev memory', async () => {
    await withEngine({ memoryMb: 64 }, async (engine) => {
      const before = engine.info().memory.usedBytes;
      const m = await engine.createBdev('malloc:///m?size_mb=16');
      const n = await engine.createBdev('null:///n?num_blocks=100&uuid=6ba7b810-9dad-41d1-80b4-00c04fd430c8');
      expect(n.uuid).toBe('6ba7b810-9dad-41d1-80b4-00c04fd430c8');
      expect(n.numBlocks).toBe(100);
      expect(engine.info().memory.usedBytes).toBeGreaterThanOrEqual(before + (16 << 20));
      expect(engine.listBdevs().map((b) => b.name).sort()).toEqual(['m', 'n']);
      expect(engine.getBdev('m')).toBe(m);
      expect(engine.getBdev('nope')).toBeUndefined();
      await m.destroy();
      expect(engine.info().memory.usedBytes).toBeLessThan(before + (16 << 20));
      expect(engine.listBdevs().map((b) => b.name)).toEqual(['n']);
    });
  });
});

describe('engine.stats', () => {
  it('gives every bdev of the engine by name', async () => {
    await withEngine({}, async (engine) => {
      const a = await engine.createBdev('malloc:///a?size_mb=1&blk_size=4096');
      await engine.createBdev('null:///b?size_mb=1&blk_size=4096');
      await a.write(0, Buffer.alloc(8192));
      const all = engine.stats();
      expect(Object.keys(all).sort()).toEqual(['a', 'b']);
      expect(all.a!.writeOps).toBe(1);
      expect(all.a!.bytesWritten).toBe(8192);
      expect(all.b!.writeOps).toBe(0);
    });
  });
});
