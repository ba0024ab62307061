import { openSync, readSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/index.js';
import { patternBytes, withEngine } from '../helpers/engine.js';
import { scratchDir, sparseFile } from '../helpers/files.js';

const MiB = 1 << 20;
const scratch = scratchDir();
afterAll(() => scratch.cleanup());
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('pools', () => {
  it('create reports its space; lvols commit and use it as expected', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const pool = await engine.createPool({ name: 'p0', disk: 'malloc:///d0?size_mb=128&blk_size=4096', clusterSizeBytes: MiB });
      expect(pool.name).toBe('p0');
      expect(pool.uuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(pool.clusterSizeBytes).toBe(MiB);
      expect(pool.disk).toBe('d0');
      expect(pool.totalBytes % MiB).toBe(0);
      expect(pool.totalBytes).toBeGreaterThan(100 * MiB);
      expect(pool.totalBytes).toBeLessThan(128 * MiB);
      expect([pool.usedBytes, pool.committedBytes]).toEqual([0, 0]);
      expect(pool.availableBytes).toBe(pool.totalBytes);
      const thick = await pool.createLvol({ name: 'thick', sizeBytes: 10 * MiB });
      const thin = await pool.createLvol({ name: 'thin', sizeBytes: 1000 * MiB, thin: true });
      expect(thick.thin).toBe(false);
      expect(thin.thin).toBe(true);
      await pool.refresh();
      expect(pool.usedBytes).toBe(10 * MiB);
      expect(pool.committedBytes).toBe(1010 * MiB); // thin over-commits
      expect(pool.availableBytes).toBe(pool.totalBytes - 10 * MiB);
      await thin.bdev.write(5 * MiB + 4096, Buffer.alloc(4096, 1));
      await pool.refresh();
      expect(pool.usedBytes).toBe(11 * MiB); // one cluster on first write
      expect(thin.allocatedBytes).toBe(MiB);
      expect(engine.getPool('p0')).toBe(pool);
      expect(engine.listPools()).toEqual([pool]);
      expect(engine.getBdev('p0/thin')).toBe(thin.bdev);
      await pool.check();
    });
  });

  it('bad input is refused with coded errors, and the engine keeps working', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const base = await engine.createBdev('malloc:///base?size_mb=64&blk_size=4096');
      const pool = await engine.createPool({ name: 'p', disk: 'bdev:///base', clusterSizeBytes: MiB });
      await expect(engine.createPool({ name: 'p', disk: 'malloc:///x?size_mb=64' })).rejects.toMatchObject({ code: 'EEXIST' });
      expect(engine.getBdev('x')).toBeUndefined(); // the disk made for the failed pool is gone again
      await expect(engine.createPool({ name: 'q', disk: 'bdev:///base' })).rejects.toMatchObject({
        code: 'EEXIST',
        message: expect.stringMatching(/^disk bdev:\/\/\/base already holds pool /),
      });
      await expect(base.destroy()).rejects.toMatchObject({ code: 'EBUSY' });
      // The pool's disk is the pool's: writes from another handle are refused, reads are not.
      await expect(base.write(0, Buffer.alloc(4096))).rejects.toMatchObject({ code: 'EPERM' });
      await expect(base.writeZeroes(0, 4096)).rejects.toMatchObject({ code: 'EPERM' });
      expect((await base.read(0, 4096)).length).toBe(4096);
      for (const name of ['', 'a/b', 'x'.repeat(64)])
        await expect(engine.createPool({ name, disk: 'malloc:///y?size_mb=64' })).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(engine.createPool({ name: 'small', disk: 'malloc:///tiny?size_mb=4' })).rejects.toMatchObject({
        code: 'ENOSPC',
        message: expect.stringMatching(/too small for a pool/),
      });
      await expect(engine.createPool({ name: 'c', disk: 'malloc:///z?size_mb=64', clusterSizeBytes: MiB + 4096 })).rejects.toThrow(
        /clusterSizeBytes|multiple of 1 MiB/,
      );
      await expect(engine.importPool({ disk: 'malloc:///empty?size_mb=64' })).rejects.toMatchObject({
        code: 'ENOENT',
        message: expect.stringMatching(/no pool/),
      });
      await expect(engine.createPool({ name: 'n', disk: 'floppy:///a' })).rejects.toMatchObject({ code: 'EINVAL' });
      await pool.createLvol({ name: 'v', sizeBytes: MiB, thin: true });
      await expect(pool.createLvol({ name: 'v', sizeBytes: MiB })).rejects.toMatchObject({ code: 'EEXIST' });
      for (const name of ['', 'a/b', 'y'.repeat(64)])
        await expect(pool.createLvol({ name, sizeBytes: MiB })).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(pool.createLvol({ name: 'big', sizeBytes: 1024 * MiB })).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(pool.createLvol({ name: 'zero', sizeBytes: 0 })).rejects.toThrow(RangeError);
      await expect(pool.createLvol({ name: 'half', sizeBytes: 1.5 })).rejects.toThrow(TypeError);
      expect((await pool.listLvols()).map((l) => l.name)).toEqual(['v']);
      await pool.check();
    });
  });

  it('export and import keep every lvol, snapshot and byte; destroy wipes', async () => {
    const disk = sparseFile(scratch.dir, 'persist.img', 128 * MiB);
    const uri = `uring://${disk}?blk_size=4096`;
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const pool = await engine.createPool({ name: 'keep', disk: uri, clusterSizeBytes: MiB });
      const vol = await pool.createLvol({ name: 'vol', sizeBytes: 8 * MiB, thin: true });
      await vol.bdev.write(0, patternBytes(3 * MiB, 1));
      await vol.setProperty('owner', 'test');
      const snap = await vol.snapshot('snap');
      await vol.bdev.write(MiB, patternBytes(4096, 2));
      await snap.clone('clone');
      await pool.export();
      expect(pool.status).toBe('closed');
      expect(vol.destroyed).toBe(true);
      await expect(vol.bdev.read(0, 4096)).rejects.toMatchObject({ code: 'DESTROYED' });
      expect(engine.getBdev(disk)).toBeUndefined(); // the pool created its disk bdev and removed it
      const again = await engine.importPool({ disk: uri });
      expect(again.importedDirty).toBe(false);
      const lvols = await again.listLvols();
      expect(lvols.map((l) => [l.name, l.parent, l.readOnly]).sort()).toEqual([
        ['clone', 'snap', false],
        ['snap', null, true],
        ['vol', 'snap', false],
      ]);
      const v = (await again.getLvol('vol'))!;
      expect(v.properties).toEqual({ owner: 'test' });
      const expected = Buffer.from(patternBytes(3 * MiB, 1));
      patternBytes(4096, 2).copy(expected, MiB);
      expect((await v.bdev.read(0, 3 * MiB)).equals(expected)).toBe(true);
      expect((await (await again.getLvol('clone'))!.bdev.read(MiB, 4096)).equals(patternBytes(3 * MiB, 1).subarray(MiB, MiB + 4096))).toBe(true);
      await again.check();
      await again.destroy();
      await expect(engine.importPool({ disk: uri })).rejects.toMatchObject({ code: 'ENOENT' });
      const fresh = await engine.createOrImportPool({ name: 'fresh', disk: uri, clusterSizeBytes: MiB });
      expect((await fresh.listLvols()).length).toBe(0);
    });
  });

  it('a process that exits without stop leaves a pool that imports with its data (file-backed)', async () => {
    const disk = sparseFile(scratch.dir, 'restart.img', 64 * MiB);
    const result = spawnSync(process.execPath, [fixture('pool-writer.mjs'), disk], { encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.stdout).toContain('wrote 64 blocks');
    expect(result.status).toBe(0);
    await withEngine({ memoryMb: 128 }, async (engine) => {
      const pool = await engine.createOrImportPool({ name: 'restart', disk: `uring://${disk}?blk_size=4096` });
      const vol = (await pool.getLvol('vol'))!;
      for (let i = 0; i < 64; i++) expect((await vol.bdev.read(i * 65536, 4096)).equals(patternBytes(4096, i))).toBe(true);
      await pool.check();
    });
  });

  it('grow uses the space of a disk that grew', async () => {
    const disk = sparseFile(scratch.dir, 'grow.img', 64 * MiB);
    await withEngine({ memoryMb: 128 }, async (engine) => {
      const pool = await engine.createPool({ name: 'g', disk: `aio://${disk}?blk_size=4096`, clusterSizeBytes: MiB });
      const before = pool.totalBytes;
      truncateSync(disk, 96 * MiB);
      await pool.grow();
      expect(pool.totalBytes).toBe(before + 32 * MiB);
      await pool.createLvol({ name: 'uses-new-space', sizeBytes: before + 16 * MiB });
      await pool.check();
    });
  });

  it('a metadata page with a bad checksum makes import fail with EIO naming the page', async () => {
    const disk = sparseFile(scratch.dir, 'corrupt.img', 64 * MiB);
    const uri = `uring://${disk}?blk_size=4096`;
    await withEngine({ memoryMb: 128 }, async (engine) => {
      const pool = await engine.createPool({ name: 'c', disk: uri, clusterSizeBytes: MiB });
      await pool.createLvol({ name: 'v', sizeBytes: 4 * MiB });
      await pool.export(); // the checkpoint writes the metadata pages in place
    });
    // The metadata region starts at the page the newer superblock names (offset 176;
    // docs/lvol-format.md). Find its first page (header magic "NDMP"), flip a byte in it.
    const fd = openSync(disk, 'r+');
    const page = Buffer.alloc(4096);
    const superblocks = [0, 1].map((slot) => {
      const sb = Buffer.alloc(4096);
      readSync(fd, sb, 0, 4096, slot * 4096);
      return { generation: sb.readBigUInt64LE(16), mdStart: Number(sb.readBigUInt64LE(176)) };
    });
    const newest = superblocks[0]!.generation > superblocks[1]!.generation ? superblocks[0]! : superblocks[1]!;
    let damaged = -1;
    for (let offset = newest.mdStart * 4096; offset < 32 * MiB && damaged < 0; offset += 4096) {
      readSync(fd, page, 0, 4096, offset);
      if (page.toString('latin1', 0, 4) === 'NDMP') damaged = offset;
    }
    expect(damaged).toBeGreaterThan(0);
    page[100] ^= 0xff;
    writeSync(fd, page, 0, 4096, damaged);
    closeSync(fd);
    await withEngine({ memoryMb: 128 }, async (engine) => {
      await expect(engine.importPool({ disk: uri })).rejects.toMatchObject({
        code: 'EIO',
        message: expect.stringMatching(new RegExp(`metadata page \\d+ \\(disk offset ${damaged}\\) is damaged`)),
      });
      expect(engine.listPools()).toEqual([]);
      expect(engine.listBdevs()).toEqual([]); // the disk bdev made for the import went away
    });
  });

  it('engine.stop exports pools; a new engine imports them cleanly', async () => {
    const disk = sparseFile(scratch.dir, 'stop.img', 64 * MiB);
    const uri = `uring://${disk}?blk_size=4096`;
    const engine = await Engine.start({ memoryMb: 128, hugepages: 'auto' });
    const pool = await engine.createPool({ name: 's', disk: uri, clusterSizeBytes: MiB });
    const v = await pool.createLvol({ name: 'v', sizeBytes: 2 * MiB, thin: true });
    await v.bdev.write(0, Buffer.alloc(4096, 5));
    await engine.stop();
    expect(pool.status).toBe('closed');
    await withEngine({ memoryMb: 128 }, async (next) => {
      const again = await next.importPool({ disk: uri });
      expect(again.importedDirty).toBe(false);
      expect((await (await again.getLvol('v'))!.bdev.read(0, 4096)).equals(Buffer.alloc(4096, 5))).toBe(true);
    });
  });

  it('a pool holds as many lvols as it has clusters: 1,000 thin lvols on a 4 GiB pool', async () => {
    await withEngine({ memoryMb: 128 }, async (engine) => {
      const disk = sparseFile(scratch.dir, 'many.img', 4096 * MiB);
      const pool = await engine.createPool({ name: 'many', disk: `uring://${disk}` });
      const made = [];
      for (let i = 0; i < 1000; i++) made.push(await pool.createLvol({ name: `l${i}`, sizeBytes: 4 * MiB, thin: true }));
      expect((await pool.listLvols()).length).toBe(1000);
      await made[999]!.bdev.write(0, patternBytes(4096, 9));
      await pool.export();
      const again = await engine.importPool({ disk: `uring://${disk}` });
      expect((await again.listLvols()).map((l) => l.name).sort()).toEqual(made.map((l) => l.name).sort());
      expect((await engine.getBdev('many/l999')!.read(0, 4096)).equals(patternBytes(4096, 9))).toBe(true);
      await again.check();
      await again.destroy();
    });
  });
});
