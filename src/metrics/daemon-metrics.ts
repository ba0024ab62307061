// The daemon's Prometheus metrics, read on scrape from the engine's statistics (nothing
// is counted per I/O in JavaScript): pools, replicas, volumes (nexuses: I/O, latency
// histograms, child states, rebuilds), bdev iostat, reactors, NVMe-oF and DMA memory.
// Names are nodestor_*, labelled by node, pool, volume and bdev.
import { Counter, Gauge, Registry } from 'prom-client';
import type { DaemonContext } from '../daemon/context.js';
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

export function daemonMetrics(ctx: DaemonContext): Registry {
  const registry = new Registry();
  const engine = ctx.engine;
  const node = ctx.node;
  const open = () => engine.status === 'open';
  const pools = async () => {
    if (!open()) return [];
    const list = engine.listPools();
    for (const p of list) await p.refresh().catch(() => undefined);
    return list;
  };
  const stats = () => (open() ? engine.stats() : {});

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

  const volumes = () => (open() ? engine.listNexuses() : []);
  const volumeStats = () => {
    const all = stats();
    return volumes().flatMap((n) => (all[n.bdev.name] ? [{ nexus: n, s: all[n.bdev.name]! }] : []));
  };
  for (const [type, dir] of [
    ['read', 'read'],
    ['write', 'write'],
  ] as const) {
    collected(registry, 'counter', `nodestor_volume_${dir}_ops_total`, `Volume ${dir} operations`, ['node', 'volume'], () =>
      volumeStats().map(({ nexus, s }) => [{ node, volume: nexus.name }, s.byType[type].ops]),
    );
    collected(registry, 'counter', `nodestor_volume_${dir}_bytes_total`, `Volume bytes ${dir === 'read' ? 'read' : 'written'}`, ['node', 'volume'], () =>
      volumeStats().map(({ nexus, s }) => [{ node, volume: nexus.name }, s.byType[type].bytes]),
    );
    registry.registerMetric(
      new EngineHistogram(`nodestor_volume_${dir}_latency_seconds`, `Volume ${dir} latency`, async () =>
        volumeStats().map(({ nexus, s }) => ({ labels: { node, volume: nexus.name }, stats: s.byType[type] })),
      ) as never,
    );
  }
  collected(registry, 'gauge', 'nodestor_volume_child_state', 'A volume child in this state (1)', ['node', 'volume', 'child', 'state'], () =>
    volumes().flatMap((n) => n.children.map((c) => [{ node, volume: n.name, child: c.uri, state: c.state === 'Open' ? (c.syncState === 'Synced' ? 'Online' : 'Degraded') : c.state }, 1] as [Labels, number])),
  );
  collected(registry, 'gauge', 'nodestor_volume_rebuild_progress_ratio', 'A running rebuild, 0..1', ['node', 'volume', 'child'], () =>
    volumes().flatMap((n) => n.children.filter((c) => c.rebuildProgress !== undefined).map((c) => [{ node, volume: n.name, child: c.uri }, c.rebuildProgress! / 100] as [Labels, number])),
  );
  collected(registry, 'counter', 'nodestor_volume_rebuilt_bytes_total', 'Bytes copied by ended rebuilds and the running ones', ['node', 'volume'], () =>
    volumes().map((n) => {
      const info = n.children.map((c) => n.rebuildStats(c.uri)).filter((r) => r !== undefined);
      return [{ node, volume: n.name }, info.reduce((sum, r) => sum + r!.bytesRebuilt, 0)];
    }),
  );

  for (const [field, what] of [
    ['ops', 'ops'],
    ['bytes', 'bytes'],
    ['errors', 'errors'],
  ] as const)
    collected(registry, 'counter', `nodestor_bdev_${what}_total`, `Bdev I/O ${what} by I/O type`, ['node', 'bdev', 'type'], () =>
      Object.entries(stats()).flatMap(([bdev, s]) => Object.entries(s.byType).map(([type, t]) => [{ node, bdev, type }, t[field]] as [Labels, number])),
    );

  const reactors = () => (open() ? engine.info().reactors : []);
  for (const [field, what, scale] of [
    ['busyNs', 'busy_seconds_total', 1e-9],
    ['idleNs', 'idle_seconds_total', 1e-9],
    ['sleeps', 'sleeps_total', 1],
  ] as const)
    collected(registry, 'counter', `nodestor_reactor_${what}`, `Reactor ${what.replace(/_total$/, '').replace('_', ' ')}`, ['node', 'core'], () =>
      reactors().map((r) => [{ node, core: String(r.core) }, r[field] * scale]),
    );
  const subsystems = async () => (open() ? engine.nvmf.listSubsystems() : []);
  collected(registry, 'gauge', 'nodestor_nvmf_controllers', 'NVMe-oF controllers (connected hosts) per subsystem', ['node', 'subsystem'], async () =>
    (await subsystems()).map((s) => [{ node, subsystem: s.nqn }, s.controllerList.length]),
  );
  collected(registry, 'gauge', 'nodestor_nvmf_io_queues', 'NVMe-oF I/O queue pairs per subsystem', ['node', 'subsystem'], async () =>
    (await subsystems()).map((s) => [{ node, subsystem: s.nqn }, s.controllerList.reduce((n, c) => n + c.ioQueues.length, 0)]),
  );
  collected(registry, 'counter', 'nodestor_nvmf_errors_total', 'NVMe-oF target connections ended by an error, by cause, and hosts refused', ['node', 'kind'], async () => {
    if (!open()) return [];
    const counts = await engine.nvmf.errorCounts();
    return (
      [
        ['protocol', counts.protocol],
        ['header_digest', counts.headerDigest],
        ['data_digest', counts.dataDigest],
        ['host_refused', counts.hostRefused],
      ] as const
    ).map(([kind, value]) => [{ node, kind }, value]);
  });
  collected(registry, 'gauge', 'nodestor_dma_reserved_bytes', 'DMA memory reserved at start', ['node'], () => (open() ? [[{ node }, engine.info().memory.reservedBytes]] : []));
  collected(registry, 'gauge', 'nodestor_dma_used_bytes', 'DMA memory in use', ['node'], () => (open() ? [[{ node }, engine.info().memory.usedBytes]] : []));
  return registry;
}
