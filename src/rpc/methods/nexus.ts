// nodestor's nexus methods (Mayastor's names): create a mirrored volume over replica URIs,
// manage its children and rebuilds, publish it over NVMe/TCP. Child health is persisted
// to the daemon's nexus-info store before the I/O that depends on it goes on.
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import type { Nexus } from '../../nexus/nexus.js';
import type { CreateNexusOptions } from '../../nexus/options.js';
import { replicaOf } from '../../daemon/nexus-store.js';
import type { MethodRegistry } from '../registry.js';
import type { ObjectSchema } from '../schema.js';

const nexusName = { type: 'string', minLength: 1, maxLength: 63 } as const;
const uri = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const byName: ObjectSchema = { type: 'object', properties: { name: nexusName }, required: ['name'] };
const byChild: ObjectSchema = { type: 'object', properties: { name: nexusName, uri }, required: ['name', 'uri'] };

export function nexusEntry(nexus: Nexus): Record<string, unknown> {
  return {
    name: nexus.name,
    uuid: nexus.uuid,
    size_bytes: nexus.sizeBytes,
    state: nexus.state,
    device_uri: nexus.publishedUri ?? null,
    children: nexus.children.map((c) => ({
      uri: c.uri,
      bdev_name: c.bdevName,
      state: c.state,
      ...(c.reason ? { reason: c.reason } : {}),
      sync_state: c.syncState,
      ...(c.rebuildProgress !== undefined ? { rebuild_progress: c.rebuildProgress } : {}),
    })),
  };
}

function replicaOfChild(ctx: DaemonContext, uri: string): string | undefined {
  return replicaOf(uri, (name) => ctx.findLvol(name)?.uuid);
}

function withReplica(ctx: DaemonContext, uri: string): { replica?: string } {
  const replica = replicaOfChild(ctx, uri);
  return replica ? { replica } : {};
}

function requireNexus(ctx: DaemonContext, name: string, op: string): Nexus {
  const nexus = ctx.engine.getNexus(name);
  if (!nexus) throw new NodestorError('ENOENT', `no nexus named ${name}`, { op, resource: name, errno: -2 });
  return nexus;
}

