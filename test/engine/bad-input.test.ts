import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type Bdev } from '../../src/index.js';

let engine: Engine;
let bdev: Bdev;

beforeAll(async () => {
  engine = await Engine.start({ memoryMb: 64, hugepages: 'off' });
  bdev = await engine.createBdev('malloc:///m0?size_mb=1&blk_size=4096');
});
afterAll(async () => {
  await engine.stop();
});

describe('bad bdev URIs are coded errors naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['m0', /expected scheme:\/\//],
    ['floppy:///f0?size_mb=1', /unsupported URI scheme 'floppy'/],
    ['malloc:///x?size_mb=1&colour=red', /unknown parameter 'colour'/],
    ['malloc:///x?size_mb=1&size_mb=2', /given twice/],
    ['malloc:///x?size_mb=abc', /size_mb='abc' is not a whole number/],
    ['malloc:///x?size_mb=-4', /not a whole number/],
    ['malloc:///x?size_mb=1.5', /not a whole number/],
    ['malloc:///x?size_mb=0', /out of range/],
    ['malloc:///x?num_blocks=0', /out of range/],
    ['malloc:///x?size_mb=1&num_blocks=8', /not both/],
    ['malloc:///x', /a size is required/],
    ['malloc:///x?blk_size=4096', /a size is required/],
    ['malloc:///x?size_mb=1&blk_size=1024', /blk_size must be 512 or 4096/],
    ['malloc:///x?size_mb=1&uuid=not-a-uuid', /is not a UUID/],
    ['malloc:///?size_mb=1', /bdev name is empty/],
    [`malloc:///${'a'.repeat(64)}?size_mb=1`, /longer than 63 bytes/],
    ['malloc:///a%20b?size_mb=1', /not allowed/],
    ['malloc://somehost/x?size_mb=1', /unexpected host/],
    ['malloc:///x?size_mb', /has no value/],
    ['null:///x?size_mb=1&extra=1', /unknown parameter 'extra'/],
  ];
  it.each(cases)('%s', async (uri, message) => {
    const error = await engine.createBdev(uri).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NodestorError', code: 'EINVAL', op: 'createBdev', resource: uri });
    expect((error as Error).message).toMatch(message);
  });

  it('a duplicate name is EEXIST and leaves the first bdev intact', async () => {
    await bdev.write(0, Buffer.alloc(4096, 9));
    await expect(engine.createBdev('null:///m0?size_mb=1')).rejects.toMatchObject({
      code: 'EEXIST',
      message: 'bdev m0 already exists',
    });
    expect((await bdev.read(0, 4096)).equals(Buffer.alloc(4096, 9))).toBe(true);
  });

  it('a malloc bdev larger than the DMA memory is ENOMEM naming the fix', async () => {
    await expect(engine.createBdev('malloc:///huge?size_mb=4096')).rejects.toMatchObject({
      code: 'ENOMEM',
      message: expect.stringMatching(/raise memoryMb/),
    });
    expect(engine.getBdev('huge')).toBeUndefined();
  });

  it('a non-string URI is a TypeError before any native call', async () => {
    await expect(engine.createBdev(42 as unknown as string)).rejects.toThrow(TypeError);
  });

  it('the error keeps the caller\'s stack', async () => {
    const error = (await engine.createBdev('bogus').catch((e: unknown) => e)) as Error;
    expect(error.stack).toContain('bad-input.test.ts');
  });
});

describe('bad I/O arguments', () => {
  it('unaligned offset or length is EINVAL', async () => {
    await expect(bdev.read(1, 4096)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/not aligned/) });
    await expect(bdev.read(0, 100)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(bdev.write(0, Buffer.alloc(100))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(bdev.unmap(512, 4096)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(bdev.writeZeroes(0, 2048)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('I/O beyond the end is EINVAL', async () => {
    await expect(bdev.read(bdev.sizeBytes, 4096)).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/beyond the end/),
    });
    await expect(bdev.write(bdev.sizeBytes - 4096, Buffer.alloc(8192))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(bdev.unmap(0, bdev.sizeBytes + 4096)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('wrong types and ranges are TypeError and RangeError', async () => {
    await expect(bdev.read(-4096, 4096)).rejects.toThrow(RangeError);
    await expect(bdev.read(0, 0)).rejects.toThrow(RangeError);
    await expect(bdev.read('0' as unknown as number, 4096)).rejects.toThrow(TypeError);
    await expect(bdev.read(0.5, 4096)).rejects.toThrow(TypeError);
    await expect(bdev.write(0, 'text' as unknown as Buffer)).rejects.toThrow(TypeError);
    await expect(bdev.readInto(0, [1, 2] as unknown as Uint8Array)).rejects.toThrow(TypeError);
    expect(() => engine.allocBuffer(0)).toThrow(RangeError);
    expect(() => engine.getBdev(7 as unknown as string)).toThrow(TypeError);
  });

  it('allocBuffer beyond the DMA memory is ENOMEM', () => {
    expect(() => engine.allocBuffer(1 << 30)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
  });

  it('the engine keeps serving after all of the above', async () => {
    await bdev.write(4096, Buffer.alloc(4096, 1));
    expect((await bdev.read(4096, 4096)).equals(Buffer.alloc(4096, 1))).toBe(true);
  });
});

describe('bad engine options', () => {
  it('are TypeError or RangeError naming the option', async () => {
    await expect(Engine.start({ cores: [] })).rejects.toThrow(/cores must name at least one core/);
    await expect(Engine.start({ cores: [-1] })).rejects.toThrow(RangeError);
    await expect(Engine.start({ cores: 'all' as unknown as number[] })).rejects.toThrow(TypeError);
    await expect(Engine.start({ memoryMb: 0 })).rejects.toThrow(/memoryMb/);
    await expect(Engine.start({ hugepages: 'sometimes' as 'auto' })).rejects.toThrow(RangeError);
    await expect(Engine.start({ idle: 1 as unknown as 'poll' })).rejects.toThrow(TypeError);
  });
});
