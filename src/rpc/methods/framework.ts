// SPDK's framework methods (version, methods, reactors, subsystems and their config), the
// tunables an SPDK config carries (accepted; applied where they mean something here, else
// named in a warning), and nodestor's node_info and events_subscribe.
import { CONFIG_SUBSYSTEMS, configOf } from '../../daemon/config.js';
import type { DaemonContext, DaemonEvent } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import { invalidParams, RpcCode, RpcError } from '../protocol.js';
import type { MethodRegistry } from '../registry.js';
import { NO_PARAMS, type ObjectSchema } from '../schema.js';

const VERSION = { major: 24, minor: 1, patch: 0 };
const open: ObjectSchema = { type: 'object', properties: {}, open: true };

/** Tunables with no meaning here: accepted, and each named in a warning. */
const NO_MEANING = [
  'framework_set_scheduler',
  'sock_impl_set_options',
  'iobuf_set_options',
  'accel_set_options',
  'bdev_set_options',
  'bdev_raid_set_options',
  'bdev_nvme_set_hotplug',
  'nvmf_set_config',
  'nvmf_set_crdt',
] as const;

export function registerFrameworkMethods(registry: MethodRegistry, ctx: DaemonContext, version: string): void {
  registry.register('spdk_get_version', NO_PARAMS, () => ({
    version: `nodestor v${version} (SPDK v${VERSION.major}.${String(VERSION.minor).padStart(2, '0')} RPC)`,
    fields: { major: VERSION.major, minor: VERSION.minor, patch: VERSION.patch, suffix: `-nodestor-${version}` },
  }));
  registry.register<{ current?: boolean; include_aliases?: boolean }>(
    'rpc_get_methods',
    { type: 'object', properties: { current: { type: 'boolean' }, include_aliases: { type: 'boolean' } } },
    () => registry.names(),
  );
  registry.register('framework_get_reactors', NO_PARAMS, () => {
    const info = ctx.engine.info();
    return {
      tick_rate: 1_000_000_000,
      pid: process.pid,
      reactors: info.reactors.map((r) => ({
        lcore: r.core,
        busy: r.busyNs,
        idle: r.idleNs,
        in_interrupt: r.idle === 'adaptive',
        sleeps: r.sleeps,
        lw_threads: Array.from({ length: r.threads }, (_, i) => ({ name: `reactor_${r.core}_${i}`, id: i, cpumask: (1n << BigInt(r.core)).toString(16) })),
      })),
    };
  });
  registry.register('framework_get_subsystems', NO_PARAMS, () => CONFIG_SUBSYSTEMS);
  registry.register<{ name: string }>('framework_get_config', { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] }, async (p) => {
    const calls = await configOf(ctx, p.name);
    if (!calls) throw invalidParams(`no subsystem named ${p.name}`, { code: 'ENOENT' });
    return calls;
  });

  for (const method of NO_MEANING) {
    registry.register(method, open, (params) => {
      ctx.log.warn({ method, params }, `${method}: accepted; it has no meaning in nodestor`);
      return true;
    });
  }
  registry.register<{ max_subsystems: number }>(
    'nvmf_set_max_subsystems',
    { type: 'object', properties: { max_subsystems: { type: 'integer', minimum: 1, maximum: 65535 } }, required: ['max_subsystems'] },
    (p) => {
      ctx.limits.maxSubsystems = p.max_subsystems;
      return true;
    },
  );
  registry.register<Record<string, unknown>>('bdev_nvme_set_options', open, (p) => {
    const applied: string[] = [];
    if (typeof p.ctrlr_loss_timeout_sec === 'number' && p.ctrlr_loss_timeout_sec > 0) {
      ctx.limits.nvmeCtrlrLossTimeoutSec = p.ctrlr_loss_timeout_sec;
      applied.push('ctrlr_loss_timeout_sec');
    }
    if (typeof p.reconnect_delay_sec === 'number' && p.reconnect_delay_sec > 0) {
      ctx.limits.nvmeReconnectDelaySec = p.reconnect_delay_sec;
      applied.push('reconnect_delay_sec');
    }
    const ignored = Object.keys(p).filter((k) => !applied.includes(k));
    if (ignored.length) ctx.log.warn({ method: 'bdev_nvme_set_options', ignored }, 'bdev_nvme_set_options: these options have no meaning in nodestor');
    return true;
  });
  // SPDK finds lvol stores by examining bdevs: import the pool on every bdev that holds one.
  registry.register('bdev_wait_for_examine', NO_PARAMS, async () => {
    for (const d of await ctx.engine.describeBdevs()) {
      const bdev = ctx.engine.getBdev(d.name);
      if (!bdev || d.claimedBy || d.belongsTo || bdev.module === 'nexus' || bdev.module === 'lvol') continue;
      try {
        const pool = await ctx.engine.importPool({ disk: `bdev:///${d.name}` });
        ctx.poolDisks.set(pool.name, `bdev:///${d.name}`);
        ctx.emit({ kind: 'pool.imported', pool: pool.name, disk: d.name, dirty: pool.importedDirty });
      } catch (error) {
        if ((error as NodestorError).code !== 'ENOENT') throw error;
      }
    }
    return true;
  });

  registry.register('node_info', NO_PARAMS, () => {
    const info = ctx.engine.info();
    return {
      node: ctx.node,
      version,
      pid: process.pid,
      uptime_ms: Date.now() - ctx.startedAt,
      replica_listener: ctx.replicaListener,
      host_nqn: ctx.engine.nvmf.hostNqn,
      reactors: info.reactors,
      memory: info.memory,
      pools: ctx.engine.listPools().length,
      nexuses: ctx.engine.listNexuses().length,
      bdevs: ctx.engine.listBdevs().length,
    };
  });
  registry.register('events_subscribe', NO_PARAMS, (_params, call) => {
    if (!call.notify || !call.onClose) throw new RpcError(RpcCode.invalidRequest, 'events_subscribe needs a connection to send events on');
    const notify = call.notify;
    const forward = (event: DaemonEvent) => notify('event', { node: ctx.node, time: new Date().toISOString(), ...event });
    ctx.events.on('event', forward);
    call.onClose(() => ctx.events.off('event', forward));
    return true;
  });
}