/** Makes the nexus, restricted to the children last persisted healthy after an unclean stop. */
export async function createNexus(
  ctx: DaemonContext,
  p: { name: string; uuid?: string; size_bytes?: number; children: string[]; read_policy?: string; io_timeout_ms?: number },
): Promise<Nexus> {
  let children = p.children;
  let resync: string[] = [];
  if (p.uuid) {
    const saved = await ctx.nexusStore.load(p.uuid);
    if (saved) {
      // Only a child recorded healthy is trusted: one recorded unhealthy is stale even after
      // a clean stop, and one the record does not name was never in sync with this nexus.
      // Those are added back with a rebuild. A child is the same child by its replica's
      // UUID when it has one (the nexus may have moved node), else by its URI.
      const identity = (c: { uri: string; replica?: string | undefined }) => c.replica ?? replicaOfChild(ctx, c.uri) ?? c.uri;
      const healthy = new Set(saved.children.filter((c) => c.healthy).map(identity));
      const kept = children.filter((c) => healthy.has(identity({ uri: c })));
      if (kept.length === 0)
        throw new NodestorError('ENODEV', `nexus ${p.name}: no child was healthy when it last stopped; refusing to pick one`, { op: 'nexus_create', resource: p.name, errno: -19 });
      if (kept.length < children.length) ctx.log.warn({ nexus: p.name, dropped: children.filter((c) => !kept.includes(c)) }, 'nexus made without the children that were not healthy');
      children = kept;
      if (!saved.cleanShutdown && kept.length > 1) {
        // Writes in flight when it stopped may have reached some children and not others,
        // and the logs of what each missed died with the process: one child is kept (each
        // healthy one holds every acknowledged write) and the others are copied from it.
        const keep = firstLocal(kept);
        resync = kept.filter((c) => c !== keep);
        children = [keep];
        ctx.log.warn({ nexus: p.name, kept: children[0], rebuilt: resync }, 'nexus stopped uncleanly: one child kept, the others rebuilt in full');
      }
    }
  }
  const options: CreateNexusOptions = {
    name: p.name,
    children,
    persist: (info) => ctx.nexusStore.save({ ...info, children: info.children.map((c) => ({ ...c, ...withReplica(ctx, c.uri) })) }),
  };
  if (p.uuid) options.uuid = p.uuid;
  if (p.size_bytes !== undefined) options.sizeBytes = p.size_bytes;
  if (p.read_policy) options.readPolicy = p.read_policy as CreateNexusOptions['readPolicy'];
  if (p.io_timeout_ms !== undefined) options.ioTimeoutMs = p.io_timeout_ms;
  const nexus = await ctx.engine.createNexus(options);
  nexus.on('state', (state) => ctx.emit({ kind: 'nexus.state', nexus: nexus.name, state }));
  nexus.on('child', (e) => ctx.emit({ kind: 'nexus.child', nexus: nexus.name, uri: e.uri, detail: e.detail }));
  nexus.on('rebuild', (e) => ctx.emit({ kind: `nexus.rebuild.${e.state.toLowerCase()}`, nexus: nexus.name, uri: e.uri, bytesRebuilt: e.stats?.bytesRebuilt }));
  ctx.nexusCalls.set(nexus.name, {
    method: 'nexus_create',
    params: { name: nexus.name, uuid: nexus.uuid, size_bytes: nexus.sizeBytes, children: p.children, ...(p.read_policy ? { read_policy: p.read_policy } : {}), ...(p.io_timeout_ms !== undefined ? { io_timeout_ms: p.io_timeout_ms } : {}) },
  });
  ctx.emit({ kind: 'nexus.created', nexus: nexus.name, children });
  for (const uri of resync) {
    // Recorded out of sync before its copy starts: a crash during it trusts only the kept one.
    await nexus.addChild(uri, { rebuild: true }).catch((error: Error) =>
      ctx.log.error({ nexus: nexus.name, uri, err: error.message }, 'a child to rebuild after an unclean stop could not be added'),
    );
  }
  return nexus;
}

/** A local child when there is one (the cheapest to read and copy from), else the first. */
function firstLocal(children: string[]): string {
  return children.find((c) => c.startsWith('bdev:///')) ?? children[0]!;
}

