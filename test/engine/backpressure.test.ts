// I/O from JavaScript beyond what the engine's DMA memory can buffer waits for buffers to
// come back, and stop settles I/O to the engine's own NVMe-oF target before tearing down.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/index.js';
import { patternBytes } from '../helpers/engine.js';
import { scratchDir, sparseFile } from '../helpers/files.js';

const BLOCK = 4096;

function block(index: number, round: number): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i += 8) {
    out.writeUInt32LE(index, i);
    out.writeUInt32LE(round, i + 4);
  }
  return out;
}

describe('back-pressure', () => {
  it('100,000 concurrent 4 KiB reads with the default memoryMb all succeed with the right data', async () => {
    const engine = await Engine.start({ hugepages: 'auto' });
    try {
      const bdev = await engine.createBdev('malloc:///m0?size_mb=32&blk_size=4096');
      const blocks = (32 << 20) / BLOCK;
      for (let b = 0; b < blocks; b += 256) {
        const chunk = Buffer.concat(Array.from({ length: 256 }, (_, i) => block(b + i, 1)));
        await bdev.write(b * BLOCK, chunk);
      }
      const reads = Array.from({ length: 100_000 }, (_, i) => {
        const b = (i * 7919) % blocks;
        return bdev.read(b * BLOCK, BLOCK).then((data) => data.equals(block(b, 1)));
      });
      const results = await Promise.allSettled(reads);
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed.map((r) => (r as PromiseRejectedResult).reason.code).slice(0, 3)).toEqual([]);
      expect(results.every((r) => r.status === 'fulfilled' && r.value)).toBe(true);
    } finally {
      await engine.stop();
    }
  }, 60_000);

  it('100,000 concurrent 4 KiB writes with memoryMb 64 all land', async () => {
    const { dir, cleanup } = scratchDir();
    const engine = await Engine.start({ memoryMb: 64, hugepages: 'auto' });
    try {
      const bdev = await engine.createBdev(`uring://${sparseFile(dir, 'file', 128 << 20)}?blk_size=4096`);
      const blocks = (128 << 20) / BLOCK;
      // 400 MB of bounce buffers wanted at once, 64 MiB there.
      const writes = Array.from({ length: 100_000 }, (_, i) => bdev.write((i % blocks) * BLOCK, block(i % blocks, 2)));
      const results = await Promise.allSettled(writes);
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed.map((r) => (r as PromiseRejectedResult).reason.code).slice(0, 3)).toEqual([]);
      for (let b = 0; b < blocks; b += 331) expect((await bdev.read(b * BLOCK, BLOCK)).equals(block(b, 2))).toBe(true);
    } finally {
      await engine.stop();
      cleanup();
    }
  }, 60_000);

  it('an I/O larger than all DMA memory fails ENOMEM at once instead of waiting forever', async () => {
    const engine = await Engine.start({ memoryMb: 8, hugepages: 'off' });
    try {
      const bdev = await engine.createBdev('null:///n0?size_mb=64&blk_size=4096');
      await expect(bdev.write(0, patternBytes(16 << 20, 1))).rejects.toMatchObject({ code: 'ENOMEM' });
      await bdev.write(0, patternBytes(4096, 2)); // and the engine goes on
    } finally {
      await engine.stop();
    }
  });
});

describe('stop order', () => {
  it("stop with writes in flight to the engine's own target: each write succeeds or fails ENGINE_STOPPED", async () => {
    for (let run = 0; run < 4; run++) {
      const engine = await Engine.start({ memoryMb: 128, hugepages: 'auto' });
      await engine.createBdev('malloc:///m0?size_mb=32&blk_size=4096');
      await engine.createBdev('malloc:///m1?size_mb=32&blk_size=4096');
      const nqn = 'nqn.2026-12.io.nodestor:self';
      const sub = await engine.nvmf.createSubsystem({ nqn, allowAnyHost: true });
      await sub.addNamespace('m0');
      const { port } = await sub.addListener({ port: 0 });
      const hostBdev = await engine.createBdev(`nvmf://127.0.0.1:${port}/${nqn}?name=self`);
      // Half the runs write through a nexus with the self-connected bdev as a child.
      const target =
        run % 2 === 0
          ? hostBdev
          : (await engine.createNexus({ name: 'v', children: ['bdev:///m1', `nvmf://127.0.0.1:${port}/${nqn}?name=selfchild`] })).bdev;
      const outcomes = new Map<string, number>();
      let issued = 0;
      const worker = async (): Promise<void> => {
        while (issued < 500) {
          const i = issued++;
          const outcome = await target.write((i % 4096) * BLOCK, block(i, 3)).then(
            () => 'ok',
            (e: { code: string }) => e.code,
          );
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
      };
      const workers = Array.from({ length: 32 }, () => worker());
      await new Promise((resolve) => setTimeout(resolve, 5 + run * 5));
      await engine.stop();
      await Promise.all(workers);
      expect([...outcomes.keys()].filter((k) => k !== 'ok' && k !== 'ENGINE_STOPPED')).toEqual([]);
      expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(500);
    }
  }, 60_000);
});
