// The daemon's Prometheus metrics, read on scrape from the engine's statistics (nothing
// is counted per I/O in JavaScript): pools, replicas, volumes (nexuses: I/O, latency
// histograms, child states, rebuilds), bdev iostat, reactors, NVMe-oF and DMA memory.
// Names are nodestor_*, labelled by node, pool, volume and bdev.
import { Counter, Gauge, Registry } from 'prom-client';
import type { DaemonContext } from '../daemon/context.js';
import { IO_TYPE_NAMES, type BdevIoCounts } from '../bdev/stats.js';
import { escapeLabelValue, familyHeader } from './exposition.js';
import { EngineHistogram } from './histogram.js';

type Labels = Record<string, string>;

/** A gauge or counter whose values are all set at collect time. */
function collected<T extends 'gauge' | 'counter'>(
  registry: Registry,
  kind: T,
  name: string,
  help: string,
  labelNames: string[],
  values: () => Promise<[Labels, number][]> | [Labels, number][],
): void {
  const options = {
    name,
    help,
    labelNames,
    registers: [registry],
    async collect(this: Gauge | Counter) {
      this.reset();
      for (const [labels, value] of await values()) {
        if (this instanceof Gauge) this.set(labels, value);
        else this.inc(labels, value); // the engine's running total: reset, then the whole of it
      }
    },
  };
  if (kind === 'gauge') new Gauge(options);
  else new Counter(options);
}

/** What one scrape reads from the engine, once, whichever metrics ask for it. */
async function readEngine(ctx: DaemonContext) {
  const engine = ctx.engine;
  if (engine.status !== 'open') return undefined;
  const pools = engine.listPools();
  for (const p of pools) await p.refresh().catch(() => undefined);
  const info = engine.info();
  const volumes = engine.listNexuses();
  return {
    pools,
    volumes,
    volumeStats: volumes.map((nexus) => ({ nexus, s: nexus.bdev.stats() })),
    ioCounts: engine.ioCounts(),
    reactors: info.reactors,
    memory: info.memory,
    subsystems: await engine.nvmf.listSubsystems(),
    nvmfErrors: await engine.nvmf.errorCounts(),
  };
}
type EngineReading = NonNullable<Awaited<ReturnType<typeof readEngine>>>;

/**
 * One reading per scrape: prom-client starts every metric's collect() in the same tick,
 * so the first one reads the engine and the others share its promise until it settles.
 */
function sharedReading(ctx: DaemonContext): () => Promise<EngineReading | undefined> {
  let pending: Promise<EngineReading | undefined> | undefined;
  return () => {
    if (!pending) {
      pending = readEngine(ctx);
      const clear = () => setImmediate(() => (pending = undefined));
      pending.then(clear, clear);
    }
    return pending;
  };
}

/**
 * The bdev iostat families (a sample per bdev and I/O type: 18,000 for 1,000 bdevs),
 * written as strings in one pass, each bdev's label text escaped once.
 */
function renderBdevCounts(node: string, counts: BdevIoCounts[]): string {
  const fields = ['ops', 'bytes', 'errors'] as const;
  const text = fields.map((field) => familyHeader(`nodestor_bdev_${field}_total`, `Bdev I/O ${field} by I/O type`, 'counter'));
  const nodeLabel = escapeLabelValue(node);
  for (const { bdev, byType } of counts) {
    const labels = `{node="${nodeLabel}",bdev="${escapeLabelValue(bdev)}",type="`;
    for (const type of IO_TYPE_NAMES) {
      const t = byType[type];
      text[0] += `nodestor_bdev_ops_total${labels}${type}"} ${t.ops}\n`;
      text[1] += `nodestor_bdev_bytes_total${labels}${type}"} ${t.bytes}\n`;
      text[2] += `nodestor_bdev_errors_total${labels}${type}"} ${t.errors}\n`;
    }
  }
  return text.join('\n');
}

export interface DaemonMetrics {
  registry: Registry;
  /** The whole exposition: the registry's families and the bdev iostat ones. */
  render(): Promise<string>;
}

