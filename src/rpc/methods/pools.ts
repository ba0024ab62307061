// nodestor's pool and replica methods, in Mayastor's words: a replica is an lvol shared
// over NVMe/TCP on the daemon's replica listener as nqn.2019-05.io.nodestor:<uuid>.
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import type { Lvol } from '../../lvol/lvol.js';
import type { Pool } from '../../lvol/pool.js';
import type { MethodRegistry } from '../registry.js';
import type { ObjectSchema } from '../schema.js';

export const REPLICA_NQN_PREFIX = 'nqn.2019-05.io.nodestor:';
const text = { type: 'string', minLength: 1, maxLength: 255 } as const;
const poolName = { type: 'string', minLength: 1, maxLength: 63 } as const;
const hosts = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 223 }, maxItems: 64 } as const;
const byUuid: ObjectSchema = { type: 'object', properties: { uuid: text }, required: ['uuid'] };

export function poolEntry(pool: Pool): Record<string, unknown> {
  return {
    name: pool.name,
    uuid: pool.uuid,
    disk: pool.disk,
    state: pool.status === 'open' ? 'online' : 'closed',
    cluster_size_bytes: pool.clusterSizeBytes,
    total_bytes: pool.totalBytes,
    used_bytes: pool.usedBytes,
    committed_bytes: pool.committedBytes,
    available_bytes: pool.availableBytes,
    imported_dirty: pool.importedDirty,
  };
}

function diskSpec(disk: string): string {
  return disk.includes('://') ? disk : `bdev:///${disk}`;
}

function requirePool(ctx: DaemonContext, name: string, op: string): Pool {
  const pool = ctx.engine.getPool(name);
  if (!pool) throw new NodestorError('ENOENT', `no pool named ${name}`, { op, resource: name, errno: -2 });
  return pool;
}

function requireReplica(ctx: DaemonContext, uuid: string, op: string): Lvol {
  const lvol = ctx.findLvol(uuid);
  if (!lvol) throw new NodestorError('ENOENT', `no replica ${uuid}`, { op, resource: uuid, errno: -2 });
  return lvol;
}

type Subsystems = Awaited<ReturnType<DaemonContext['engine']['nvmf']['listSubsystems']>>;

/** The replica's share, looked up in `subsystems` (listed once for many replicas) or afresh. */
async function shareOf(ctx: DaemonContext, lvol: Lvol, subsystems?: Map<string, Subsystems[number]>): Promise<{ uri: string; hosts: string[] } | undefined> {
  const nqn = REPLICA_NQN_PREFIX + lvol.uuid;
  const sub = subsystems ? subsystems.get(nqn) : (await ctx.engine.nvmf.listSubsystems()).find((s) => s.nqn === nqn);
  if (!sub || sub.listeners.length === 0) return undefined;
  // Replicas are shared only on the replica listener: peers reach it where it is advertised.
  const l = ctx.advertisedReplicaListener ?? sub.listeners[0]!;
  const host = l.address.includes(':') ? `[${l.address}]` : l.address;
  return { uri: `nvmf://${host}:${l.port}/${nqn}`, hosts: sub.hosts };
}

async function replicaEntry(ctx: DaemonContext, lvol: Lvol, subsystems?: Map<string, Subsystems[number]>): Promise<Record<string, unknown>> {
  const share = await shareOf(ctx, lvol, subsystems);
  return {
    uuid: lvol.uuid,
    name: lvol.name,
    pool: lvol.pool.name,
    size_bytes: lvol.sizeBytes,
    allocated_bytes: lvol.allocatedBytes,
    thin: lvol.thin,
    snapshot: lvol.readOnly,
    share: share ? 'nvmf' : 'none',
    uri: share?.uri ?? `bdev:///${lvol.bdev.name}`,
    allowed_hosts: share?.hosts ?? [],
  };
}

async function share(ctx: DaemonContext, lvol: Lvol, allowed: string[] | undefined): Promise<string> {
  const existing = await shareOf(ctx, lvol);
  if (existing) return existing.uri;
  const nqn = REPLICA_NQN_PREFIX + lvol.uuid;
  const subsystem = await ctx.engine.nvmf.createSubsystem({ nqn, allowAnyHost: !allowed?.length, hosts: allowed ?? [], model: 'nodestor replica' });
  try {
    await subsystem.addNamespace(lvol.bdev.name, { uuid: lvol.uuid });
    await subsystem.addListener(ctx.replicaListener);
  } catch (error) {
    await subsystem.destroy().catch(() => undefined);
    throw error;
  }
  return (await shareOf(ctx, lvol))!.uri;
}

async function unshare(ctx: DaemonContext, lvol: Lvol): Promise<void> {
  const nqn = REPLICA_NQN_PREFIX + lvol.uuid;
  if ((await ctx.engine.nvmf.listSubsystems()).some((s) => s.nqn === nqn)) await ctx.engine.nvmf.subsystem(nqn).destroy();
}

