// `npm run bench -- tls [--seconds 3] [--trials 3] [--cores 0,1]`: what TLS 1.3 costs the
// NVMe/TCP data path. Our target on one core (a separate process), our host on the other,
// over loopback, as `bench nvmf` runs them; in the same run and against the same target,
// three nvmf bdevs: plain text, TLS_AES_128_GCM_SHA256 (a 32-byte PSK) and
// TLS_AES_256_GCM_SHA384 (48 bytes). engine.bench drives each natively: 4 KiB random read
// at QD 32 (IOPS) and 128 KiB sequential read at QD 16 (MB/s). The ratios are TLS over
// plain, from the medians over trials; each trial starts a fresh target and host.
// Before the I/O runs, each trial also times `connects` bdev creations per mode (TCP
// connect, the TLS handshake, IC, Connect and bring-up of the admin queue): what TLS adds to
// a connection. The PSK handshake is psk_dhe_ke, OpenSSL's default (an X25519 exchange).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, generateTlsPsk } from '../src/index.js';
import { median, startServingProcess } from './processes.js';
import { machine, msStats, progressBar, publish } from './report.js';

export interface TlsBenchOptions {
  seconds: number;
  trials: number;
  connects: number;
  targetCore: number;
  hostCore: number;
  out: string;
}

const NQN = 'nqn.2026-12.io.nodestor:bench-tls';
const CASES = [
  { workload: 'randread', blockSize: 4096, queueDepth: 32 },
  { workload: 'read', blockSize: 131072, queueDepth: 16 },
] as const;
const MODES = [
  { mode: 'plain', host: 'nqn.2026-12.io.nodestor:bench-plain', pskLength: 0 },
  { mode: 'TLS_AES_128_GCM_SHA256', host: 'nqn.2026-12.io.nodestor:bench-tls128', pskLength: 32 },
  { mode: 'TLS_AES_256_GCM_SHA384', host: 'nqn.2026-12.io.nodestor:bench-tls256', pskLength: 48 },
] as const;

export async function tlsBench(o: TlsBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nds-bench-tls-'));
  const files = MODES.map(({ pskLength }, i) => {
    if (pskLength === 0) return '';
    const path = join(dir, `psk${i}`);
    writeFileSync(path, generateTlsPsk(pskLength), { mode: 0o600 });
    return path;
  });
  const tlsHosts = MODES.flatMap((m, i) => (m.pskLength ? [`${m.host}=${files[i]}`] : [])).join(',');
  // iops[mode][case] = one figure per trial
  const iops = MODES.map(() => CASES.map((): number[] => []));
  const connectMs = MODES.map((): number[] => []);
  const bar = progressBar(o.trials * MODES.length * CASES.length, 'tls');
  try {
    for (let trial = 0; trial < o.trials; ++trial) {
      const target = await startServingProcess<{ port: number }>('nvmf-target.js', ['--core', String(o.targetCore), '--nqn', NQN, '--tls-hosts', tlsHosts]);
      const engine = await Engine.start({ cores: [o.hostCore], memoryMb: 1024, hugepages: 'auto', idle: 'poll' });
      try {
        const uri = (m: number, name: string) =>
          `nvmf://127.0.0.1:${target.ready.port}/${NQN}?hostnqn=${MODES[m]!.host}&name=${name}&ctrl_loss_timeout_ms=0${files[m] ? `&psk=${files[m]}` : ''}`;
        for (let c = 0; c < o.connects; ++c) {
          for (const m of MODES.keys()) {
            const started = process.hrtime.bigint();
            const bdev = await engine.createBdev(uri(m, `c${trial}m${m}n${c}`));
            connectMs[m]!.push(Number(process.hrtime.bigint() - started) / 1e6);
            await bdev.destroy();
          }
        }
        for (const [m, mode] of MODES.entries()) {
          const bdev = await engine.createBdev(uri(m, `t${trial}m${m}`));
          for (const [i, c] of CASES.entries()) {
            const r = await engine.bench({ bdev, ...c, seconds: o.seconds, cores: [o.hostCore] });
            if (r.errors > 0) throw new Error(`${mode.mode} ${c.workload}: ${r.errors} I/O errors`);
            iops[m]![i]!.push(r.iops);
            bar.step(`trial ${trial + 1} ${mode.mode.padEnd(22)} ${c.workload.padEnd(8)} ${String(c.blockSize).padStart(6)} ${r.iops.toLocaleString('en').padStart(9)} IOPS ${String(Math.round((r.iops * c.blockSize) / 1e6)).padStart(5)} MB/s`);
          }
          await bdev.destroy();
        }
      } finally {
        await engine.stop();
        await target.stop();
      }
    }
  } finally {
    bar.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const runs = MODES.flatMap((mode, m) =>
    CASES.map((c, i) => {
      const trials = iops[m]![i]!;
      const med = median(trials);
      const plain = median(iops[0]![i]!);
      return { mode: mode.mode, ...c, iops: med, mbps: Math.round((med * c.blockSize) / 1e6), ratioToPlain: Math.round((med / plain) * 1000) / 1000, trials };
    }),
  );
  const output = {
    date: new Date().toISOString(),
    benchmark: 'tls',
    setup: {
      machine: machine(),
      target: `separate process per trial, engine on core ${o.targetCore}, poll mode, malloc 512 MiB namespace (4 KiB blocks)`,
      host: `engine on core ${o.hostCore}, poll mode, one I/O queue per bdev, engine.bench on the nvmf:// bdev`,
      transport: 'NVMe/TCP over loopback (127.0.0.1), no digests; TLS 1.3 with an external PSK (OpenSSL 3 libssl, Debian), user-space records',
      secondsPerRun: o.seconds,
      trials: o.trials,
      connectsPerModePerTrial: o.connects,
      figures: 'iops is the median over trials; ratioToPlain is that median over the plain-text median of the same case',
    },
    connect: Object.fromEntries(MODES.map((mode, m) => [mode.mode, msStats(connectMs[m]!)])),
    runs,
  };
  process.stderr.write(
    Object.entries(output.connect).map(([mode, s]) => `connect ${mode.padEnd(22)} median ${s.medianMs} ms p90 ${s.p90Ms} ms\n`).join('') +
    runs.map((r) => `median ${r.mode.padEnd(22)} ${r.workload.padEnd(8)} ${String(r.blockSize).padStart(6)} ${r.iops.toLocaleString('en').padStart(9)} IOPS ${String(r.mbps).padStart(5)} MB/s  x${r.ratioToPlain}\n`).join(''),
  );
  publish(o.out, 'tls', output);
}
