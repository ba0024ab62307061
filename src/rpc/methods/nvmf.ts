// SPDK's NVMe-oF target methods (lib/nvmf/nvmf_rpc.c's names and shapes) over the engine's
// target. The TCP transport always exists here; nvmf_create_transport records its options.
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import type { SubsystemInfo } from '../../nvmf-target/target.js';
import { invalidParams } from '../protocol.js';
import { keyReference, pskReference } from './keyring.js';
import type { MethodRegistry } from '../registry.js';
import type { ObjectSchema } from '../schema.js';

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
const nqn = { type: 'string', minLength: 1, maxLength: 223 } as const;
const tgtName = { type: 'string', minLength: 1 } as const;
const listenAddress: ObjectSchema = {
  type: 'object',
  properties: {
    trtype: { type: 'string', minLength: 1 },
    adrfam: { type: 'string', enum: ['IPv4', 'IPv6', 'ipv4', 'ipv6'] },
    traddr: { type: 'string', minLength: 1 },
    trsvcid: { type: 'string', pattern: '^[0-9]{1,5}$' },
  },
  required: ['trtype', 'traddr', 'trsvcid'],
};
/** SPDK's TCP transport options: accepted, named in a warning (nodestor sizes its own queues). */
const TRANSPORT_TUNABLES = [
  'max_queue_depth', 'max_io_qpairs_per_ctrlr', 'in_capsule_data_size', 'max_io_size', 'io_unit_size', 'max_aq_depth',
  'num_shared_buffers', 'buf_cache_size', 'dif_insert_or_strip', 'zcopy', 'c2h_success', 'sock_priority', 'abort_timeout_sec',
  'ack_timeout', 'data_wr_pool_size', 'control_msg_num',
] as const;

function requireTcp(trtype: string): void {
  if (trtype.toUpperCase() !== 'TCP') throw invalidParams(`trtype '${trtype}': only TCP is served`);
}

function address(l: { trtype: string; traddr: string; trsvcid: string }): { address: string; port: number } {
  requireTcp(l.trtype);
  const port = Number(l.trsvcid);
  if (port > 65535) throw invalidParams(`listen_address.trsvcid must be a port number, got '${l.trsvcid}'`);
  return { address: l.traddr, port };
}

/** A 32-hex-digit NGUID (SPDK's form) or a UUID, as the UUID form the SDK takes. */
function uuidForm(value: string, what: string): string {
  if (/^[0-9a-f]{32}$/i.test(value))
    return `${value.slice(0, 8)}-${value.slice(8, 12)}-${value.slice(12, 16)}-${value.slice(16, 20)}-${value.slice(20)}`.toLowerCase();
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return value.toLowerCase();
  throw invalidParams(`${what} must be 32 hex digits or a UUID, got '${value}'`);
}

const adrfam = (addr: string) => (addr.includes(':') ? 'IPv6' : 'IPv4');

export function listenEntry(l: { address: string; port: number }): Record<string, string> {
  return { trtype: 'TCP', adrfam: adrfam(l.address), traddr: l.address, trsvcid: String(l.port) };
}

export function subsystemEntry(s: SubsystemInfo): Record<string, unknown> {
  return {
    nqn: s.nqn,
    subtype: 'NVMe',
    listen_addresses: s.listeners.map(listenEntry),
    allow_any_host: s.allowAnyHost,
    hosts: s.hosts.map((host) => ({ nqn: host })),
    serial_number: s.serial,
    model_number: s.model,
    max_namespaces: s.maxNamespaces,
    min_cntlid: 1,
    max_cntlid: 65519,
    namespaces: s.namespaces.map((n) => ({
      nsid: n.nsid,
      bdev_name: n.bdevName,
      name: n.bdevName,
      nguid: n.nguid.replaceAll('-', '').toUpperCase(),
      uuid: n.uuid,
    })),
  };
}

async function findSubsystem(ctx: DaemonContext, wanted: string, op: string): Promise<SubsystemInfo> {
  const found = (await ctx.engine.nvmf.listSubsystems()).find((s) => s.nqn === wanted);
  if (!found) throw new NodestorError('ENODEV', `no subsystem ${wanted}`, { op, resource: wanted, errno: -19 });
  return found;
}

