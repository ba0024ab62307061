import { describe, expect, it } from 'vitest';
import { withEngine } from '../helpers/engine.js';

describe('native benchmark (engine.bench)', () => {
  it('runs each workload on the reactors and reports consistent figures', async () => {
    await withEngine({ cores: [0, 1] }, async (engine) => {
      const bdev = await engine.createBdev('malloc:///m?size_mb=16&blk_size=4096');
      for (const workload of ['randread', 'randwrite', 'read', 'write', 'randrw'] as const) {
        const r = await engine.bench({ bdev, workload, blockSize: 4096, queueDepth: 8, seconds: 0.2 });
        expect(r.errors).toBe(0);
        expect(r.perCore.map((c) => c.core)).toEqual([0, 1]);
        expect(r.ios).toBe(r.perCore[0]!.ios + r.perCore[1]!.ios);
        expect(r.ios).toBeGreaterThan(1000);
        expect(r.iops).toBeGreaterThan(0);
        expect(r.mibps).toBeCloseTo((r.iops * 4096) / (1 << 20), -1);
        expect(r.latencyUs.p50).toBeGreaterThan(0);
        expect(r.latencyUs.p99).toBeGreaterThanOrEqual(r.latencyUs.p50);
        expect(r.latencyUs.max).toBeGreaterThanOrEqual(r.latencyUs.p999);
        expect(r.seconds).toBeGreaterThanOrEqual(0.2);
      }
      // The bdev's own statistics saw the benchmark's I/O.
      expect(bdev.stats().readOps + bdev.stats().writeOps).toBeGreaterThan(5000);
    });
  });

  it('verify: zero mismatches on a healthy bdev, non-zero under corrupt injection', async () => {
    await withEngine({}, async (engine) => {
      await engine.createBdev('malloc:///base?size_mb=8&blk_size=512');
      const err = await engine.createBdev('error:///err?base=base');
      const healthy = await engine.bench({ bdev: err, workload: 'randrw', blockSize: 4096, queueDepth: 16, seconds: 0.3, verify: true });
      expect(healthy.ios).toBeGreaterThan(1000);
      expect(healthy.mismatches).toBe(0);
      expect(healthy.errors).toBe(0);
      err.injectError({ ioType: 'read', mode: 'corrupt' });
      const corrupt = await engine.bench({ bdev: 'err', workload: 'randrw', blockSize: 4096, queueDepth: 16, seconds: 0.3, verify: true });
      expect(corrupt.mismatches).toBeGreaterThan(0);
      // Every verified read was corrupted: half of all I/O (write, then read back).
      expect(corrupt.mismatches).toBeGreaterThanOrEqual(Math.floor(corrupt.ios / 2) - 16);
      expect(corrupt.errors).toBe(0);
      err.injectError({ ioType: 'write', errno: 'EIO' });
      const failing = await engine.bench({ bdev: err, workload: 'randwrite', blockSize: 4096, queueDepth: 4, seconds: 0.1 });
      expect(failing.errors).toBe(failing.ios);
    });
  });

  it('rejects bad options', async () => {
    await withEngine({ hugepages: 'off', memoryMb: 32 }, async (engine) => {
      const bdev = await engine.createBdev('malloc:///m?size_mb=1&blk_size=4096');
      const base = { bdev, workload: 'randread' as const, blockSize: 4096, queueDepth: 4, seconds: 0.1 };
      await expect(engine.bench({ ...base, bdev: 'nope' })).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(engine.bench({ ...base, blockSize: 100 })).rejects.toThrow(RangeError);
      await expect(engine.bench({ ...base, blockSize: 6144 })).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/multiple of the block size/) });
      await expect(engine.bench({ ...base, workload: 'sprint' as 'read' })).rejects.toThrow(RangeError);
      await expect(engine.bench({ ...base, queueDepth: 0 })).rejects.toThrow(RangeError);
      await expect(engine.bench({ ...base, seconds: 0 })).rejects.toThrow(RangeError);
      await expect(engine.bench({ ...base, cores: [1] })).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/runs no reactor/) });
      await expect(engine.bench({ ...base, rwmixread: 101 })).rejects.toThrow(RangeError);
    });
  });
});
