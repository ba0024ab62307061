// `npm run bench -- dhchap [--trials 20] [--core 0]`: how long a DH-HMAC-CHAP handshake adds
// to an NVMe/TCP connection, for each DH group, one way and both ways. One engine on one
// core is the target and the host over loopback; each trial creates an nvmf bdev (TCP
// connect, IC exchange, Connect and authentication of the admin queue, the bring-up's
// admin commands) and destroys it; the first I/O queue's own authentication is not in it.
// The baseline is the same connection to a subsystem that does not authenticate.
import { Engine, formatDhchapSecret } from '../src/index.js';
import { machine, msStats, publish } from './report.js';
import { lineChart } from './svg.js';

export interface DhchapBenchOptions {
  trials: number;
  core: number;
  out: string;
}

const AUTH_NQN = 'nqn.2026-12.io.nodestor:bench-auth';
const OPEN_NQN = 'nqn.2026-12.io.nodestor:bench-open';
const HOST = 'nqn.2026-12.io.nodestor:bench-host';
const GROUPS = ['null', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'] as const;

const secret = (seed: number) => formatDhchapSecret(Buffer.from(Array.from({ length: 32 }, (_, i) => (seed * 29 + i * 3) & 0xff)));

export async function dhchapBench(o: DhchapBenchOptions): Promise<void> {
  const engine = await Engine.start({ cores: [o.core], memoryMb: 256, hugepages: 'auto', idle: 'poll' });
  const hostKey = secret(1);
  const ctrlKey = secret(2);
  const result: Record<string, unknown> = {};
  try {
    await engine.createBdev('malloc:///ba?size_mb=8');
    await engine.createBdev('malloc:///bo?size_mb=8');
    const ports: Record<string, number> = {};
    for (const [nqn, bdev] of [[AUTH_NQN, 'ba'], [OPEN_NQN, 'bo']] as const) {
      const sub = await engine.nvmf.createSubsystem({ nqn });
      await sub.addNamespace(bdev);
      ports[nqn] = (await sub.addListener({ port: 0 })).port;
    }
    await engine.nvmf.subsystem(OPEN_NQN).addHost(HOST);
    await engine.nvmf.subsystem(AUTH_NQN).addHost(HOST, { dhchapKey: hostKey, dhchapCtrlrKey: ctrlKey });
    const connectMs = async (nqn: string, extra: string): Promise<number[]> => {
      const times: number[] = [];
      for (let t = 0; t < o.trials; t++) {
        const started = process.hrtime.bigint();
        const bdev = await engine.createBdev(`nvmf://127.0.0.1:${ports[nqn]}/${nqn}?hostnqn=${HOST}&name=bench${t}&ctrl_loss_timeout_ms=0${extra}`);
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        await bdev.destroy();
      }
      return times;
    };
    const baseline = msStats(await connectMs(OPEN_NQN, ''));
    const oneWay: Record<string, ReturnType<typeof msStats>> = {};
    const bothWays: Record<string, ReturnType<typeof msStats>> = {};
    for (const group of GROUPS) {
      const common = `&dhchap_key=${hostKey}&dhchap_digests=sha256&dhchap_dhgroups=${group}`;
      oneWay[group] = msStats(await connectMs(AUTH_NQN, common));
      bothWays[group] = msStats(await connectMs(AUTH_NQN, `${common}&dhchap_ctrlr_key=${ctrlKey}`));
    }
    const added = (s: Record<string, ReturnType<typeof msStats>>) => Object.fromEntries(GROUPS.map((g) => [g, Math.round((s[g]!.medianMs - baseline.medianMs) * 10) / 10]));
    Object.assign(result, {
      baselineConnect: baseline,
      oneWay,
      bothWays,
      addedMedianMs: { oneWay: added(oneWay), bothWays: added(bothWays) },
    });
  } finally {
    await engine.stop();
  }
  const output = {
    benchmark: 'dhchap',
    date: new Date().toISOString(),
    machine: machine(),
    setup: `one engine on core ${o.core} (poll), target and host over loopback; per trial an nvmf bdev is created (TCP connect, IC, Connect, DH-HMAC-CHAP of the admin queue with SHA-256, bring-up) and destroyed; ${o.trials} trials per case; baseline: a subsystem without authentication; OpenSSL 3 (Debian)`,
    ...result,
  };
  const medians = (s: Record<string, { medianMs: number }>) => GROUPS.map((g, i) => [i, s[g]!.medianMs] as [number, number]);
  const chart = lineChart('NVMe/TCP connect with DH-HMAC-CHAP, by DH group', 'DH group: null, 2048, 3072, 4096, 6144, 8192', 'median connect (ms)', [
    { name: 'one way', points: medians(result.oneWay as Record<string, { medianMs: number }>) },
    { name: 'both ways', points: medians(result.bothWays as Record<string, { medianMs: number }>) },
    { name: 'no auth', points: GROUPS.map((_, i) => [i, (result.baselineConnect as { medianMs: number }).medianMs]) },
  ]);
  publish(o.out, 'dhchap', output, { '': chart });
}
