// SPDK's lvol store and lvol methods over nodestor pools: an lvol store is a pool on a
// bdev, an lvol is found by its UUID or as lvs_name/lvol_name (SPDK's alias).
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import type { Lvol } from '../../lvol/lvol.js';
import type { Pool } from '../../lvol/pool.js';
import { invalidParams } from '../protocol.js';
import type { MethodRegistry } from '../registry.js';
import type { ObjectSchema } from '../schema.js';

const MiB = 1024 * 1024;
const text = { type: 'string', minLength: 1, maxLength: 255 } as const;
const storeRef: ObjectSchema = { type: 'object', properties: { uuid: text, lvs_name: text } };
const byName: ObjectSchema = { type: 'object', properties: { name: text }, required: ['name'] };

export function findStore(ctx: DaemonContext, p: { uuid?: string; lvs_name?: string }, op: string): Pool {
  if ((p.uuid === undefined) === (p.lvs_name === undefined)) throw invalidParams('give exactly one of uuid and lvs_name');
  const pool = ctx.engine.listPools().find((x) => (p.uuid !== undefined ? x.uuid === p.uuid : x.name === p.lvs_name));
  if (!pool) throw new NodestorError('ENODEV', `no lvol store ${p.uuid ?? p.lvs_name}`, { op, resource: p.uuid ?? p.lvs_name, errno: -19 });
  return pool;
}

export function requireLvol(ctx: DaemonContext, name: string, op: string): Lvol {
  const lvol = ctx.findLvol(name);
  if (!lvol) throw new NodestorError('ENODEV', `no lvol ${name}`, { op, resource: name, errno: -19 });
  return lvol;
}

export function storeEntry(pool: Pool): Record<string, unknown> {
  return {
    uuid: pool.uuid,
    name: pool.name,
    base_bdev: pool.disk,
    total_data_clusters: Math.floor(pool.totalBytes / pool.clusterSizeBytes),
    free_clusters: Math.floor(pool.availableBytes / pool.clusterSizeBytes),
    block_size: 4096,
    cluster_size: pool.clusterSizeBytes,
  };
}

export function lvolEntry(lvol: Lvol): Record<string, unknown> {
  return {
    alias: `${lvol.pool.name}/${lvol.name}`,
    uuid: lvol.uuid,
    name: lvol.name,
    is_thin_provisioned: lvol.thin,
    is_snapshot: lvol.readOnly,
    is_clone: lvol.parent !== null,
    is_esnap_clone: false,
    is_degraded: false,
    lvs: { name: lvol.pool.name, uuid: lvol.pool.uuid },
  };
}