export function daemonMetrics(ctx: DaemonContext): DaemonMetrics {
  const registry = new Registry();
  const node = ctx.node;
  const reading = sharedReading(ctx);
  const from = <T>(pick: (r: EngineReading) => T[]) => async (): Promise<T[]> => {
    const r = await reading();
    return r ? pick(r) : [];
  };
  const pools = from((r) => r.pools);

  for (const [field, what] of [
    ['totalBytes', 'total'],
    ['usedBytes', 'used'],
    ['committedBytes', 'committed'],
  ] as const)
    collected(registry, 'gauge', `nodestor_pool_${what}_size_bytes`, `Pool ${what} size in bytes`, ['node', 'pool'], async () =>
      (await pools()).map((p) => [{ node, pool: p.name }, p[field]]),
    );
  collected(registry, 'gauge', 'nodestor_pool_online', 'Whether the pool is open (1) or not (0)', ['node', 'pool'], async () =>
    (await pools()).map((p) => [{ node, pool: p.name }, p.status === 'open' ? 1 : 0]),
  );
  collected(registry, 'gauge', 'nodestor_replica_size_bytes', 'Replica (lvol) size in bytes', ['node', 'pool', 'replica'], async () =>
    (await pools()).flatMap((p) => p.lvolsNow().map((l) => [{ node, pool: p.name, replica: l.uuid }, l.sizeBytes] as [Labels, number])),
  );
  collected(registry, 'gauge', 'nodestor_replica_allocated_bytes', 'Replica (lvol) allocated bytes', ['node', 'pool', 'replica'], async () =>
    (await pools()).flatMap((p) => p.lvolsNow().map((l) => [{ node, pool: p.name, replica: l.uuid }, l.allocatedBytes] as [Labels, number])),
  );

  const volumes = from((r) => r.volumes);
  const volumeStats = from((r) => r.volumeStats);
  for (const [type, dir] of [
    ['read', 'read'],
    ['write', 'write'],
  ] as const) {
    collected(registry, 'counter', `nodestor_volume_${dir}_ops_total`, `Volume ${dir} operations`, ['node', 'volume'], async () =>
      (await volumeStats()).map(({ nexus, s }) => [{ node, volume: nexus.name }, s.byType[type].ops]),
    );
    collected(registry, 'counter', `nodestor_volume_${dir}_bytes_total`, `Volume bytes ${dir === 'read' ? 'read' : 'written'}`, ['node', 'volume'], async () =>
      (await volumeStats()).map(({ nexus, s }) => [{ node, volume: nexus.name }, s.byType[type].bytes]),
    );
    registry.registerMetric(
      new EngineHistogram(`nodestor_volume_${dir}_latency_seconds`, `Volume ${dir} latency`, async () =>
        (await volumeStats()).map(({ nexus, s }) => ({ labels: { node, volume: nexus.name }, stats: s.byType[type] })),
      ) as never,
    );
  }
  collected(registry, 'gauge', 'nodestor_volume_child_state', 'A volume child in this state (1)', ['node', 'volume', 'child', 'state'], async () =>
    (await volumes()).flatMap((n) => n.children.map((c) => [{ node, volume: n.name, child: c.uri, state: c.state === 'Open' ? (c.syncState === 'Synced' ? 'Online' : 'Degraded') : c.state }, 1] as [Labels, number])),
  );
  collected(registry, 'gauge', 'nodestor_volume_rebuild_progress_ratio', 'A running rebuild, 0..1', ['node', 'volume', 'child'], async () =>
    (await volumes()).flatMap((n) => n.children.filter((c) => c.rebuildProgress !== undefined).map((c) => [{ node, volume: n.name, child: c.uri }, c.rebuildProgress! / 100] as [Labels, number])),
  );
  collected(registry, 'counter', 'nodestor_volume_rebuilt_bytes_total', 'Bytes copied by ended rebuilds and the running ones', ['node', 'volume'], async () =>
    (await volumes()).map((n) => {
      const info = n.children.map((c) => n.rebuildStats(c.uri)).filter((r) => r !== undefined);
      return [{ node, volume: n.name }, info.reduce((sum, r) => sum + r!.bytesRebuilt, 0)];
    }),
  );


  const reactors = from((r) => r.reactors);
  for (const [field, what, scale] of [
    ['busyNs', 'busy_seconds_total', 1e-9],
    ['idleNs', 'idle_seconds_total', 1e-9],
    ['sleeps', 'sleeps_total', 1],
  ] as const)
    collected(registry, 'counter', `nodestor_reactor_${what}`, `Reactor ${what.replace(/_total$/, '').replace('_', ' ')}`, ['node', 'core'], async () =>
      (await reactors()).map((r) => [{ node, core: String(r.core) }, r[field] * scale]),
    );
  const subsystems = from((r) => r.subsystems);
  collected(registry, 'gauge', 'nodestor_nvmf_controllers', 'NVMe-oF controllers (connected hosts) per subsystem', ['node', 'subsystem'], async () =>
    (await subsystems()).map((s) => [{ node, subsystem: s.nqn }, s.controllerList.length]),
  );
  collected(registry, 'gauge', 'nodestor_nvmf_io_queues', 'NVMe-oF I/O queue pairs per subsystem', ['node', 'subsystem'], async () =>
    (await subsystems()).map((s) => [{ node, subsystem: s.nqn }, s.controllerList.reduce((n, c) => n + c.ioQueues.length, 0)]),
  );
  collected(registry, 'counter', 'nodestor_nvmf_errors_total', 'NVMe-oF target connections ended by an error, by cause, and hosts refused', ['node', 'kind'], async () =>
    (await from((r) => [r.nvmfErrors])()).flatMap((counts) =>
      (
        [
          ['protocol', counts.protocol],
          ['header_digest', counts.headerDigest],
          ['data_digest', counts.dataDigest],
          ['host_refused', counts.hostRefused],
        ] as const
      ).map(([kind, value]) => [{ node, kind }, value] as [Labels, number]),
    ),
  );
  const memory = from((r) => [r.memory]);
  collected(registry, 'gauge', 'nodestor_dma_reserved_bytes', 'DMA memory reserved at start', ['node'], async () => (await memory()).map((m) => [{ node }, m.reservedBytes]));
  collected(registry, 'gauge', 'nodestor_dma_used_bytes', 'DMA memory in use', ['node'], async () => (await memory()).map((m) => [{ node }, m.usedBytes]));
  return {
    registry,
    async render() {
      const [families, r] = await Promise.all([registry.metrics(), reading()]);
      return r ? `${families}\n${renderBdevCounts(node, r.ioCounts)}` : families;
    },
  };
}
