import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/index.js';
import { freeHugepages, totalHugepages } from '../helpers/engine.js';

// The set-up script reserves hugepages when it runs as root (as CI does); elsewhere the
// machine may have none. Each test asserts the behaviour that follows from what is there.
const isRoot = process.getuid?.() === 0;

describe('DMA memory and hugepages', () => {
  it("'off' uses ordinary pages", async () => {
    const engine = await Engine.start({ memoryMb: 32, hugepages: 'off' });
    expect(engine.info().memory.hugepages).toBe(false);
    expect(engine.warnings).toEqual([]);
    await engine.stop();
  });

  it("'require' with more than the free hugepages fails with ENOMEM naming the fix, and nothing is left running", async () => {
    const memoryMb = ((await totalHugepages()) + 8) * 2;
    const error = await Engine.start({ memoryMb, hugepages: 'require' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NodestorError', code: 'ENOMEM', op: 'start' });
    expect((error as Error).message).toMatch(/nr_hugepages/);
    // The failed start did not leave an engine behind.
    const next = await Engine.start({ memoryMb: 16, hugepages: 'off' });
    await next.stop();
  });

  it("'auto' falls back to ordinary pages with a warning when hugepages are short", async () => {
    const engine = await Engine.start({ memoryMb: ((await totalHugepages()) + 8) * 2, hugepages: 'auto' });
    try {
      expect(engine.info().memory.hugepages).toBe(false);
      expect(engine.warnings).toHaveLength(1);
      expect(engine.warnings[0]).toMatch(/Falling back to ordinary pages/);
      const bdev = await engine.createBdev('malloc:///m?size_mb=4&blk_size=4096');
      await bdev.write(0, Buffer.alloc(4096, 3));
      expect((await bdev.read(0, 4096)).equals(Buffer.alloc(4096, 3))).toBe(true);
    } finally {
      await engine.stop();
    }
  });

  it("'require' uses hugepages when enough are free, and I/O works on them (set-up reserves them as root)", async () => {
    const free = await freeHugepages();
    if (isRoot) expect(free).toBeGreaterThanOrEqual(16);
    // Fewer than 16 free pages can only mean none were reserved (not root): then 'require' refuses.
    if (free < 16) {
      await expect(Engine.start({ memoryMb: 32, hugepages: 'require' })).rejects.toMatchObject({ code: 'ENOMEM' });
      return;
    }
    const engine = await Engine.start({ memoryMb: 32, hugepages: 'require' });
    try {
      const info = engine.info();
      expect(info.memory.hugepages).toBe(true);
      expect(info.memory.reservedBytes).toBe(32 << 20);
      expect(engine.warnings).toEqual([]);
      const bdev = await engine.createBdev('malloc:///h?size_mb=8&blk_size=4096');
      const data = Buffer.alloc(1 << 20, 0x5a);
      await bdev.write(1 << 20, data);
      expect((await bdev.read(1 << 20, 1 << 20)).equals(data)).toBe(true);
    } finally {
      await engine.stop();
    }
  });
});
