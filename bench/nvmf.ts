// `npm run bench -- nvmf`: our NVMe/TCP target on one core (a separate process) and our
// host on the other, over loopback. engine.bench drives the nvmf:// bdev natively on the
// host's reactor: 4 KiB random read and write at QD 32 and 128 (IOPS, p99) and 128 KiB
// sequential read (MB/s), with digests off and on.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/index.js';
import { machine, publish } from './report.js';

export interface NvmfBenchOptions {
  seconds: number;
  targetCore: number;
  hostCore: number;
  out: string;
}

const NQN = 'nqn.2026-11.io.nodestor:bench';

export async function nvmfBench(o: NvmfBenchOptions): Promise<void> {
  const script = fileURLToPath(new URL('./nvmf-target.js', import.meta.url));  // compiled alongside this file
  const target = spawn(process.execPath, [script, '--core', String(o.targetCore), '--nqn', NQN], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: target.stdout! }), 'line')) as [string];
  const { port, hugepages: targetHugepages } = JSON.parse(line) as { port: number; hugepages: unknown };
  const engine = await Engine.start({ cores: [o.hostCore], memoryMb: 1024, hugepages: 'auto', idle: 'poll' });
  const hostHugepages = engine.info().memory.hugepages;
  const runs = [];
  try {
    for (const digests of [false, true]) {
      const query = digests ? '&hdgst=1&ddgst=1' : '';
      const bdev = await engine.createBdev(`nvmf://127.0.0.1:${port}/${NQN}?name=remote${digests ? 'd' : ''}${query}`);
      const cases = [
        { workload: 'randread', blockSize: 4096, queueDepth: 32 },
        { workload: 'randread', blockSize: 4096, queueDepth: 128 },
        { workload: 'randwrite', blockSize: 4096, queueDepth: 32 },
        { workload: 'randwrite', blockSize: 4096, queueDepth: 128 },
        { workload: 'read', blockSize: 131072, queueDepth: 16 },
      ] as const;
      for (const c of cases) {
        const r = await engine.bench({ bdev, ...c, seconds: o.seconds, cores: [o.hostCore] });
        const run = {
          digests,
          ...c,
          iops: r.iops,
          mbps: Math.round((r.iops * c.blockSize) / 1e6),
          p99Us: r.latencyUs.p99,
          errors: r.errors,
        };
        runs.push(run);
        process.stderr.write(
          `${digests ? 'digests' : 'plain  '} ${c.workload.padEnd(9)} ${String(c.blockSize).padStart(6)} QD${String(c.queueDepth).padEnd(3)} ` +
            `${r.iops.toLocaleString('en').padStart(9)} IOPS ${String(run.mbps).padStart(5)} MB/s p99 ${r.latencyUs.p99} us\n`,
        );
      }
      await bdev.destroy();
    }
  } finally {
    await engine.stop();
    target.stdin!.end();
    await once(target, 'exit');
  }
  const output = {
    date: new Date().toISOString(),
    benchmark: 'nvmf',
    setup: {
      machine: machine(),
      target: `separate process, engine on core ${o.targetCore}, poll mode, malloc 512 MiB namespace (4 KiB blocks)`,
      host: `engine on core ${o.hostCore}, poll mode, one I/O queue, engine.bench on the nvmf:// bdev`,
      transport: 'NVMe/TCP over loopback (127.0.0.1)',
      secondsPerRun: o.seconds,
      hugepages: { target: targetHugepages, host: hostHugepages },
    },
    runs,
  };
  publish(o.out, 'nvmf', output);
}
