// Corrupted bytes on the wire between our NVMe/TCP host and target (the fault proxy flips
// one bit mid-transfer). With data digests on, the corruption is detected and never
// stored or returned: the write's blocks hold either the old or the new data, whole, and
// a read returns the stored bytes or fails. With digests off it cannot be detected: the
// flipped bit is stored (the campaign's summary says so).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../bench/fault-proxy.js';
import { Engine, type Bdev } from '../../src/index.js';

const NQN = 'nqn.2026-12.io.nodestor:corruption';
const SIZE = 64 * 1024;
let engine: Engine;
let disk: Bdev;
let proxy: FaultProxy;

beforeAll(async () => {
  engine = await Engine.start({ cores: [0], memoryMb: 128, hugepages: 'off', idle: 'adaptive' });
  disk = await engine.createBdev('malloc:///disk?size_mb=16&blk_size=4096');
  const sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
  await sub.addNamespace(disk.name);
  const { port } = await sub.addListener({ address: '127.0.0.1', port: 0 });
  proxy = await FaultProxy.start({ host: '127.0.0.1', port });
});
afterAll(async () => {
  await proxy?.stop();
  // Before the fix in Connection::close, this waited for ever: the corrupted write's
  // request, still awaiting its data, was never released.
  await engine?.stop();
});

const host = (digests: boolean, name: string) =>
  engine.createBdev(`nvmf://127.0.0.1:${proxy.port}/${NQN}?name=${name}&ctrl_loss_timeout_ms=5000&reconnect_delay_ms=50${digests ? '&hdgst=1&ddgst=1' : ''}`);

describe('corruption on the wire', () => {
  it('with digests: a corrupted write is detected and never stored, a corrupted read never returned', async () => {
    const before = await engine.nvmf.errorCounts();
    const oldData = randomBytes(SIZE);
    const newData = randomBytes(SIZE);
    await disk.write(0, oldData);
    const remote = await host(true, 'digests');
    // One bit flipped 30,000 bytes into what the host sends next: inside the write's data.
    proxy.corrupt('toTarget', 1, 30_000);
    const wrote = await remote.write(0, newData).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    expect(proxy.stats.corruptedBytes.toTarget).toBe(1);
    const stored = await disk.read(0, SIZE);
    // The blocks hold the old data or (a retry on a new connection) the new, never the flip.
    for (let block = 0; block < SIZE / 4096; block++) {
      const got = stored.subarray(block * 4096, (block + 1) * 4096);
      expect(got.equals(oldData.subarray(block * 4096, (block + 1) * 4096)) || got.equals(newData.subarray(block * 4096, (block + 1) * 4096)), `block ${block} (${wrote})`).toBe(true);
    }
    const after = await engine.nvmf.errorCounts();
    expect(after.dataDigest - before.dataDigest).toBe(1);

    // A read whose data is corrupted on its way back: it fails or returns what is stored.
    const truth = await disk.read(0, SIZE);
    proxy.corrupt('toClient', 1, 30_000);
    const read = await remote.read(0, SIZE).then(
      (data) => data,
      () => undefined,
    );
    expect(proxy.stats.corruptedBytes.toClient).toBe(1);
    if (read) expect(read.equals(truth)).toBe(true);
    await remote.destroy();
  });

  it('without digests the flipped bit is stored: it cannot be detected', async () => {
    const data = randomBytes(SIZE);
    const remote = await host(false, 'plain');
    const offset = 1 << 20;
    proxy.corrupt('toTarget', 1, 30_000);
    await remote.write(offset, data);
    const stored = await disk.read(offset, SIZE);
    const differing = [...stored].flatMap((b, i) => (b !== data[i] ? [i] : []));
    expect(differing).toHaveLength(1);
    expect(stored[differing[0]!]! ^ data[differing[0]!]!).toBe(0x10);
    await remote.destroy();
  });
});
