// SPDK's JSON configuration, both ways: a daemon starts by calling the file's methods in
// order (stopping at the first that fails, naming it), and framework_get_config gives each
// subsystem's running state as the calls that would make it again.
import { readFileSync } from 'node:fs';
import { NEXUS_NQN_PREFIX } from '../nexus/nexus.js';
import { RpcError } from '../rpc/protocol.js';
import type { MethodRegistry } from '../rpc/registry.js';
import type { ConfigCall, DaemonContext } from './context.js';

/** framework_get_subsystems: our subsystems in the order a config must make them. */
export const CONFIG_SUBSYSTEMS = [
  { subsystem: 'keyring', depends_on: [] as string[] },
  { subsystem: 'bdev', depends_on: [] as string[] },
  { subsystem: 'nodestor', depends_on: ['bdev'] },
  { subsystem: 'nvmf', depends_on: ['bdev', 'nodestor'] },
];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface ConfigFile {
  subsystems: { subsystem: string; config: ConfigCall[] | null }[];
}

function parseConfig(value: unknown, where: string): ConfigFile {
  const file = value as ConfigFile;
  if (file === null || typeof file !== 'object' || !Array.isArray(file.subsystems))
    throw new ConfigError(`${where}: a config is { "subsystems": [ { "subsystem": name, "config": [ calls ] } ] }`);
  file.subsystems.forEach((s, i) => {
    if (s === null || typeof s !== 'object' || typeof s.subsystem !== 'string')
      throw new ConfigError(`${where}: subsystems[${i}] needs a "subsystem" name`);
    if (s.config !== null && s.config !== undefined && !Array.isArray(s.config))
      throw new ConfigError(`${where}: subsystems[${i}] (${s.subsystem}).config must be an array`);
    (s.config ?? []).forEach((c, j) => {
      if (c === null || typeof c !== 'object' || typeof c.method !== 'string')
        throw new ConfigError(`${where}: subsystems[${i}] (${s.subsystem}).config[${j}] needs a "method"`);
    });
  });
  return file;
}

/** Reads a config file (or takes the parsed object). */
export function readConfig(source: string | object): ConfigFile {
  if (typeof source !== 'string') return parseConfig(source, 'config');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(source, 'utf8'));
  } catch (error) {
    throw new ConfigError(`config ${source}: ${(error as Error).message}`);
  }
  return parseConfig(parsed, `config ${source}`);
}

/** Calls every method of the config in order; the first failure throws, naming it. */
export async function applyConfig(registry: MethodRegistry, config: ConfigFile): Promise<number> {
  let index = 0;
  for (const subsystem of config.subsystems) {
    for (const [position, call] of (subsystem.config ?? []).entries()) {
      const where = `config call ${index} (${subsystem.subsystem}.config[${position}]) ${call.method}`;
      try {
        await registry.call(call.method, call.params, { method: call.method });
      } catch (error) {
        const code = error instanceof RpcError ? ` [${error.code}]` : '';
        throw new ConfigError(`${where} failed${code}: ${(error as Error).message}`);
      }
      index++;
    }
  }
  return index;
}

/** framework_get_config: the calls that make this subsystem's objects again. */
export async function configOf(ctx: DaemonContext, subsystem: string): Promise<ConfigCall[] | undefined> {
  const engine = ctx.engine;
  switch (subsystem) {
    case 'bdev': {
      const calls: ConfigCall[] = [];
      for (const [name, call] of ctx.bdevCalls) if (engine.getBdev(name)) calls.push(call);
      for (const controller of ctx.controllers.values()) calls.push(controller.call);
      return calls;
    }
    case 'nodestor': {
      const calls: ConfigCall[] = [];
      for (const pool of engine.listPools()) calls.push({ method: 'pool_import', params: { disk: ctx.poolDisks.get(pool.name) ?? `bdev:///${pool.disk}` } });
      const subsystems = await engine.nvmf.listSubsystems();
      for (const nexus of engine.listNexuses()) {
        const call = ctx.nexusCalls.get(nexus.name);
        if (call) calls.push(call);
        const published = subsystems.find((s) => s.nqn === NEXUS_NQN_PREFIX + nexus.name);
        if (nexus.publishedUri && published?.listeners[0]) {
          const l = published.listeners[0];
          calls.push({
            method: 'nexus_publish',
            params: { name: nexus.name, address: l.address, port: l.port, ...(published.allowAnyHost ? {} : { allowed_hosts: published.hosts }) },
          });
        }
      }
      return calls;
    }
    case 'keyring':
      return ctx.engine.keyring.listKeys().map(({ name, path }) => ({ method: 'keyring_file_add_key', params: { name, path } }));
    case 'nvmf': {
      const calls: ConfigCall[] = [];
      const tcp = ctx.transports.get('TCP');
      if (tcp) calls.push({ method: 'nvmf_create_transport', params: tcp });
      const published = new Set(engine.listNexuses().filter((n) => n.publishedUri).map((n) => NEXUS_NQN_PREFIX + n.name));
      for (const s of await engine.nvmf.listSubsystems()) {
        if (published.has(s.nqn)) continue; // nexus_publish makes it
        calls.push({
          method: 'nvmf_create_subsystem',
          params: { nqn: s.nqn, serial_number: s.serial, model_number: s.model, allow_any_host: s.allowAnyHost, max_namespaces: s.maxNamespaces },
        });
        for (const host of s.hosts) calls.push({ method: 'nvmf_subsystem_add_host', params: { nqn: s.nqn, host, ...ctx.hostKeyNames.get(`${s.nqn} ${host}`) } });
        for (const n of s.namespaces)
          calls.push({ method: 'nvmf_subsystem_add_ns', params: { nqn: s.nqn, namespace: { nsid: n.nsid, bdev_name: n.bdevName, uuid: n.uuid, nguid: n.nguid.replaceAll('-', '').toUpperCase() } } });
        for (const l of s.listeners) {
          const listen_address = { trtype: 'TCP', adrfam: l.address.includes(':') ? 'IPv6' : 'IPv4', traddr: l.address, trsvcid: String(l.port) };
          calls.push({ method: 'nvmf_subsystem_add_listener', params: { nqn: s.nqn, listen_address, ...(l.secureChannel ? { secure_channel: true } : {}) } });
          if (l.anaState !== 'optimized')
            calls.push({ method: 'nvmf_subsystem_listener_set_ana_state', params: { nqn: s.nqn, listen_address, ana_state: l.anaState } });
        }
      }
      return calls;
    }
    default:
      return undefined;
  }
}
