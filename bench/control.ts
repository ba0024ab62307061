// `npm run bench -- control`: the control plane's latencies with real daemon processes on
// loopback (every reactor adaptive, on core 0 by default; the control plane and the host
// engine in this process):
// - create + publish of a 3-replica volume on 3 nodes (the REST calls, from this process);
// - from a replica node's kill -9 to the volume Online again with a faulted-child wait of
//   0 (a new replica on a 4th node, fully rebuilt), under writes from a host engine;
// - one reconcile pass over 1,000 volumes (3 replicas each, thin, unpublished) on 3 nodes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ControlClient } from '../src/control/client.js';
import { ControlPlane } from '../src/control/control-plane.js';
import { Engine } from '../src/index.js';
import { freePort } from './processes.js';
import { machine, msStats, progressBar, publish } from './report.js';

export interface ControlBenchOptions {
  trials: number;
  volumes: number;
  core: number;
  out: string;
}

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const MiB = 1 << 20;

async function startNode(dir: string, name: string, url: string, core: number): Promise<ChildProcess> {
  const [replica, target] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [CLI, 'daemon', '--node', name, '--cores', String(core), '--memory-mb', '256', '--hugepages', 'auto', '--idle', 'adaptive', '--rpc', join(dir, `${name}.sock`), '--data-dir', join(dir, name),
      '--control', url, '--replica-listener', `127.0.0.1:${replica}`, '--target-port', String(target), '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setInterval(async () => {
      try {
        const nodes = await new ControlClient(url).request<{ name: string; status: string }[]>('GET', '/v0/nodes');
        if (nodes.some((n) => n.name === name && n.status === 'Online')) {
          clearInterval(timer);
          resolve();
        }
      } catch {
        /* not yet */
      }
    }, 50);
    child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`daemon ${name} exited (${code}): ${err}`));
    });
  });
  return child;
}


async function until(probe: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function controlBench(options: ControlBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nodestor-control-bench-'));
  const children: ChildProcess[] = [];
  const plane = await ControlPlane.start({
    store: `embedded:${join(dir, 'store')}`,
    listen: { host: '127.0.0.1', port: 0 },
    nodeTtlMs: 2_000,
    reconcileMs: 250,
    garbageGraceMs: 1_000,
    logger: pino({ level: 'warn' }, pino.destination('/dev/null')),
  });
  const api = new ControlClient(plane.url);
  let host: Engine | undefined;
  try {
    for (let i = 0; i < 4; i++) {
      const disk = join(dir, `node-${i}.img`);
      writeFileSync(disk, '');
      truncateSync(disk, 4096 * MiB); // sparse
      children.push(await startNode(dir, `node-${i}`, plane.url, options.core));
      await api.request('POST', `/v0/nodes/node-${i}/pools`, { name: 'pool', disk: `uring://${disk}` });
    }
    const volume = (name: string) => api.request<{ spec: { uuid: string; target?: { uri?: string } }; state: { status: string; replicas: { node: string }[] } }>('GET', `/v0/volumes/${name}`);

    // 1. create + publish, 3 replicas on 3 of the 4 nodes.
    const create: number[] = [];
    const createAndPublish: number[] = [];
    const trialsBar = progressBar(options.trials, 'create + publish');
    for (let t = 0; t < options.trials; t++) {
      const t0 = performance.now();
      await api.request('POST', '/v0/volumes', { name: `lat-${t}`, sizeBytes: 64 * MiB, replicas: 3 });
      const t1 = performance.now();
      await api.request('PUT', `/v0/volumes/lat-${t}/target`, {});
      const t2 = performance.now();
      create.push(t1 - t0);
      createAndPublish.push(t2 - t0);
      await api.request('DELETE', `/v0/volumes/lat-${t}`);
      trialsBar.step(`${Math.round(t2 - t0)} ms`);
    }
    trialsBar.stop();

    // 2. a replica node killed under writes; wait 0: replaced and rebuilt.
    await api.request('POST', '/v0/volumes', { name: 'heal', sizeBytes: 64 * MiB, replicas: 3, faultedChildWaitMs: 0 });
    const published = await api.request<{ spec: { target: { node: string; uri: string } } }>('PUT', '/v0/volumes/heal/target', { node: 'node-0' });
    host = await Engine.start({ cores: [options.core], memoryMb: 128, hugepages: 'auto', idle: 'adaptive' });
    const bdev = await host.createBdev(`${published.spec.target.uri}?name=heal`);
    const data = Buffer.alloc(64 * 1024, 0x5a);
    for (let off = 0; off < 64 * MiB; off += data.length) await bdev.write(off, data);
    let writing = true;
    const writer = (async () => {
      let off = 0;
      while (writing) {
        await bdev.write(off, data.subarray(0, 4096)).catch(() => undefined);
        off = (off + 4096) % (64 * MiB);
      }
    })();
    const victim = (await volume('heal')).state.replicas.map((r) => r.node).find((n) => n !== 'node-0')!;
    const victimIndex = Number(victim.slice('node-'.length));
    const k0 = performance.now();
    children[victimIndex]!.kill('SIGKILL');
    let degradedMs = 0;
    await until(async () => {
      const v = await volume('heal');
      if (!degradedMs && v.state.status !== 'Online') degradedMs = performance.now() - k0;
      return v.state.status === 'Online' && !v.state.replicas.some((r) => r.node === victim);
    }, 120_000);
    const healMs = performance.now() - k0;
    writing = false;
    await writer;
    await bdev.destroy();
    await api.request('DELETE', '/v0/volumes/heal');
    children[victimIndex] = await startNode(dir, victim, plane.url, options.core);

    // 3. one reconcile pass over N volumes.
    const made0 = performance.now();
    const volumesBar = progressBar(options.volumes, 'making volumes', { every: 100 });
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < options.volumes) {
          const i = next++;
          await api.request('POST', '/v0/volumes', { name: `many-${i}`, sizeBytes: 4 * MiB, replicas: 3, thin: true });
          volumesBar.step(`many-${i}`);
        }
      }),
    );
    volumesBar.stop();
    const madeMs = performance.now() - made0;
    const passes: number[] = [];
    for (let i = 0; i < 10; i++) {
      await plane.reconcileNow();
      passes.push(plane.runner.stats.lastMs);
    }
    const output = {
      benchmark: 'control',
      setup: `control plane in this process (embedded store, reconcile every 250 ms, node TTL 2 s); 4 nodestor daemon processes, reactor on core ${options.core}, idle adaptive, 256 MiB DMA, a pool on a 4 GiB sparse file each (uring); a host engine in this process on core ${options.core}; loopback. Create and publish: ${options.trials} volumes of 64 MiB, 3 replicas, one after another. Heal: 64 MiB volume on node-0, a replica node killed -9 under 4 KiB writes, faultedChildWaitMs 0, child URIs ctrl_loss_timeout_ms 3000. Reconcile: ${options.volumes} thin volumes of 4 MiB, 3 replicas each, unpublished; ten passes after they were made`,
      machine: machine(),
      date: new Date().toISOString(),
      createMs: msStats(create),
      createAndPublishMs: msStats(createAndPublish),
      heal: { degradedAfterMs: Math.round(degradedMs), onlineAfterMs: Math.round(healMs) },
      reconcile: { volumes: options.volumes, createdInMs: Math.round(madeMs), passMs: msStats(passes) },
    };
    publish(options.out, 'control', output);
  } finally {
    await host?.stop().catch(() => undefined);
    await plane.stop().catch(() => undefined);
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
