import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Engine, NodestorError } from '../../src/index.js';
import { patternBytes } from '../helpers/engine.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('engine lifecycle', () => {
  it('starts, reports info, stops, and starts again', async () => {
    const engine = await Engine.start({ cores: [0], memoryMb: 64, hugepages: 'off', idle: 'adaptive' });
    expect(engine.status).toBe('open');
    const info = engine.info();
    expect(info.version).toBe(process.env.npm_package_version ?? info.version);
    expect(info.reactors).toHaveLength(1);
    expect(info.reactors[0]!.core).toBe(0);
    expect(info.reactors[0]!.idle).toBe('adaptive');
    expect(info.reactors[0]!.threads).toBe(3); // the app thread, the I/O worker and the NVMe-oF poll group
    expect(info.memory.reservedBytes).toBe(64 * 1024 * 1024);
    expect(info.memory.usedBytes + info.memory.freeBytes).toBe(info.memory.reservedBytes);
    await engine.stop();
    expect(engine.status).toBe('closed');
    await engine.stop(); // idempotent

    const again = await Engine.start({ memoryMb: 64, hugepages: 'off', idle: 'poll' });
    expect(again.info().reactors[0]!.idle).toBe('poll');
    await again.stop();
  });

  it('refuses a second engine while one runs, with EBUSY', async () => {
    const engine = await Engine.start({ memoryMb: 16, hugepages: 'off' });
    try {
      await expect(Engine.start({ memoryMb: 16, hugepages: 'off' })).rejects.toMatchObject({
        name: 'NodestorError',
        code: 'EBUSY',
      });
    } finally {
      await engine.stop();
    }
  });

  it('runs reactors on two cores', async () => {
    const engine = await Engine.start({ cores: [0, 1], memoryMb: 32, hugepages: 'off' });
    try {
      const info = engine.info();
      expect(info.reactors.map((r) => r.core)).toEqual([0, 1]);
      expect(info.reactors.map((r) => r.threads)).toEqual([3, 2]); // app, worker and NVMe-oF poll group; worker and poll group
      // Bdevs are spread over the reactors' I/O workers; both must serve I/O correctly.
      const a = await engine.createBdev('malloc:///a?size_mb=1&blk_size=4096');
      const b = await engine.createBdev('malloc:///b?size_mb=1&blk_size=4096');
      await a.write(0, patternBytes(4096, 1));
      await b.write(0, patternBytes(4096, 2));
      expect((await a.read(0, 4096)).equals(patternBytes(4096, 1))).toBe(true);
      expect((await b.read(0, 4096)).equals(patternBytes(4096, 2))).toBe(true);
    } finally {
      await engine.stop();
    }
  });

  it('stop waits for I/O in flight, which completes successfully', async () => {
    const engine = await Engine.start({ memoryMb: 64, hugepages: 'off' });
    const bdev = await engine.createBdev('malloc:///m0?size_mb=16&blk_size=4096');
    const settled: string[] = [];
    const writes = Array.from({ length: 2000 }, (_, i) =>
      bdev.write((i % 4096) * 4096, patternBytes(4096, i)).then(
        () => settled.push('ok'),
        (e: NodestorError) => settled.push(e.code),
      ),
    );
    const stopped = engine.stop();
    // New work is refused as soon as stop begins.
    await expect(bdev.read(0, 4096)).rejects.toMatchObject({ code: 'ENGINE_STOPPED' });
    await stopped;
    expect(settled).toHaveLength(2000);
    expect(settled.every((s) => s === 'ok')).toBe(true);
    await Promise.all(writes);
  });

  it('calls on a stopped engine or a destroyed bdev are coded errors', async () => {
    const engine = await Engine.start({ memoryMb: 32, hugepages: 'off' });
    const kept = await engine.createBdev('malloc:///kept?size_mb=1');
    const gone = await engine.createBdev('malloc:///gone?size_mb=1');
    await gone.destroy();
    expect(gone.status).toBe('closed');
    await gone.destroy(); // idempotent
    await expect(gone.read(0, 512)).rejects.toMatchObject({ code: 'DESTROYED', resource: 'gone' });
    await expect(gone.write(0, Buffer.alloc(512))).rejects.toMatchObject({ code: 'DESTROYED' });
    expect(() => gone.stats()).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
    expect(engine.getBdev('gone')).toBeUndefined();
    expect(engine.listBdevs().map((b) => b.name)).toEqual(['kept']);
    // The name is free again once destroyed.
    const reborn = await engine.createBdev('malloc:///gone?size_mb=1');
    expect((await reborn.read(0, 512)).equals(Buffer.alloc(512))).toBe(true);

    await engine.stop();
    expect(kept.status).toBe('closed');
    expect(() => engine.info()).toThrow(expect.objectContaining({ code: 'ENGINE_STOPPED' }));
    expect(() => engine.listBdevs()).toThrow(expect.objectContaining({ code: 'ENGINE_STOPPED' }));
    expect(() => engine.allocBuffer(4096)).toThrow(expect.objectContaining({ code: 'ENGINE_STOPPED' }));
    await expect(engine.createBdev('malloc:///x?size_mb=1')).rejects.toMatchObject({ code: 'ENGINE_STOPPED' });
    await expect(kept.read(0, 512)).rejects.toMatchObject({ code: 'ENGINE_STOPPED' });
    await expect(kept.destroy()).resolves.toBeUndefined(); // already closed by stop
  });

  it('every closed handle (pool, lvol, nexus, bdev) refuses calls with DESTROYED and says why', async () => {
    const engine = await Engine.start({ memoryMb: 192, hugepages: 'off' });
    try {
      const pool = await engine.createPool({ name: 'lp', disk: 'malloc:///lpdisk?size_mb=64' });
      const lvol = await pool.createLvol({ name: 'v', sizeBytes: 4 * 1024 * 1024 });
      const doomed = await pool.createLvol({ name: 'd', sizeBytes: 4 * 1024 * 1024 });
      await doomed.destroy();
      expect(doomed.destroyed).toBe(true);
      await expect(doomed.resize(8 * 1024 * 1024)).rejects.toMatchObject({ code: 'DESTROYED', resource: 'lp/d', message: 'lvol lp/d was destroyed' });
      await expect(doomed.bdev.read(0, 4096)).rejects.toMatchObject({ code: 'DESTROYED', resource: 'lp/d' });

      await pool.export();
      expect(pool.status).toBe('closed');
      await expect(pool.createLvol({ name: 'w', sizeBytes: 4096 * 256 })).rejects.toMatchObject({ code: 'DESTROYED', message: 'pool lp was exported' });
      await expect(lvol.snapshot('s')).rejects.toMatchObject({ code: 'DESTROYED', message: 'lvol lp/v was exported' });
      await expect(lvol.bdev.read(0, 4096)).rejects.toMatchObject({ code: 'DESTROYED', message: 'bdev lp/v was exported' });
      expect(lvol.bdev.health).toEqual({ state: 'destroyed', reason: null });

      const nexus = await engine.createNexus({ name: 'nx', children: ['malloc:///c0?size_mb=8', 'malloc:///c1?size_mb=8'] });
      await nexus.destroy();
      expect(nexus.status).toBe('closed');
      await expect(nexus.addChild('malloc:///c2?size_mb=8')).rejects.toMatchObject({ code: 'DESTROYED', message: 'nexus nx was destroyed' });
      await expect(nexus.bdev.read(0, 4096)).rejects.toMatchObject({ code: 'DESTROYED', resource: 'nx' });
    } finally {
      await engine.stop();
    }
  });

  it('destroying a bdev someone else has open is refused with EBUSY and leaves the handle working', async () => {
    const engine = await Engine.start({ memoryMb: 64, hugepages: 'off' });
    try {
      const bdev = await engine.createBdev('malloc:///busy?size_mb=4');
      const data = patternBytes(4096, 5);
      await bdev.write(0, data);
      // A native benchmark holds its own descriptor on the bdev while it runs.
      const running = engine.bench({ bdev, workload: 'randread', blockSize: 4096, queueDepth: 4, seconds: 1 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (let attempt = 0; attempt < 2; attempt++) {
        await expect(bdev.destroy()).rejects.toMatchObject({ code: 'EBUSY', resource: 'busy' });
        expect(bdev.status).toBe('open');
        expect((await bdev.read(0, 4096)).equals(data)).toBe(true);
      }
      expect((await running).errors).toBe(0);
      await bdev.destroy();
      expect(bdev.status).toBe('closed');
      expect(engine.getBdev('busy')).toBeUndefined();
    } finally {
      await engine.stop();
    }
  });

  it('supports await using (Symbol.asyncDispose)', async () => {
    let captured: Engine | undefined;
    {
      const engine = await Engine.start({ memoryMb: 16, hugepages: 'off' });
      captured = engine;
      await engine[Symbol.asyncDispose]();
    }
    expect(captured.status).toBe('closed');
  });

  it('a script that never calls stop exits by itself, cleanly', () => {
    const result = spawnSync(process.execPath, [fixture('no-stop.mjs')], { encoding: 'utf8', timeout: 30_000 });
    expect(result.signal).toBeNull();
    expect(result.stderr).not.toMatch(/Sanitizer|Segmentation|Aborted/);
    expect(result.stdout).toContain('verified 64 blocks; exiting without stop');
    expect(result.status).toBe(0);
  });

  it('process.exit with I/O in flight does not crash', () => {
    const result = spawnSync(process.execPath, [fixture('exit-mid-io.mjs')], { encoding: 'utf8', timeout: 30_000 });
    expect(result.signal).toBeNull();
    expect(result.stdout).toContain('exiting with I/O in flight');
    expect(result.status).toBe(0);
  });
});
