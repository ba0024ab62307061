import { openSync, readSync, closeSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/index.js';
import { patternBytes, withEngine } from '../helpers/engine.js';
import { scratchDir, sparseFile } from '../helpers/files.js';

const scratch = scratchDir();
afterAll(() => scratch.cleanup());

describe.each(['uring', 'aio'] as const)('%s bdev over a file', (scheme) => {
  it.each(['adaptive', 'poll'] as const)('verified random I/O in flight, persisted for a new engine (idle %s)', async (idle) => {
    const path = sparseFile(scratch.dir, `${scheme}-${idle}.img`, 16 << 20);
    const written = new Map<number, Buffer>();
    await withEngine({ idle }, async (engine) => {
      const bdev = await engine.createBdev(`${scheme}://${path}?blk_size=4096`);
      expect(bdev.name).toBe(path);
      expect(bdev.module).toBe(scheme);
      expect(bdev.blockSize).toBe(4096);
      expect(bdev.numBlocks).toBe(4096);
      // 512 distinct random blocks written concurrently, then all read back concurrently.
      let rng = 99;
      while (written.size < 512) {
        rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
        const block = rng % 4096;
        // Blocks 256-271 are left for the 64 KiB DMA write below.
        if (!written.has(block) && (block < 256 || block > 271)) written.set(block, patternBytes(4096, block + 1));
      }
      await Promise.all([...written].map(([block, data]) => bdev.write(block * 4096, data)));
      await bdev.flush();
      const reads = await Promise.all([...written.keys()].map((block) => bdev.read(block * 4096, 4096)));
      expect(reads.every((got, i) => got.equals([...written.values()][i]!))).toBe(true);
      // Multi-block I/O through a DMA buffer (zero-copy, aligned for O_DIRECT).
      const dma = engine.allocBuffer(64 * 1024);
      patternBytes(64 * 1024, 7).copy(dma);
      await bdev.write(1 << 20, dma);
      written.set(256, patternBytes(64 * 1024, 7).subarray(0, 4096));
      expect((await bdev.read(1 << 20, 64 * 1024)).equals(patternBytes(64 * 1024, 7))).toBe(true);
    });
    // A new engine opening the same file sees every block.
    const engine = await Engine.start({ memoryMb: 64, hugepages: 'auto', idle });
    try {
      const again = await engine.createBdev(`${scheme}://${path}?blk_size=4096&name=again`);
      expect(again.name).toBe('again');
      for (const [block, data] of written) expect((await again.read(block * 4096, 4096)).equals(data)).toBe(true);
    } finally {
      await engine.stop();
    }
    // And the bytes are in the file itself.
    const fd = openSync(path, 'r');
    const first = Buffer.alloc(4096);
    const [block, data] = [...written].find(([b]) => b !== 256)!;
    readSync(fd, first, 0, 4096, block * 4096);
    closeSync(fd);
    expect(first.equals(data)).toBe(true);
  });

  it('unmap and writeZeroes zero their range; 512-byte blocks work', async () => {
    const path = sparseFile(scratch.dir, `${scheme}-zero.img`, 4 << 20);
    await withEngine({}, async (engine) => {
      const bdev = await engine.createBdev(`${scheme}://${path}`);
      expect(bdev.blockSize).toBe(512);
      const data = patternBytes(64 * 1024, 11);
      await bdev.write(0, data);
      await bdev.unmap(4096, 8192);
      await bdev.writeZeroes(32768, 4096);
      await bdev.flush();
      const expected = Buffer.from(data);
      expected.fill(0, 4096, 12288);
      expected.fill(0, 32768, 36864);
      expect((await bdev.read(0, 64 * 1024)).equals(expected)).toBe(true);
      expect((await bdev.read(512 * 3, 512)).equals(data.subarray(1536, 2048))).toBe(true);
    });
  });

  it('bad paths and parameters are coded errors', async () => {
    await withEngine({ hugepages: 'off', memoryMb: 32 }, async (engine) => {
      const small = sparseFile(scratch.dir, `${scheme}-tiny.img`, 100);
      const cases: [string, string, RegExp][] = [
        [`${scheme}:///no/such/file.img`, 'ENOENT', /does not exist/],
        [`${scheme}://${scratch.dir}`, 'EINVAL', /neither a regular file nor a block device/],
        [`${scheme}://relative.img`, 'EINVAL', /absolute path/],
        [`${scheme}://${small}`, 'EINVAL', /smaller than one block/],
        [`${scheme}://${small}?blk_size=1024`, 'EINVAL', /blk_size must be 512 or 4096/],
        [`${scheme}://${small}?blk_size=x`, 'EINVAL', /not a whole number/],
        [`${scheme}://${small}?direct=0`, 'EINVAL', /unknown parameter 'direct'/],
        [`${scheme}://${small}?name=a/b`, 'EINVAL', /not allowed/],
        [`${scheme}://${small}?uuid=nope`, 'EINVAL', /not a UUID/],
      ];
      for (const [uri, code, message] of cases) {
        const error = await engine.createBdev(uri).catch((e: unknown) => e);
        expect(error, uri).toMatchObject({ code });
        expect((error as Error).message, uri).toMatch(message);
      }
    });
  });
});