export function registerNvmfMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<Record<string, unknown> & { trtype: string }>(
    'nvmf_create_transport',
    { type: 'object', properties: { trtype: { type: 'string', minLength: 1 }, tgt_name: tgtName }, required: ['trtype'], ignored: TRANSPORT_TUNABLES },
    (p) => {
      requireTcp(p.trtype);
      if (ctx.transports.has('TCP')) throw new NodestorError('EEXIST', 'the TCP transport already exists', { op: 'nvmf_create_transport', errno: -17 });
      ctx.transports.set('TCP', { ...p, trtype: 'TCP' });
      return true;
    },
  );
  registry.register<{ trtype?: string; tgt_name?: string }>(
    'nvmf_get_transports',
    { type: 'object', properties: { trtype: { type: 'string' }, tgt_name: tgtName } },
    (p) => {
      if (p.trtype !== undefined && p.trtype.toUpperCase() !== 'TCP') return [];
      return [{ trtype: 'TCP', max_queue_depth: 128, max_io_qpairs_per_ctrlr: 63, in_capsule_data_size: 8192, max_io_size: 131072, io_unit_size: 131072, max_aq_depth: 32, c2h_success: false, zcopy: false }];
    },
  );

  registry.register<{ nqn: string; serial_number?: string; model_number?: string; allow_any_host?: boolean; max_namespaces?: number; ana_reporting?: boolean; min_cntlid?: number; max_cntlid?: number }>(
    'nvmf_create_subsystem',
    {
      type: 'object',
      properties: {
        nqn,
        serial_number: { type: 'string', minLength: 1, maxLength: 20 },
        model_number: { type: 'string', minLength: 1, maxLength: 40 },
        allow_any_host: { type: 'boolean' },
        max_namespaces: { type: 'integer', minimum: 0, maximum: 1024 },
        ana_reporting: { type: 'boolean' },
        min_cntlid: { type: 'integer', minimum: 1, maximum: 1 },
        max_cntlid: { type: 'integer', minimum: 65519, maximum: 65519 },
        tgt_name: tgtName,
      },
      required: ['nqn'],
    },
    async (p) => {
      if ((await ctx.engine.nvmf.listSubsystems()).length >= ctx.limits.maxSubsystems)
        throw new NodestorError('ENOSPC', `already ${ctx.limits.maxSubsystems} subsystems (nvmf_set_max_subsystems)`, { op: 'nvmf_create_subsystem', errno: -28 });
      await ctx.engine.nvmf.createSubsystem({
        nqn: p.nqn,
        serial: p.serial_number ?? '00000000000000000000',
        model: p.model_number ?? 'nodestor',
        allowAnyHost: p.allow_any_host ?? false,
        maxNamespaces: p.max_namespaces ? p.max_namespaces : 32,
      });
      return true;
    },
  );
  registry.register<{ nqn: string }>('nvmf_delete_subsystem', { type: 'object', properties: { nqn, tgt_name: tgtName }, required: ['nqn'] }, async (p) => {
    await ctx.engine.nvmf.subsystem(p.nqn).destroy();
    return true;
  });
  registry.register<{ nqn?: string }>('nvmf_get_subsystems', { type: 'object', properties: { nqn, tgt_name: tgtName } }, async (p) => {
    const discovery = { nqn: DISCOVERY_NQN, subtype: 'Discovery', listen_addresses: [], allow_any_host: true, hosts: [] };
    const all = (await ctx.engine.nvmf.listSubsystems()).map(subsystemEntry);
    if (p.nqn === undefined) return [discovery, ...all];
    if (p.nqn === DISCOVERY_NQN) return [discovery];
    return [subsystemEntry(await findSubsystem(ctx, p.nqn, 'nvmf_get_subsystems'))];
  });

  registry.register<{ nqn: string; namespace: { bdev_name: string; nsid?: number; nguid?: string; uuid?: string } }>(
    'nvmf_subsystem_add_ns',
    {
      type: 'object',
      properties: {
        nqn,
        namespace: {
          type: 'object',
          properties: { bdev_name: { type: 'string', minLength: 1 }, nsid: { type: 'integer', minimum: 0, maximum: 1024 }, nguid: { type: 'string' }, uuid: { type: 'string' } },
          required: ['bdev_name'],
        },
        tgt_name: tgtName,
      },
      required: ['nqn', 'namespace'],
    },
    async (p) => {
      const bdev = ctx.requireBdev(p.namespace.bdev_name, 'nvmf_subsystem_add_ns');
      return ctx.engine.nvmf.subsystem(p.nqn).addNamespace(bdev.name, {
        ...(p.namespace.nsid ? { nsid: p.namespace.nsid } : {}),
        ...(p.namespace.uuid !== undefined ? { uuid: uuidForm(p.namespace.uuid, 'namespace.uuid') } : {}),
        ...(p.namespace.nguid !== undefined ? { nguid: uuidForm(p.namespace.nguid, 'namespace.nguid') } : {}),
      });
    },
  );
  registry.register<{ nqn: string; nsid: number }>(
    'nvmf_subsystem_remove_ns',
    { type: 'object', properties: { nqn, nsid: { type: 'integer', minimum: 1, maximum: 1024 }, tgt_name: tgtName }, required: ['nqn', 'nsid'] },
    async (p) => {
      await ctx.engine.nvmf.subsystem(p.nqn).removeNamespace(p.nsid);
      return true;
    },
  );

  const listenerSchema: ObjectSchema = {
    type: 'object',
    properties: { nqn, listen_address: listenAddress, secure_channel: { type: 'boolean' }, tgt_name: tgtName },
    required: ['nqn', 'listen_address'],
  };
  type ListenerParams = { nqn: string; listen_address: { trtype: string; traddr: string; trsvcid: string }; secure_channel?: boolean };
  registry.register<ListenerParams>('nvmf_subsystem_add_listener', listenerSchema, async (p) => {
    await ctx.engine.nvmf.subsystem(p.nqn).addListener({ ...address(p.listen_address), secureChannel: p.secure_channel ?? false });
    return true;
  });
  registry.register<ListenerParams>('nvmf_subsystem_remove_listener', listenerSchema, async (p) => {
    await ctx.engine.nvmf.subsystem(p.nqn).removeListener(address(p.listen_address));
    return true;
  });
  registry.register<ListenerParams & { ana_state: 'optimized' | 'non_optimized' | 'inaccessible' }>(
    'nvmf_subsystem_listener_set_ana_state',
    {
      type: 'object',
      properties: {
        nqn,
        listen_address: listenAddress,
        ana_state: { type: 'string', enum: ['optimized', 'non_optimized', 'inaccessible'] },
        anagrpid: { type: 'integer', minimum: 1, maximum: 1 },
        tgt_name: tgtName,
      },
      required: ['nqn', 'listen_address', 'ana_state'],
    },
    async (p) => {
      await ctx.engine.nvmf.subsystem(p.nqn).setAnaState(address(p.listen_address), p.ana_state);
      return true;
    },
  );

  // dhchap_key / dhchap_ctrlr_key name keys in the keyring (SPDK's parameters), never keys.
  const keyRef = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' } as const;
  registry.register<{ nqn: string; host: string; dhchap_key?: string; dhchap_ctrlr_key?: string; psk?: string }>(
    'nvmf_subsystem_add_host',
    { type: 'object', properties: { nqn, host: nqn, tgt_name: tgtName, dhchap_key: keyRef, dhchap_ctrlr_key: keyRef, psk: { type: 'string', minLength: 1, maxLength: 4096 } }, required: ['nqn', 'host'] },
    async (p) => {
      const op = 'nvmf_subsystem_add_host';
      if (p.dhchap_ctrlr_key !== undefined && p.dhchap_key === undefined) throw invalidParams('dhchap_ctrlr_key needs dhchap_key');
      const keys = {
        ...(p.dhchap_key !== undefined ? { dhchapKey: keyReference(ctx, p.dhchap_key, op) } : {}),
        ...(p.dhchap_ctrlr_key !== undefined ? { dhchapCtrlrKey: keyReference(ctx, p.dhchap_ctrlr_key, op) } : {}),
        ...(p.psk !== undefined ? { psk: pskReference(ctx, p.psk, op) } : {}),
      };
      await ctx.engine.nvmf.subsystem(p.nqn).addHost(p.host, keys);
      // save_config keeps the names (and PSK file paths), never a key.
      const names = {
        ...(p.dhchap_key !== undefined ? { dhchap_key: p.dhchap_key } : {}),
        ...(p.dhchap_ctrlr_key !== undefined ? { dhchap_ctrlr_key: p.dhchap_ctrlr_key } : {}),
        ...(p.psk !== undefined ? { psk: p.psk } : {}),
      };
      if (Object.keys(names).length > 0) ctx.hostKeyNames.set(`${p.nqn} ${p.host}`, names);
      return true;
    },
  );
  registry.register<{ nqn: string; host: string }>(
    'nvmf_subsystem_remove_host',
    { type: 'object', properties: { nqn, host: nqn, tgt_name: tgtName }, required: ['nqn', 'host'] },
    async (p) => {
      await ctx.engine.nvmf.subsystem(p.nqn).removeHost(p.host);
      ctx.hostKeyNames.delete(`${p.nqn} ${p.host}`);
      return true;
    },
  );
  registry.register<{ nqn: string; allow_any_host: boolean }>(
    'nvmf_subsystem_allow_any_host',
    { type: 'object', properties: { nqn, allow_any_host: { type: 'boolean' }, tgt_name: tgtName }, required: ['nqn', 'allow_any_host'] },
    async (p) => {
      await ctx.engine.nvmf.subsystem(p.nqn).setAllowAnyHost(p.allow_any_host);
      return true;
    },
  );
  registry.register<{ nqn: string }>(
    'nvmf_subsystem_get_controllers',
    { type: 'object', properties: { nqn, tgt_name: tgtName }, required: ['nqn'] },
    async (p) => {
      const sub = await findSubsystem(ctx, p.nqn, 'nvmf_subsystem_get_controllers');
      return sub.controllerList.map((c) => ({ cntlid: c.cntlid, hostnqn: c.hostNqn, num_io_qpairs: c.ioQueues.length, listen_address: listenEntry(c) }));
    },
  );
  registry.register<{ nqn: string }>(
    'nvmf_subsystem_get_qpairs',
    { type: 'object', properties: { nqn, tgt_name: tgtName }, required: ['nqn'] },
    async (p) => {
      const sub = await findSubsystem(ctx, p.nqn, 'nvmf_subsystem_get_qpairs');
      return sub.controllerList.flatMap((c) =>
        [0, ...c.ioQueues].map((qid) => ({ cntlid: c.cntlid, qid, state: 'active', listen_address: listenEntry(c) })),
      );
    },
  );
}
