// One soak run: the cluster, volumes published through host-side proxies, verified I/O,
// then faults one after another until the time is up. After each fault: every volume
// Online again (timed), the I/O paused, each volume's replicas compared byte for byte, and
// every block read back against the model of acknowledged writes. The run stops at the
// first check that fails (what follows would only repeat it) and reports it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/index.js';
import { FaultProxy } from '../fault-proxy.js';
import { SoakCluster } from './cluster.js';
import { compareSettled, rebuildHistory, volumeView, waitOnline } from './checks.js';
import { faultCatalogue, type FaultContext, type Injected, type SoakVolume } from './faults.js';
import { Random } from './random.js';
import type { TimelineEntry } from './timeline.js';
import { VolumeWorkload } from './workload.js';

export interface SoakOptions {
  minutes: number;
  seed: number;
  digests: boolean;
  nodes: number;
  /** Only these kinds of fault (all when empty). */
  faultKinds?: string[];
  /** Each fault's recovery must end within this. */
  onlineTimeoutMs: number;
  /** Where the processes' logs are kept when a check fails. */
  logsDir: string;
  log: (line: string) => void;
}

export interface FaultRecord extends Injected {
  kind: string;
  startS: number;
  healedS: number;
  onlineS: number;
  onlineMs: number;
  ok: boolean;
  problems: string[];
}

export interface SoakResult {
  faults: FaultRecord[];
  workloads: VolumeWorkload[];
  rebuilds: Map<string, { bytesRebuilt: number; state: string }>;
  /** I/O acknowledged per second of the run, summed over the volumes. */
  throughput: [number, number][];
  elapsedS: number;
  stopReason: string;
}

