// `npm run bench -- rpc`: JSON-RPC calls per second and latency from one client connection
// to a `nodestor daemon` process over its Unix socket, one call at a time and pipelined 32
// deep: spdk_get_version (a simple call), bdev_get_bdevs with 100 bdevs, and
// bdev_lvol_create + bdev_lvol_delete cycles. The daemon logs every call (level info, to
// /dev/null here), as it does in production.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../src/rpc/client.js';
import { machine, publish } from './report.js';

export interface RpcBenchOptions {
  calls: number;
  cycles: number;
  core: number;
  out: string;
}

interface Run {
  name: string;
  depth: number;
  calls: number;
  callsPerSec: number;
  p50Us: number;
  p99Us: number;
}

async function measure(name: string, depth: number, count: number, one: (i: number) => Promise<unknown>): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      await one(i);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
  return { name, depth, calls: count, callsPerSec: Math.round(count / seconds), p50Us: at(0.5), p99Us: at(0.99) };
}

export async function rpcBench(options: RpcBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nodestor-rpc-bench-'));
  const socket = join(dir, 'rpc.sock');
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const daemon = spawn(
    process.execPath,
    [cli, 'daemon', '--node', 'bench', '--cores', String(options.core), '--memory-mb', '512', '--hugepages', 'auto', '--idle', 'adaptive', '--rpc', socket, '--data-dir', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    daemon.stderr!.on('data', (chunk: Buffer) => {
      if (log.length < 1e5) log += chunk.toString(); // keep only the start-up lines
      if (log.includes('"msg":"daemon ready"')) resolve();
    });
    daemon.once('exit', (code) => reject(new Error(`daemon exited (${code}):\n${log}`)));
  });
  await ready;
  const client = await RpcClient.connect({ socketPath: socket });
  const runs: Run[] = [];
  try {
    for (let i = 0; i < 100; i++) await client.call('bdev_malloc_create', { name: `M${i}`, num_blocks: 256, block_size: 4096 });
    await client.call('bdev_malloc_create', { name: 'disk', num_blocks: 65536, block_size: 4096 });
    await client.call('bdev_lvol_create_lvstore', { bdev_name: 'disk', lvs_name: 'lvs' });
    for (const depth of [1, 32]) {
      runs.push(await measure('spdk_get_version', depth, options.calls, () => client.call('spdk_get_version')));
      runs.push(await measure('bdev_get_bdevs (100 bdevs)', depth, options.calls, () => client.call('bdev_get_bdevs')));
      // A cycle is a create and then a delete of the same lvol; `depth` cycles run at once.
      const cycle = await measure('bdev_lvol_create + bdev_lvol_delete (cycle)', depth, options.cycles, async (i) => {
        const uuid = await client.call<string>('bdev_lvol_create', { lvol_name: `v${depth}-${i}`, size_in_mib: 4, lvs_name: 'lvs', thin_provision: true });
        await client.call('bdev_lvol_delete', { name: uuid });
      });
      runs.push(cycle);
    }
  } finally {
    client.close();
    daemon.kill('SIGTERM');
    await new Promise((resolve) => daemon.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
  const output = {
    benchmark: 'rpc',
    setup: `one client connection (this process, not pinned) to a nodestor daemon process (reactor on core ${options.core}, idle adaptive, 512 MiB DMA) over its Unix socket; the daemon logs every call (pino, info, to /dev/null); 100 malloc bdevs of 1 MiB; lvols thin, 4 MiB, in a pool on a 256 MiB malloc bdev`,
    machine: machine(),
    date: new Date().toISOString(),
    runs,
  };
  publish(options.out, 'rpc', output);
}
