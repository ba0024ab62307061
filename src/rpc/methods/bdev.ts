// SPDK's bdev methods: listing and iostat, and the create/delete pairs of each module
// (malloc, null, aio, uring, error). Parameter names and result shapes follow SPDK's
// module/bdev/*/*_rpc.c; a parameter SPDK has and we do not serve is refused by name.
import type { Bdev } from '../../bdev/bdev.js';
import type { ErrorInjection } from '../../bdev/injection.js';
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import { invalidParams } from '../protocol.js';
import type { MethodRegistry } from '../registry.js';
import type { ObjectSchema } from '../schema.js';

const PRODUCT: Record<string, string> = {
  malloc: 'Malloc disk',
  null: 'Null disk',
  aio: 'AIO disk',
  uring: 'URING bdev',
  error: 'Error disk',
  lvol: 'Logical Volume',
  nvmf: 'NVMe disk',
  nexus: 'Nexus',
};

const name = { type: 'string', minLength: 1, maxLength: 255 } as const;
const uuid = { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' } as const;
const blockSize = { type: 'integer', minimum: 512, maximum: 4096 } as const;
// SPDK's error types; nomem is retried by the bdev layer, as SPDK's is.
const ERROR_TYPE_MODES: Record<string, NonNullable<ErrorInjection['mode']>> = {
  failure: 'fail',
  pending: 'pending',
  corrupt_data: 'corrupt',
  nomem: 'nomem',
  delay: 'delay',
};
const byName: ObjectSchema = { type: 'object', properties: { name }, required: ['name'] };

function requireBlockSize(size: number | undefined, what = 'block_size'): number {
  const value = size ?? 512;
  if (value !== 512 && value !== 4096) throw invalidParams(`${what} must be 512 or 4096, got ${value}`);
  return value;
}

/** bdev_get_bdevs' entry for one bdev. */
export async function bdevEntries(ctx: DaemonContext, only?: Bdev): Promise<Record<string, unknown>[]> {
  const described = new Map((await ctx.engine.describeBdevs()).map((d) => [d.name, d]));
  const bdevs = only ? [only] : ctx.engine.listBdevs();
  return bdevs.map((bdev) => {
    const d = described.get(bdev.name);
    const io = new Set(d?.ioTypes ?? []);
    const lvol = bdev.module === 'lvol' ? ctx.findLvol(bdev.name) : undefined;
    const entry: Record<string, unknown> = {
      name: bdev.name,
      aliases: lvol ? [lvol.uuid] : [],
      product_name: PRODUCT[bdev.module] ?? bdev.module,
      block_size: bdev.blockSize,
      num_blocks: bdev.numBlocks,
      uuid: bdev.uuid,
      assigned_rate_limits: { rw_ios_per_sec: 0, rw_mbytes_per_sec: 0, r_mbytes_per_sec: 0, w_mbytes_per_sec: 0 },
      claimed: d?.claimedBy != null,
      zoned: false,
      supported_io_types: {
        read: io.has('read'),
        write: io.has('write'),
        unmap: io.has('unmap'),
        write_zeroes: io.has('writeZeroes'),
        flush: io.has('flush'),
        reset: io.has('reset'),
        compare: false,
        compare_and_write: false,
        abort: false,
        nvme_admin: false,
        nvme_io: false,
      },
      driver_specific: lvol
        ? {
            lvol: {
              lvol_store_uuid: lvol.pool.uuid,
              base_bdev: lvol.pool.disk,
              thin_provision: lvol.thin,
              num_allocated_clusters: Math.round(lvol.allocatedBytes / lvol.pool.clusterSizeBytes),
              snapshot: lvol.readOnly,
              clone: lvol.parent !== null,
            },
          }
        : {},
    };
    if (d?.claimedBy) entry.claimed_by = d.claimedBy;
    return entry;
  });
}

async function create(ctx: DaemonContext, uri: string, call: { method: string; params: Record<string, unknown> }, named = true): Promise<string> {
  const bdev = await ctx.engine.createBdev(uri);
  ctx.bdevCalls.set(bdev.name, { method: call.method, params: named ? { name: bdev.name, ...call.params } : call.params });
  return bdev.name;
}

async function destroyOf(ctx: DaemonContext, module: string, bdevName: string, op: string): Promise<true> {
  const bdev = ctx.engine.getBdev(bdevName);
  if (!bdev || bdev.module !== module)
    throw new NodestorError('ENODEV', `no ${module} bdev named ${bdevName}`, { op, resource: bdevName, errno: -19 });
  await bdev.destroy();
  ctx.bdevCalls.delete(bdevName);
  return true;
}

function query(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

function requireAbsolute(filename: string): string {
  if (!filename.startsWith('/')) throw invalidParams(`filename must be an absolute path, got '${filename}'`);
  return filename;
}

let mallocCount = 0;

export function registerBdevMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<{ name?: string; timeout?: number }>(
    'bdev_get_bdevs',
    { type: 'object', properties: { name, timeout: { type: 'integer', minimum: 0 } } },
    async ({ name: wanted }) => {
      if (wanted === undefined) return bdevEntries(ctx);
      return bdevEntries(ctx, ctx.requireBdev(wanted, 'bdev_get_bdevs'));
    },
  );

  registry.register<{ name?: string; per_channel?: boolean }>(
    'bdev_get_iostat',
    { type: 'object', properties: { name, per_channel: { type: 'boolean' } } },
    ({ name: wanted, per_channel }) => {
      if (per_channel) throw invalidParams('per_channel is not supported (statistics are kept per bdev)');
      const bdevs = wanted === undefined ? ctx.engine.listBdevs() : [ctx.requireBdev(wanted, 'bdev_get_iostat')];
      const ticks = (us: number, ops: number) => Math.round(us * 1000 * ops);
      return {
        tick_rate: 1_000_000_000, // ticks are nanoseconds
        ticks: Number(process.hrtime.bigint()),
        bdevs: bdevs.map((bdev) => {
          const s = bdev.stats();
          return {
            name: bdev.name,
            bytes_read: s.bytesRead,
            num_read_ops: s.readOps,
            bytes_written: s.bytesWritten,
            num_write_ops: s.writeOps,
            bytes_unmapped: s.byType.unmap.bytes,
            num_unmap_ops: s.unmapOps,
            bytes_copied: 0,
            num_copy_ops: 0,
            read_latency_ticks: ticks(s.byType.read.latencyUs.avg, s.readOps),
            max_read_latency_ticks: Math.round(s.byType.read.latencyUs.max * 1000),
            write_latency_ticks: ticks(s.byType.write.latencyUs.avg, s.writeOps),
            max_write_latency_ticks: Math.round(s.byType.write.latencyUs.max * 1000),
            unmap_latency_ticks: ticks(s.byType.unmap.latencyUs.avg, s.unmapOps),
            max_unmap_latency_ticks: Math.round(s.byType.unmap.latencyUs.max * 1000),
            io_error: { errors: s.errors },
          };
        }),
      };
    },
  );

  // ---- malloc
  registry.register<{ name?: string; num_blocks: number; block_size: number; uuid?: string; physical_block_size?: number; optimal_io_boundary?: number }>(
    'bdev_malloc_create',
    {
      type: 'object',
      properties: {
        name,
        num_blocks: { type: 'integer', minimum: 1 },
        block_size: blockSize,
        uuid,
        physical_block_size: blockSize,
        optimal_io_boundary: { type: 'integer', minimum: 0, maximum: 0 },
      },
      required: ['num_blocks', 'block_size'],
    },
    (p) => {
      const bs = requireBlockSize(p.block_size);
      if (p.physical_block_size !== undefined && p.physical_block_size !== bs)
        throw invalidParams(`physical_block_size must equal block_size (${bs}), got ${p.physical_block_size}`);
      const bdevName = p.name ?? `Malloc${mallocCount++}`;
      return create(ctx, `malloc:///${encodeURIComponent(bdevName)}${query({ num_blocks: p.num_blocks, blk_size: bs, uuid: p.uuid })}`, {
        method: 'bdev_malloc_create',
        params: { num_blocks: p.num_blocks, block_size: bs, ...(p.uuid ? { uuid: p.uuid } : {}) },
      });
    },
  );
  registry.register<{ name: string }>('bdev_malloc_delete', byName, ({ name: n }) => destroyOf(ctx, 'malloc', n, 'bdev_malloc_delete'));

  // ---- null
  registry.register<{ name: string; num_blocks: number; block_size: number; uuid?: string }>(
    'bdev_null_create',
    { type: 'object', properties: { name, num_blocks: { type: 'integer', minimum: 1 }, block_size: blockSize, uuid }, required: ['name', 'num_blocks', 'block_size'] },
    (p) =>
      create(ctx, `null:///${encodeURIComponent(p.name)}${query({ num_blocks: p.num_blocks, blk_size: requireBlockSize(p.block_size), uuid: p.uuid })}`, {
        method: 'bdev_null_create',
        params: { num_blocks: p.num_blocks, block_size: p.block_size, ...(p.uuid ? { uuid: p.uuid } : {}) },
      }),
  );
  registry.register<{ name: string }>('bdev_null_delete', byName, ({ name: n }) => destroyOf(ctx, 'null', n, 'bdev_null_delete'));

  // ---- aio and uring: a file or block device
  registry.register<{ name: string; filename: string; block_size?: number; readonly?: boolean; fallocate?: boolean }>(
    'bdev_aio_create',
    {
      type: 'object',
      properties: { name, filename: { type: 'string', minLength: 1 }, block_size: blockSize, readonly: { type: 'boolean' }, fallocate: { type: 'boolean' } },
      required: ['name', 'filename'],
    },
    (p) => {
      if (p.readonly) throw invalidParams('readonly: read-only aio bdevs are not supported');
      if (p.fallocate) throw invalidParams('fallocate is not supported');
      const bs = requireBlockSize(p.block_size);
      return create(ctx, `aio://${requireAbsolute(p.filename)}${query({ blk_size: bs, name: p.name })}`, {
        method: 'bdev_aio_create',
        params: { filename: p.filename, block_size: bs, readonly: false },
      });
    },
  );
  registry.register<{ name: string }>('bdev_aio_delete', byName, ({ name: n }) => destroyOf(ctx, 'aio', n, 'bdev_aio_delete'));
  registry.register<{ name: string; filename: string; block_size?: number; uuid?: string }>(
    'bdev_uring_create',
    { type: 'object', properties: { name, filename: { type: 'string', minLength: 1 }, block_size: blockSize, uuid }, required: ['name', 'filename'] },
    (p) => {
      const bs = requireBlockSize(p.block_size);
      return create(ctx, `uring://${requireAbsolute(p.filename)}${query({ blk_size: bs, name: p.name, uuid: p.uuid })}`, {
        method: 'bdev_uring_create',
        params: { filename: p.filename, block_size: bs, ...(p.uuid ? { uuid: p.uuid } : {}) },
      });
    },
  );
  registry.register<{ name: string }>('bdev_uring_delete', byName, ({ name: n }) => destroyOf(ctx, 'uring', n, 'bdev_uring_delete'));

  // ---- error: fault injection over a base bdev, named EE_<base> as SPDK names it
  registry.register<{ base_name: string; uuid?: string }>(
    'bdev_error_create',
    { type: 'object', properties: { base_name: name, uuid }, required: ['base_name'] },
    async (p) => {
      const base = ctx.requireBdev(p.base_name, 'bdev_error_create');
      await create(ctx, `error:///EE_${encodeURIComponent(base.name)}${query({ base: base.name })}`, {
        method: 'bdev_error_create',
        params: { base_name: base.name },
      }, false); // SPDK names it EE_<base>: the call takes no name
      return true;
    },
  );
  registry.register<{ name: string }>('bdev_error_delete', byName, ({ name: n }) => destroyOf(ctx, 'error', n, 'bdev_error_delete'));
  // errno and latency_us are nodestor's: a failure with ENOSPC or ETIMEDOUT instead of EIO,
  // and a completion delayed (alone with error_type 'delay', or on top of another type).
  registry.register<{ name: string; io_type: string; error_type: string; num?: number; errno?: 'EIO' | 'ENOSPC' | 'ETIMEDOUT'; latency_us?: number }>(
    'bdev_error_inject_error',
    {
      type: 'object',
      properties: {
        name,
        io_type: { type: 'string', enum: ['read', 'write', 'unmap', 'flush', 'all', 'clear'] },
        error_type: { type: 'string', enum: ['failure', 'pending', 'corrupt_data', 'nomem', 'delay'] },
        num: { type: 'integer', minimum: 0, maximum: 1_000_000_000 },
        errno: { type: 'string', enum: ['EIO', 'ENOSPC', 'ETIMEDOUT'] },
        latency_us: { type: 'integer', minimum: 1, maximum: 60_000_000 },
      },
      required: ['name', 'io_type', 'error_type'],
    },
    (p) => {
      const bdev = ctx.engine.getBdev(p.name);
      if (!bdev || bdev.module !== 'error')
        throw new NodestorError('ENODEV', `no error bdev named ${p.name}`, { op: 'bdev_error_inject_error', resource: p.name, errno: -19 });
      if (p.io_type === 'clear') {
        bdev.clearInjectedErrors();
        return true;
      }
      const injection: ErrorInjection = {
        ioType: p.io_type as ErrorInjection['ioType'],
        mode: ERROR_TYPE_MODES[p.error_type],
        ...(p.errno ? { errno: p.errno } : {}),
        ...(p.latency_us ? { latencyUs: p.latency_us } : {}),
      };
      if (p.errno && p.error_type !== 'failure')
        throw new NodestorError('EINVAL', 'errno applies to error_type failure only', { op: 'bdev_error_inject_error', resource: p.name, errno: -22 });
      if (p.error_type === 'delay' && !p.latency_us)
        throw new NodestorError('EINVAL', "error_type delay needs latency_us", { op: 'bdev_error_inject_error', resource: p.name, errno: -22 });
      const count = p.num ?? 1; // SPDK's default
      if (count > 0) injection.count = count;
      bdev.injectError(injection);
      return true;
    },
  );
}
