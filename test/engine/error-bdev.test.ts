import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { Engine, type Bdev } from '../../src/index.js';
import { patternBytes } from '../helpers/engine.js';

let engine: Engine;
let base: Bdev;
let err: Bdev;

beforeEach(async () => {
  engine = await Engine.start({ memoryMb: 64, hugepages: 'off' });
  base = await engine.createBdev('malloc:///base?size_mb=4&blk_size=4096');
  err = await engine.createBdev('error:///err?base=base');
  await err.write(0, patternBytes(4096 * 8, 1));
});
afterEach(async () => {
  await engine.stop();
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code: string }) => e.code,
  );

describe('error bdev', () => {
  it('passes I/O through to its base when nothing is injected', async () => {
    expect(err.module).toBe('error');
    expect(err.blockSize).toBe(4096);
    expect(err.numBlocks).toBe(base.numBlocks);
    expect((await base.read(0, 4096 * 8)).equals(patternBytes(4096 * 8, 1))).toBe(true);
    expect((await err.read(0, 4096 * 8)).equals(patternBytes(4096 * 8, 1))).toBe(true);
  });

  it('claims its base: the base cannot be destroyed or claimed again until the error bdev goes', async () => {
    await expect(base.destroy()).rejects.toMatchObject({ code: 'EBUSY', message: expect.stringMatching(/claimed by error bdev err/) });
    expect(base.status).toBe('open');
    await expect(engine.createBdev('error:///err2?base=base')).rejects.toMatchObject({ code: 'EBUSY' });
    await expect(base.write(0, Buffer.alloc(4096))).rejects.toMatchObject({ code: 'EPERM' }); // only through err
    expect((await base.read(0, 4096)).equals(patternBytes(4096 * 8, 1).subarray(0, 4096))).toBe(true);
    await err.destroy();
    await base.destroy();
    expect(engine.listBdevs()).toEqual([]);
  });

  it('fail: the given errno, only for the given I/O type, for `count` I/Os', async () => {
    err.injectError({ ioType: 'read', errno: 'ENOSPC', count: 3 });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await outcome(err.read(0, 4096)));
    expect(results).toEqual(['ENOSPC', 'ENOSPC', 'ENOSPC', 'ok', 'ok']);
    expect(await outcome(err.write(0, Buffer.alloc(4096)))).toBe('ok');
    err.injectError({ ioType: 'write', errno: 'ETIMEDOUT' });
    for (let i = 0; i < 4; i++) expect(await outcome(err.write(4096, Buffer.alloc(4096)))).toBe('ETIMEDOUT');
    expect(await outcome(err.read(0, 4096))).toBe('ok');
    err.injectError({ ioType: 'unmap', count: 1 });
    expect(await outcome(err.unmap(0, 4096))).toBe('EIO');
    expect(await outcome(err.unmap(0, 4096))).toBe('ok');
    err.injectError({ ioType: 'flush', count: 1 });
    expect(await outcome(err.flush())).toBe('EIO');
    expect(await outcome(err.flush())).toBe('ok');
    err.injectError({ ioType: 'all', count: 2 });
    expect([await outcome(err.read(0, 4096)), await outcome(err.write(0, Buffer.alloc(4096)))]).toEqual(['EIO', 'EIO']);
    // A failed write never reached the base.
    expect((await base.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
    err.clearInjectedErrors();
    expect(await outcome(err.write(0, Buffer.alloc(4096)))).toBe('ok');
    const stats = err.stats();
    expect(stats.byType.read.errors).toBe(4); // 3 ENOSPC + 1 from 'all'
    expect(stats.byType.write.errors).toBe(5);
    expect(stats.errors).toBe(4 + 5 + 1 + 1 + 0);
  });

  it('corrupt: reads return and writes store data with a flipped byte per block', async () => {
    const good = patternBytes(4096 * 2, 1);
    err.injectError({ ioType: 'read', mode: 'corrupt', count: 1 });
    const bad = await err.read(0, 8192);
    expect(bad.equals(good)).toBe(false);
    const differing = [...bad].filter((b, i) => b !== good[i]).length;
    expect(differing).toBe(2); // one byte per block
    expect((await err.read(0, 8192)).equals(good)).toBe(true); // count used up
    err.injectError({ ioType: 'write', mode: 'corrupt', count: 1 });
    const data = patternBytes(4096, 9);
    await err.write(4096 * 10, data);
    const stored = await base.read(4096 * 10, 4096);
    expect(stored.equals(data)).toBe(false);
    expect([...stored].filter((b, i) => b !== data[i]).length).toBe(1);
    expect(data.equals(patternBytes(4096, 9))).toBe(true); // the caller's buffer is untouched
  });

  it('gone: every I/O of every type fails with ENODEV until cleared', async () => {
    err.injectError({ ioType: 'read', mode: 'gone' });
    expect(await outcome(err.read(0, 4096))).toBe('ENODEV');
    expect(await outcome(err.write(0, Buffer.alloc(4096)))).toBe('ENODEV');
    expect(await outcome(err.flush())).toBe('ENODEV');
    expect(await outcome(err.writeZeroes(0, 4096))).toBe('ENODEV');
    err.clearInjectedErrors();
    expect((await err.read(0, 4096)).equals(patternBytes(4096 * 8, 1).subarray(0, 4096))).toBe(true);
  });

  it('delay: I/O succeeds after latencyUs; latency also delays a failure', async () => {
    err.injectError({ ioType: 'read', latencyUs: 30_000, count: 2 });
    let t0 = performance.now();
    expect((await err.read(0, 4096)).equals(patternBytes(4096 * 8, 1).subarray(0, 4096))).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    err.injectError({ ioType: 'write', errno: 'EIO', latencyUs: 20_000, count: 1 });
    t0 = performance.now();
    expect(await outcome(err.write(0, Buffer.alloc(4096)))).toBe('EIO');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(19);
    expect(err.stats().latency.read.max).toBeGreaterThanOrEqual(29_000);
  });

  it('bad injections and injections on other modules are refused', () => {
    expect(() => base.injectError({ ioType: 'read' })).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/not an error bdev/) }));
    expect(() => base.clearInjectedErrors()).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => err.injectError({ ioType: 'trim' as 'read' })).toThrow(RangeError);
    expect(() => err.injectError({ mode: 'explode' as 'fail' })).toThrow(RangeError);
    expect(() => err.injectError({ errno: 'EPERM' as 'EIO' })).toThrow(RangeError);
    expect(() => err.injectError({ count: -1 })).toThrow(RangeError);
    expect(() => err.injectError({ latencyUs: 1.5 })).toThrow(TypeError);
    expect(() => err.injectError(null as unknown as object)).toThrow(TypeError);
  });

  it('bad error bdev URIs', async () => {
    await expect(engine.createBdev('error:///e')).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/base=<bdev> is required/) });
    await expect(engine.createBdev('error:///e?base=nope')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(engine.createBdev('error:///e?base=base&x=1')).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/unknown parameter 'x'/) });
    await expect(engine.createBdev('error:///err?base=base')).rejects.toMatchObject({ code: 'EEXIST' });
  });
});