export function registerNexusMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<{ name: string; uuid?: string; size_bytes?: number; children: string[]; read_policy?: string; io_timeout_ms?: number }>(
    'nexus_create',
    {
      type: 'object',
      properties: {
        name: nexusName,
        uuid: { type: 'string', pattern: '^[0-9a-fA-F-]{36}$' },
        size_bytes: { type: 'integer', minimum: 1 },
        children: { type: 'array', items: uri, maxItems: 16 },
        read_policy: { type: 'string', enum: ['least-loaded', 'round-robin', 'striped'] },
        io_timeout_ms: { type: 'integer', minimum: 0, maximum: 3_600_000 },
      },
      required: ['name', 'children'],
    },
    async (p) => nexusEntry(await createNexus(ctx, p)),
  );
  registry.register<{ name: string }>('nexus_destroy', byName, async (p) => {
    const nexus = requireNexus(ctx, p.name, 'nexus_destroy');
    await nexus.destroy();
    await ctx.nexusStore.remove(nexus.uuid);
    ctx.nexusCalls.delete(p.name);
    ctx.emit({ kind: 'nexus.destroyed', nexus: p.name });
    return true;
  });
  registry.register<{ name?: string }>('nexus_list', { type: 'object', properties: { name: nexusName } }, (p) =>
    (p.name === undefined ? ctx.engine.listNexuses() : [requireNexus(ctx, p.name, 'nexus_list')]).map(nexusEntry),
  );
  registry.register<{ name: string; uri: string; norebuild?: boolean }>(
    'nexus_add_child',
    { type: 'object', properties: { name: nexusName, uri, norebuild: { type: 'boolean' } }, required: ['name', 'uri'] },
    async (p) => {
      const nexus = requireNexus(ctx, p.name, 'nexus_add_child');
      await nexus.addChild(p.uri, { rebuild: !p.norebuild });
      const call = ctx.nexusCalls.get(p.name);
      if (call) (call.params!.children as string[]).push(p.uri);
      return nexusEntry(nexus);
    },
  );
  registry.register<{ name: string; uri: string }>('nexus_remove_child', byChild, async (p) => {
    const nexus = requireNexus(ctx, p.name, 'nexus_remove_child');
    await nexus.removeChild(p.uri);
    const call = ctx.nexusCalls.get(p.name);
    if (call) call.params!.children = (call.params!.children as string[]).filter((c) => c !== p.uri);
    return nexusEntry(nexus);
  });
  const childOps = [
    ['nexus_fault_child', (n: Nexus, u: string) => n.faultChild(u)],
    ['nexus_offline_child', (n: Nexus, u: string) => n.offlineChild(u)],
    ['nexus_online_child', (n: Nexus, u: string) => n.onlineChild(u)],
    ['nexus_rebuild_pause', (n: Nexus, u: string) => n.pauseRebuild(u)],
    ['nexus_rebuild_resume', (n: Nexus, u: string) => n.resumeRebuild(u)],
    ['nexus_rebuild_stop', (n: Nexus, u: string) => n.stopRebuild(u)],
  ] as const;
  for (const [method, op] of childOps) {
    registry.register<{ name: string; uri: string }>(method, byChild, async (p) => {
      const nexus = requireNexus(ctx, p.name, method);
      await op(nexus, p.uri);
      return nexusEntry(nexus);
    });
  }
  registry.register<{ name: string; uri: string }>('nexus_rebuild_stats', byChild, (p) => {
    const stats = requireNexus(ctx, p.name, 'nexus_rebuild_stats').rebuildStats(p.uri);
    if (!stats) throw new NodestorError('ENOENT', `no rebuild of ${p.uri} on nexus ${p.name}`, { op: 'nexus_rebuild_stats', resource: p.uri, errno: -2 });
    return stats;
  });
  registry.register<{ name: string; size_bytes: number }>(
    'nexus_resize',
    { type: 'object', properties: { name: nexusName, size_bytes: { type: 'integer', minimum: 1 } }, required: ['name', 'size_bytes'] },
    async (p) => {
      const nexus = requireNexus(ctx, p.name, 'nexus_resize');
      await nexus.grow(p.size_bytes);
      const call = ctx.nexusCalls.get(p.name);
      if (call) call.params!.size_bytes = nexus.sizeBytes;
      return nexusEntry(nexus);
    },
  );
  for (const [method, op] of [
    ['nexus_pause_writes', (n: Nexus) => n.pauseWrites()],
    ['nexus_resume_writes', (n: Nexus) => n.resumeWrites()],
  ] as const) {
    registry.register<{ name: string }>(method, byName, async (p) => {
      await op(requireNexus(ctx, p.name, method));
      return true;
    });
  }
  registry.register<{ name: string }>('nexus_rebuild_history', byName, (p) => requireNexus(ctx, p.name, 'nexus_rebuild_history').rebuildHistory());
  registry.register<{ name: string; address?: string; port?: number; allowed_hosts?: string[] }>(
    'nexus_publish',
    {
      type: 'object',
      properties: {
        name: nexusName,
        address: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        allowed_hosts: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 64 },
      },
      required: ['name'],
    },
    async (p) =>
      requireNexus(ctx, p.name, 'nexus_publish').publish({
        ...(p.address ? { address: p.address } : {}),
        ...(p.port !== undefined ? { port: p.port } : {}),
        ...(p.allowed_hosts ? { hosts: p.allowed_hosts } : {}),
      }),
  );
  registry.register<{ name: string }>('nexus_unpublish', byName, async (p) => {
    await requireNexus(ctx, p.name, 'nexus_unpublish').unpublish();
    return true;
  });
}
