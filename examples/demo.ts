// `npm run demo`: start an engine, create a malloc and a null bdev, write, read back and
// verify, print engine info and I/O statistics, stop.
import { Engine, type Bdev } from '../src/index.js';

function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return out;
}

async function exercise(bdev: Bdev, expectData: boolean): Promise<void> {
  const blocks = 256;
  const writes = [];
  for (let i = 0; i < blocks; i++) writes.push(bdev.write(i * 4096, pattern(4096, i)));
  await Promise.all(writes);
  const reads = await Promise.all(Array.from({ length: blocks }, (_, i) => bdev.read(i * 4096, 4096)));
  const zero = Buffer.alloc(4096);
  const bad = reads.filter((data, i) => !data.equals(expectData ? pattern(4096, i) : zero)).length;
  if (bad > 0) throw new Error(`${bdev.name}: ${bad} of ${blocks} blocks did not read back as expected`);
  console.log(
    `  ${bdev.name} (${bdev.module}, ${bdev.numBlocks} x ${bdev.blockSize} B, uuid ${bdev.uuid}): ` +
      `${blocks} blocks written and read back, ${expectData ? 'data identical' : 'zeroes as expected'}`,
  );
}

const engine = await Engine.start({ cores: [0], memoryMb: 256, hugepages: 'auto', idle: 'adaptive' });
try {
  console.log('nodestor engine started');
  const malloc = await engine.createBdev('malloc:///m0?size_mb=64&blk_size=4096');
  const nul = await engine.createBdev('null:///n0?size_mb=64&blk_size=4096');
  await exercise(malloc, true);
  await exercise(nul, false);

  const dma = engine.allocBuffer(1 << 20);
  dma.fill(0xab);
  await malloc.write(8 << 20, dma);
  const back = await malloc.readInto(8 << 20, engine.allocBuffer(1 << 20));
  if (!back.equals(dma)) throw new Error('zero-copy read-back differs');
  console.log('  1 MiB written and read back zero-copy from DMA buffers: identical');

  console.log('\nengine info:');
  console.log(JSON.stringify(engine.info(), null, 2));
  for (const bdev of engine.listBdevs()) {
    const s = bdev.stats();
    console.log(`\n${bdev.name} I/O stats:`);
    console.log(
      JSON.stringify(
        {
          readOps: s.readOps,
          writeOps: s.writeOps,
          bytesRead: s.bytesRead,
          bytesWritten: s.bytesWritten,
          errors: s.errors,
          latencyUs: s.latency,
        },
        null,
        2,
      ),
    );
  }
} finally {
  await engine.stop();
  console.log('\nengine stopped');
}
