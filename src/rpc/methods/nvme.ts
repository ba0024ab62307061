// SPDK's NVMe-oF host methods (module/bdev/nvme/bdev_nvme_rpc.c): a controller attached
// over TCP becomes a bdev <name>n<nsid> per active namespace (nvmf:// bdevs of the
// engine's own host, one connection each).
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import { invalidParams } from '../protocol.js';
import { keyReference, pskReference } from './keyring.js';
import type { MethodRegistry } from '../registry.js';

const text = { type: 'string', minLength: 1, maxLength: 223 } as const;

interface AttachParams {
  name: string;
  trtype: string;
  traddr: string;
  adrfam?: string;
  trsvcid?: string;
  subnqn?: string;
  hostnqn?: string;
  hdgst?: boolean;
  ddgst?: boolean;
  ctrlr_loss_timeout_sec?: number;
  reconnect_delay_sec?: number;
  /** Keyring names (keyring_file_add_key), as SPDK takes them. */
  dhchap_key?: string;
  dhchap_ctrlr_key?: string;
  /** TLS: a keyring name, or the path of a 0600 PSK file. */
  psk?: string;
}

export function registerNvmeMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<AttachParams>(
    'bdev_nvme_attach_controller',
    {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 60 },
        trtype: { type: 'string', minLength: 1 },
        traddr: text,
        adrfam: { type: 'string', enum: ['IPv4', 'IPv6', 'ipv4', 'ipv6'] },
        trsvcid: { type: 'string', pattern: '^[0-9]{1,5}$' },
        subnqn: text,
        hostnqn: text,
        hdgst: { type: 'boolean' },
        ddgst: { type: 'boolean' },
        ctrlr_loss_timeout_sec: { type: 'integer', minimum: 0, maximum: 3600 },
        reconnect_delay_sec: { type: 'integer', minimum: 0, maximum: 3600 },
        dhchap_key: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
        dhchap_ctrlr_key: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
        psk: { type: 'string', minLength: 1, maxLength: 4096 },
      },
      required: ['name', 'trtype', 'traddr'],
    },
    async (p) => {
      if (p.trtype.toUpperCase() !== 'TCP') throw invalidParams(`trtype '${p.trtype}': only TCP is served`);
      if (p.subnqn === undefined) throw invalidParams('subnqn is required for TCP');
      if (ctx.controllers.has(p.name))
        throw new NodestorError('EEXIST', `a controller named ${p.name} is already attached`, { op: 'bdev_nvme_attach_controller', resource: p.name, errno: -17 });
      const port = p.trsvcid ?? '4420';
      const host = p.traddr.includes(':') ? `[${p.traddr}]` : p.traddr;
      const loss = p.ctrlr_loss_timeout_sec ?? ctx.limits.nvmeCtrlrLossTimeoutSec;
      const delay = p.reconnect_delay_sec ?? ctx.limits.nvmeReconnectDelaySec;
      const op = 'bdev_nvme_attach_controller';
      if (p.dhchap_ctrlr_key !== undefined && p.dhchap_key === undefined) throw invalidParams('dhchap_ctrlr_key needs dhchap_key');
      // The keys go by name: the bdevs' URIs hold the keyring names (or PSK file paths), and
      // the engine reads the files when it connects.
      const keys = {
        ...(p.dhchap_key !== undefined ? { dhchapKey: keyReference(ctx, p.dhchap_key, op) } : {}),
        ...(p.dhchap_ctrlr_key !== undefined ? { dhchapCtrlrKey: keyReference(ctx, p.dhchap_ctrlr_key, op) } : {}),
        ...(p.psk !== undefined ? { psk: pskReference(ctx, p.psk, op) } : {}),
      };
      // As SPDK does: a bdev <name>n<nsid> for every active namespace of the subsystem.
      const nsids = await ctx.engine.nvmf.listNamespaces({ address: p.traddr, port: Number(port), subnqn: p.subnqn, ...(p.hostnqn ? { hostNqn: p.hostnqn } : {}), ...keys });
      if (nsids.length === 0)
        throw new NodestorError('ENODEV', `subsystem ${p.subnqn} has no active namespace`, { op: 'bdev_nvme_attach_controller', resource: p.subnqn, errno: -19 });
      const names: string[] = [];
      try {
        for (const nsid of nsids) {
          const query = new URLSearchParams({ name: `${p.name}n${nsid}`, nsid: String(nsid) });
          if (p.hostnqn) query.set('hostnqn', p.hostnqn);
          if (p.hdgst) query.set('hdgst', '1');
          if (p.ddgst) query.set('ddgst', '1');
          if (loss) query.set('ctrl_loss_timeout_ms', String(loss * 1000));
          if (delay) query.set('reconnect_delay_ms', String(delay * 1000));
          if (keys.dhchapKey !== undefined) query.set('dhchap_key', keys.dhchapKey);
          if (keys.dhchapCtrlrKey !== undefined) query.set('dhchap_ctrlr_key', keys.dhchapCtrlrKey);
          if (keys.psk !== undefined) query.set('psk', keys.psk);
          names.push((await ctx.engine.createBdev(`nvmf://${host}:${port}/${p.subnqn}?${query}`)).name);
        }
      } catch (error) {
        for (const name of names) await ctx.engine.getBdev(name)?.destroy().catch(() => undefined); // all or nothing
        throw error;
      }
      ctx.controllers.set(p.name, {
        name: p.name,
        bdevs: names,
        trid: { trtype: 'TCP', adrfam: p.traddr.includes(':') ? 'IPv6' : 'IPv4', traddr: p.traddr, trsvcid: port, subnqn: p.subnqn },
        hostnqn: p.hostnqn ?? ctx.engine.nvmf.hostNqn,
        call: { method: 'bdev_nvme_attach_controller', params: { ...p } },
      });
      return names;
    },
  );
  registry.register<{ name: string }>(
    'bdev_nvme_detach_controller',
    { type: 'object', properties: { name: text, trtype: { type: 'string' }, traddr: text, adrfam: { type: 'string' }, trsvcid: { type: 'string' }, subnqn: text }, required: ['name'] },
    async (p) => {
      const controller = ctx.controllers.get(p.name);
      if (!controller) throw new NodestorError('ENODEV', `no controller named ${p.name}`, { op: 'bdev_nvme_detach_controller', resource: p.name, errno: -19 });
      for (const name of controller.bdevs) await ctx.engine.getBdev(name)?.destroy();
      ctx.controllers.delete(p.name);
      return true;
    },
  );
  registry.register<{ name?: string }>('bdev_nvme_get_controllers', { type: 'object', properties: { name: text } }, (p) => {
    const list = p.name === undefined ? [...ctx.controllers.values()] : [ctx.controllers.get(p.name)].filter((c) => c !== undefined);
    if (p.name !== undefined && list.length === 0)
      throw new NodestorError('ENODEV', `no controller named ${p.name}`, { op: 'bdev_nvme_get_controllers', resource: p.name, errno: -19 });
    return list.map((c) => {
      const bdev = ctx.engine.getBdev(c.bdevs[0]!);
      const health = bdev?.health.state ?? 'gone';
      const state = health === 'online' ? 'enabled' : health === 'reconnecting' ? 'resetting' : 'failed';
      return { name: c.name, ctrlrs: [{ state, trid: c.trid, host: { nqn: c.hostnqn, addr: '', svcid: '' } }] };
    });
  });
}
