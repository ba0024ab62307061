// `npm run soak -- --minutes N --seed S [--digests off] [--nodes 4] [--out DIR] [--faults KIND,...]`: the
// reliability campaign's soak (issue 20). A cluster of real daemons and a control plane on
// this machine, verified I/O from a host engine, faults chosen by the seed until the time
// is up. Prints a JSON summary, writes it with an HTML timeline and SVG charts, and exits
// 1 when any check failed.
import { parseArgs } from 'node:util';
import { machine, publish } from './report.js';
import { runSoak, timelineOf, type SoakResult } from './soak/campaign.js';
import { faultCatalogue } from './soak/faults.js';
import { timelineSvg } from './soak/timeline.js';
import { lineChart } from './svg.js';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summarize(result: SoakResult, options: { minutes: number; seed: number; digests: boolean; nodes: number }) {
  const byKind: Record<string, number> = {};
  const online: Record<string, number[]> = {};
  for (const f of result.faults) {
    byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
    (online[f.kind] ??= []).push(f.onlineMs);
  }
  const problems = result.faults.flatMap((f) => f.problems);
  const counts = result.workloads.map((w) => w.counts);
  const sum = (key: keyof (typeof counts)[number]) => counts.reduce((total, c) => total + c[key], 0);
  const rebuilds = [...result.rebuilds.values()];
  return {
    passed: problems.length === 0 && result.faults.length > 0,
    stopReason: result.stopReason,
    seed: options.seed,
    elapsedS: Math.round(result.elapsedS),
    faults: { injected: result.faults.length, byKind },
    writes: {
      acknowledged: sum('writesAcked'),
      /** Failed at the host: may or may not have landed; the model allows either. */
      failedOutcomeUnknown: sum('writesFailed'),
      lost: problems.filter((p) => p.includes('was acknowledged')).length,
    },
    reads: { checked: sum('reads'), failed: sum('readsFailed'), garbage: problems.filter((p) => p.includes('bytes no write produced')).length },
    replicaMismatches: problems.filter((p) => p.includes('differs between')).length,
    backToOnlineMs: Object.fromEntries(Object.entries(online).map(([kind, ms]) => [kind, { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99) }])),
    rebuilds: { count: rebuilds.length, completed: rebuilds.filter((r) => r.state === 'Completed').length, bytesRebuilt: rebuilds.reduce((total, r) => total + r.bytesRebuilt, 0) },
    corruption: options.digests
      ? { digests: 'on', bitsFlipped: result.faults.reduce((total, f) => total + (f.corruptedBytes ?? 0), 0), note: 'header and data digests on host and nexus children: every flipped bit is detected; the checks show none was stored or returned' }
      : { digests: 'off', bitsFlipped: 0, note: 'digests off: a flipped bit cannot be detected (it would be stored), so no corruption was injected' },
    problems: problems.slice(0, 50),
    faultLog: result.faults.map((f) => ({ at: Math.round(f.startS * 10) / 10, kind: f.kind, target: f.target, detail: f.detail, onlineMs: f.onlineMs, ok: f.ok })),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '3' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      digests: { type: 'string', default: 'on' },
      nodes: { type: 'string', default: '4' },
      out: { type: 'string', default: 'bench/results/soak' },
      'online-timeout-s': { type: 'string', default: '120' },
      faults: { type: 'string', default: '' },
    },
  });
  const minutes = Number(values.minutes);
  const seed = Number(values.seed);
  const nodes = Number(values.nodes);
  if (!(minutes > 0 && minutes <= 24 * 60) || !Number.isInteger(seed) || seed < 0 || !['on', 'off'].includes(values.digests!) || !(nodes >= 3 && nodes <= 6)) {
    process.stderr.write('usage: npm run soak -- --minutes N (0 < N <= 1440) --seed S (integer >= 0) [--digests on|off] [--nodes 3..6] [--out DIR] [--faults KIND,...]\n');
    process.exit(2);
  }
  const known = faultCatalogue({ digests: values.digests === 'on' }).map((f) => f.kind);
  const faultKinds = values.faults ? values.faults.split(',') : [];
  const unknown = faultKinds.filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    process.stderr.write(`soak: no fault kind ${unknown.join(', ')}; the kinds are ${known.join(', ')}\n`);
    process.exit(2);
  }
  const options = { minutes, seed, digests: values.digests === 'on', nodes, faultKinds };
  process.stderr.write(`soak: ${minutes} min, seed ${seed}, digests ${values.digests}, ${nodes} nodes\n`);
  const logsDir = `${values.out}/soak-logs-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const result = await runSoak({ ...options, onlineTimeoutMs: Number(values['online-timeout-s']) * 1000, logsDir, log: (line) => process.stderr.write(`${line}\n`) });
  const summary = summarize(result, options);
  const output = {
    benchmark: 'soak',
    date: new Date().toISOString(),
    machine: machine(),
    setup: `${nodes} nodestor daemon processes (idle adaptive, 160 MiB each, pools on error bdevs over sparse files, replica listeners behind fault proxies) and a control plane process (embedded store); 3 thin 16 MiB volumes (3, 2 and 2 replicas) published on node-0 and node-1; one host engine in this process doing verified 4 KiB I/O at QD 8 per volume through a proxy to each target. Reproduce: npm run soak -- --minutes ${minutes} --seed ${seed} --digests ${values.digests}${values.faults ? ` --faults ${values.faults}` : ''}`,
    ...summary,
  };
  // At most 40 points (the chart labels each x): the mean rate over each stretch.
  const stretch = Math.max(1, Math.ceil(result.throughput.length / 40));
  const points: [number, number][] = [];
  for (let i = 0; i < result.throughput.length; i += stretch) {
    const part = result.throughput.slice(i, i + stretch);
    points.push([part[0]![0], Math.round(part.reduce((t, [, n]) => t + n, 0) / part.length)]);
  }
  const throughput = lineChart('Verified I/O per second during the soak', 'second', 'I/O per second', [{ name: 'reads + writes', points }], `seed ${seed}`);
  publish(values.out!, 'soak', output, { timeline: timelineSvg(`Faults and recoveries (seed ${seed}, ${summary.faults.injected} faults)`, timelineOf(result), result.elapsedS), io: throughput });
  process.exit(summary.passed ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) void main().catch((error) => {
  process.stderr.write(`soak: ${(error as Error).stack}\n`);
  process.exit(70);
});