// Three volumes; targets on node-0 and node-1, so node-2 and node-3 only hold replicas
// (the "replica daemon" faults' victims). No nexus holds a replica of its own volume (the
// node labels keep them apart): every child is remote, reached through a fault proxy, and
// can be read by the replica comparison while its nexus has it open.
const VOLUMES = [
  { name: 'vol-a', replicas: 3, publishOn: 'node-0', label: 'a' },
  { name: 'vol-b', replicas: 2, publishOn: 'node-0', label: 'b' },
  { name: 'vol-c', replicas: 2, publishOn: 'node-1', label: 'c' },
];
/** Node i's labels: the volumes whose replicas it may hold. */
function nodeLabels(nodes: number): Record<string, string>[] {
  return Array.from({ length: nodes }, (_, i) => {
    const labels: Record<string, string> = {};
    for (const v of VOLUMES) if (v.publishOn !== `node-${i}`) labels[`soak-${v.label}`] = 'yes';
    return labels;
  });
}
const VOLUME_BYTES = 16 << 20;
const HOST_NQN = 'nqn.2019-05.io.nodestor:soak-host';

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const schedule = new Random(options.seed);
  const ioRandom = schedule.fork();
  const workdir = mkdtempSync(join(tmpdir(), 'nodestor-soak-'));
  let cluster: SoakCluster | undefined;
  let host: Engine | undefined;
  const proxies: FaultProxy[] = [];
  const workloads: VolumeWorkload[] = [];
  const result: SoakResult = { faults: [], workloads, rebuilds: new Map(), throughput: [], elapsedS: 0, stopReason: 'time is up' };
  const t0 = Date.now();
  const seconds = () => (Date.now() - t0) / 1000;
  let sampler: NodeJS.Timeout | undefined;
  try {
    cluster = await SoakCluster.start(workdir, nodeLabels(options.nodes), { digests: options.digests });
    options.log(`cluster up: ${options.nodes} daemons and a control plane in ${workdir}`);
    host = await Engine.start({ memoryMb: 192, hugepages: 'off', idle: 'adaptive' });
    const volumes: SoakVolume[] = [];
    for (const v of VOLUMES) {
      await cluster.api.request('POST', '/v0/volumes', { name: v.name, sizeBytes: VOLUME_BYTES, replicas: v.replicas, thin: true, faultedChildWaitMs: 30_000, topology: { nodeLabels: { [`soak-${v.label}`]: 'yes' } } });
      const published = await cluster.api.request<{ spec: { target?: { uri?: string } } }>('PUT', `/v0/volumes/${v.name}/target`, { node: v.publishOn });
      const uri = new URL(published.spec.target!.uri!.replace(/^nvmf:/, 'http:'));
      const proxy = await FaultProxy.start({ host: uri.hostname, port: Number(uri.port) });
      proxies.push(proxy);
      const digests = options.digests ? '&hdgst=1&ddgst=1' : '';
      // The host rides out a restarted target: I/O waits while it reconnects, up to 2 minutes.
      const bdev = await host.createBdev(`nvmf://127.0.0.1:${proxy.port}${uri.pathname}?hostnqn=${encodeURIComponent(HOST_NQN)}${digests}&ctrl_loss_timeout_ms=120000&reconnect_delay_ms=250&name=host-${v.name}`);
      volumes.push({ name: v.name, targetNode: v.publishOn, hostProxy: proxy });
      workloads.push(new VolumeWorkload(v.name, bdev, ioRandom.fork(), 8));
    }
    const names = volumes.map((v) => v.name);
    await waitOnline(cluster, names, options.onlineTimeoutMs);
    for (const w of workloads) w.start();
    let lastAcked = 0;
    sampler = setInterval(() => {
      const acked = workloads.reduce((sum, w) => sum + w.counts.writesAcked + w.counts.reads, 0);
      result.throughput.push([Math.round(seconds()), acked - lastAcked]);
      lastAcked = acked;
    }, 1_000);

    const catalogue = faultCatalogue({ digests: options.digests }).filter((f) => !options.faultKinds?.length || options.faultKinds.includes(f.kind));
    const ctx: FaultContext = { cluster, volumes, random: schedule, digests: options.digests };
    const deadline = t0 + options.minutes * 60_000;
    while (Date.now() < deadline) {
      const fault = schedule.pick(catalogue);
      const startS = seconds();
      const record: FaultRecord = { kind: fault.kind, target: '', detail: '', startS, healedS: startS, onlineS: startS, onlineMs: 0, ok: false, problems: [] };
      result.faults.push(record);
      try {
        Object.assign(record, await fault.inject(ctx));
        record.healedS = seconds();
        await waitOnline(cluster, names, options.onlineTimeoutMs);
        // Online again with the I/O drained (draining can surface a latent fault), and the
        // replicas compared while nothing changes under the check.
        await Promise.all(workloads.map((w) => w.pause()));
        const settled = await compareSettled(cluster, host, names, options.onlineTimeoutMs);
        record.onlineS = (settled.onlineAt - t0) / 1000;
        record.onlineMs = Math.round((record.onlineS - record.healedS) * 1000);
        record.problems.push(...settled.problems);
        for (const w of workloads) record.problems.push(...(await w.verify()));
        for (const name of names) for (const h of await rebuildHistory(cluster, name)) result.rebuilds.set(h.key, h);
        for (const w of workloads) record.problems.push(...w.violations.splice(0));
      } catch (error) {
        record.problems.push(`${(error as Error).message}`);
        record.onlineS = seconds();
      }
      record.ok = record.problems.length === 0;
      options.log(`${record.startS.toFixed(1).padStart(7)} s  ${fault.kind.padEnd(24)} ${record.target}: ${record.detail}; Online after ${record.onlineMs} ms${record.ok ? '' : `; FAILED: ${record.problems.slice(0, 3).join('; ')}`}`);
      if (!record.ok) {
        result.stopReason = `the checks after fault ${result.faults.length} (${fault.kind}) failed`;
        break;
      }
      for (const w of workloads) w.start();
    }
    for (const w of workloads) await w.pause();
    // What the volumes hold at the end, once more, after the last fault's checks.
    for (const w of workloads) {
      const found = await w.verify();
      if (found.length > 0 && result.faults.at(-1)) {
        result.faults.at(-1)!.problems.push(...found);
        result.faults.at(-1)!.ok = false;
      }
    }
    for (const v of volumes) await volumeView(cluster, v.name); // the plane still answers
  } finally {
    clearInterval(sampler);
    result.elapsedS = seconds();
    for (const w of workloads) await w.pause().catch(() => undefined);
    for (const w of workloads) await w.bdev.destroy().catch(() => undefined);
    await host?.stop().catch(() => undefined);
    for (const p of proxies) await p.stop();
    const failed = result.faults.some((f) => !f.ok);
    await cluster?.stop(failed ? options.logsDir : undefined);
    if (failed) options.log(`the processes' logs are in ${options.logsDir}`);
  }
  return result;
}

export function timelineOf(result: SoakResult): TimelineEntry[] {
  return result.faults.map((f) => ({ kind: f.kind, startS: f.startS, healedS: f.healedS, onlineS: f.onlineS, ok: f.ok }));
}