export function registerLvolMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<{ bdev_name: string; lvs_name: string; cluster_sz?: number; clear_method?: string }>(
    'bdev_lvol_create_lvstore',
    {
      type: 'object',
      properties: {
        bdev_name: text,
        lvs_name: { type: 'string', minLength: 1, maxLength: 63 },
        cluster_sz: { type: 'integer', minimum: MiB, maximum: 1024 * MiB },
        clear_method: { type: 'string', enum: ['none'] },
      },
      required: ['bdev_name', 'lvs_name'],
    },
    async (p) => {
      if (p.cluster_sz !== undefined && p.cluster_sz % MiB !== 0) throw invalidParams(`cluster_sz must be a multiple of 1 MiB, got ${p.cluster_sz}`);
      const disk = ctx.requireBdev(p.bdev_name, 'bdev_lvol_create_lvstore');
      const pool = await ctx.engine.createPool({ name: p.lvs_name, disk: `bdev:///${disk.name}`, clusterSizeBytes: p.cluster_sz });
      ctx.poolDisks.set(pool.name, `bdev:///${disk.name}`);
      ctx.emit({ kind: 'pool.created', pool: pool.name, disk: disk.name });
      return pool.uuid;
    },
  );
  registry.register<{ uuid?: string; lvs_name?: string }>('bdev_lvol_get_lvstores', storeRef, async (p) => {
    const pools = p.uuid === undefined && p.lvs_name === undefined ? ctx.engine.listPools() : [findStore(ctx, p, 'bdev_lvol_get_lvstores')];
    for (const pool of pools) await pool.refresh();
    return pools.map(storeEntry);
  });
  registry.register<{ uuid?: string; lvs_name?: string }>('bdev_lvol_delete_lvstore', storeRef, async (p) => {
    const pool = findStore(ctx, p, 'bdev_lvol_delete_lvstore');
    await pool.destroy();
    ctx.emit({ kind: 'pool.destroyed', pool: pool.name });
    return true;
  });
  registry.register<{ uuid?: string; lvs_name?: string }>('bdev_lvol_grow_lvstore', storeRef, async (p) => {
    await findStore(ctx, p, 'bdev_lvol_grow_lvstore').grow();
    return true;
  });

  registry.register<{ lvol_name: string; size_in_mib?: number; size?: number; thin_provision?: boolean; uuid?: string; lvs_name?: string; clear_method?: string }>(
    'bdev_lvol_create',
    {
      type: 'object',
      properties: {
        lvol_name: { type: 'string', minLength: 1, maxLength: 63 },
        size_in_mib: { type: 'integer', minimum: 1 },
        size: { type: 'integer', minimum: 1 },
        thin_provision: { type: 'boolean' },
        uuid: text,
        lvs_name: text,
        clear_method: { type: 'string', enum: ['none'] },
      },
      required: ['lvol_name'],
    },
    async (p) => {
      if ((p.size_in_mib === undefined) === (p.size === undefined)) throw invalidParams('give exactly one of size_in_mib and size');
      const pool = findStore(ctx, p, 'bdev_lvol_create');
      const lvol = await pool.createLvol({ name: p.lvol_name, sizeBytes: p.size_in_mib !== undefined ? p.size_in_mib * MiB : p.size!, thin: p.thin_provision ?? false });
      return lvol.uuid;
    },
  );
  registry.register<{ lvs_uuid?: string; lvs_name?: string }>(
    'bdev_lvol_get_lvols',
    { type: 'object', properties: { lvs_uuid: text, lvs_name: text } },
    async (p) => {
      const pools =
        p.lvs_uuid === undefined && p.lvs_name === undefined
          ? ctx.engine.listPools()
          : [findStore(ctx, { uuid: p.lvs_uuid, lvs_name: p.lvs_name }, 'bdev_lvol_get_lvols')];
      const out: Record<string, unknown>[] = [];
      for (const pool of pools) for (const lvol of await pool.listLvols()) out.push(lvolEntry(lvol));
      return out;
    },
  );
  registry.register<{ lvol_name: string; snapshot_name: string }>(
    'bdev_lvol_snapshot',
    { type: 'object', properties: { lvol_name: text, snapshot_name: { type: 'string', minLength: 1, maxLength: 63 } }, required: ['lvol_name', 'snapshot_name'] },
    async (p) => (await requireLvol(ctx, p.lvol_name, 'bdev_lvol_snapshot').snapshot(p.snapshot_name)).uuid,
  );
  registry.register<{ snapshot_name: string; clone_name: string }>(
    'bdev_lvol_clone',
    { type: 'object', properties: { snapshot_name: text, clone_name: { type: 'string', minLength: 1, maxLength: 63 } }, required: ['snapshot_name', 'clone_name'] },
    async (p) => (await requireLvol(ctx, p.snapshot_name, 'bdev_lvol_clone').clone(p.clone_name)).uuid,
  );
  registry.register<{ name: string; size_in_mib?: number; size?: number }>(
    'bdev_lvol_resize',
    { type: 'object', properties: { name: text, size_in_mib: { type: 'integer', minimum: 1 }, size: { type: 'integer', minimum: 1 } }, required: ['name'] },
    async (p) => {
      if ((p.size_in_mib === undefined) === (p.size === undefined)) throw invalidParams('give exactly one of size_in_mib and size');
      await requireLvol(ctx, p.name, 'bdev_lvol_resize').resize(p.size_in_mib !== undefined ? p.size_in_mib * MiB : p.size!);
      return true;
    },
  );
  // The methods that name one lvol and answer true.
  const byLvol = [
    ['bdev_lvol_inflate', (l: Lvol) => l.inflate()],
    ['bdev_lvol_decouple_parent', (l: Lvol) => l.decoupleParent()],
    ['bdev_lvol_set_read_only', (l: Lvol) => l.setReadOnly()],
    ['bdev_lvol_delete', (l: Lvol) => l.destroy()],
  ] as const;
  for (const [method, op] of byLvol) {
    registry.register<{ name: string }>(method, byName, async (p) => {
      await op(requireLvol(ctx, p.name, method));
      return true;
    });
  }
}