export function registerPoolMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<{ name: string; disk: string; cluster_size_bytes?: number }>(
    'pool_create',
    { type: 'object', properties: { name: poolName, disk: text, cluster_size_bytes: { type: 'integer', minimum: 1 } }, required: ['name', 'disk'] },
    async (p) => {
      const pool = await ctx.engine.createPool({ name: p.name, disk: diskSpec(p.disk), clusterSizeBytes: p.cluster_size_bytes });
      ctx.poolDisks.set(pool.name, diskSpec(p.disk));
      ctx.emit({ kind: 'pool.created', pool: pool.name, disk: p.disk });
      return poolEntry(pool);
    },
  );
  registry.register<{ disk: string }>('pool_import', { type: 'object', properties: { disk: text }, required: ['disk'] }, async (p) => {
    const pool = await ctx.engine.importPool({ disk: diskSpec(p.disk) });
    ctx.poolDisks.set(pool.name, diskSpec(p.disk));
    ctx.emit({ kind: 'pool.imported', pool: pool.name, disk: p.disk, dirty: pool.importedDirty });
    return poolEntry(pool);
  });
  for (const [method, verb] of [
    ['pool_export', 'exported'],
    ['pool_destroy', 'destroyed'],
  ] as const) {
    registry.register<{ name: string }>(method, { type: 'object', properties: { name: poolName }, required: ['name'] }, async (p) => {
      const pool = requirePool(ctx, p.name, method);
      for (const lvol of pool.lvolsNow()) await unshare(ctx, lvol);
      if (verb === 'exported') await pool.export();
      else await pool.destroy();
      ctx.poolDisks.delete(p.name);
      ctx.emit({ kind: `pool.${verb}`, pool: p.name });
      return true;
    });
  }
  registry.register<{ name?: string }>('pool_list', { type: 'object', properties: { name: poolName } }, async (p) => {
    const pools = p.name === undefined ? ctx.engine.listPools() : [requirePool(ctx, p.name, 'pool_list')];
    for (const pool of pools) await pool.refresh();
    return pools.map(poolEntry);
  });

  registry.register<{ pool: string; name: string; size_bytes: number; thin?: boolean; share?: boolean; allowed_hosts?: string[] }>(
    'replica_create',
    {
      type: 'object',
      properties: { pool: poolName, name: poolName, size_bytes: { type: 'integer', minimum: 1 }, thin: { type: 'boolean' }, share: { type: 'boolean' }, allowed_hosts: hosts },
      required: ['pool', 'name', 'size_bytes'],
    },
    async (p) => {
      const lvol = await requirePool(ctx, p.pool, 'replica_create').createLvol({ name: p.name, sizeBytes: p.size_bytes, thin: p.thin ?? false });
      try {
        if (p.share ?? true) await share(ctx, lvol, p.allowed_hosts);
      } catch (error) {
        await lvol.destroy().catch(() => undefined); // nothing half-made is left behind
        throw error;
      }
      return replicaEntry(ctx, lvol);
    },
  );
  registry.register<{ uuid: string; allowed_hosts?: string[] }>(
    'replica_share',
    { type: 'object', properties: { uuid: text, allowed_hosts: hosts }, required: ['uuid'] },
    async (p) => share(ctx, requireReplica(ctx, p.uuid, 'replica_share'), p.allowed_hosts),
  );
  registry.register<{ uuid: string }>('replica_unshare', byUuid, async (p) => {
    await unshare(ctx, requireReplica(ctx, p.uuid, 'replica_unshare'));
    return true;
  });
  registry.register<{ uuid: string; size_bytes: number }>(
    'replica_resize',
    { type: 'object', properties: { uuid: text, size_bytes: { type: 'integer', minimum: 1 } }, required: ['uuid', 'size_bytes'] },
    async (p) => {
      const lvol = requireReplica(ctx, p.uuid, 'replica_resize');
      await lvol.resize(p.size_bytes);
      return replicaEntry(ctx, lvol);
    },
  );
  registry.register<{ uuid: string }>('replica_destroy', byUuid, async (p) => {
    const lvol = requireReplica(ctx, p.uuid, 'replica_destroy');
    await unshare(ctx, lvol);
    await lvol.destroy();
    return true;
  });
  registry.register<{ pool?: string }>('replica_list', { type: 'object', properties: { pool: poolName } }, async (p) => {
    const pools = p.pool === undefined ? ctx.engine.listPools() : [requirePool(ctx, p.pool, 'replica_list')];
    const out: Record<string, unknown>[] = [];
    const subsystems = new Map((await ctx.engine.nvmf.listSubsystems()).map((sub) => [sub.nqn, sub]));
    for (const pool of pools) for (const lvol of await pool.listLvols()) out.push(await replicaEntry(ctx, lvol, subsystems));
    return out;
  });
}
