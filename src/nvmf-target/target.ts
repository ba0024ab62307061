import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { binding, type NativeDiscoveryEntry, type NativeEngine, type NativeSubsystemInfo, type NvmfErrorCounts } from '../binding.js';
import { NodestorError, withCallerStack } from '../errors.js';
import { NQN_MAX_BYTES, NQN_PATTERN, requireInteger, requireOneOf, requireString } from '../validate.js';

/** What the NVMe-oF API needs from the engine. @internal */
export interface NvmfHost {
  readonly nativeHandle: NativeEngine;
  assertRunning(op: string, resource?: string): void;
}

export interface SubsystemOptions {
  /** nqn.yyyy-mm.reverse.domain[:name], at most 223 bytes. */
  nqn: string;
  /** Up to 20 printable ASCII characters (default NODESTOR0000001). */
  serial?: string;
  /** Up to 40 printable ASCII characters (default 'nodestor'). */
  model?: string;
  /** Default false: only the hosts listed may connect. */
  allowAnyHost?: boolean;
  hosts?: string[];
  /** 1-1024, default 32. */
  maxNamespaces?: number;
}

export interface NamespaceOptions {
  /** 1..maxNamespaces; default the lowest free one. */
  nsid?: number;
  /** Default: the bdev's UUID. */
  uuid?: string;
  /** A 16-byte identifier written as a UUID; default: the namespace UUID. */
  nguid?: string;
}

export interface ListenerAddress {
  /** A numeric IPv4 or IPv6 address. Default 127.0.0.1: nothing is exposed unless asked. */
  address?: string;
  /** Default 4420; 0 picks a free port (the resolved listener says which). */
  port?: number;
}

export type AnaState = 'optimized' | 'non_optimized' | 'inaccessible';
const AnaStateCode: Record<AnaState, number> = { optimized: 1, non_optimized: 2, inaccessible: 3 };

/** One discovery log entry: subtype 'nvme' for an NVM subsystem, 'discovery-current' for the discovery subsystem answering. */
import type { DiscoveryEntry } from '../native/nvmf.js';
export type { DiscoveryEntry };

import type { SubsystemInfo } from '../native/nvmf.js';
export type { SubsystemInfo };
export type { NvmfErrorCounts };

/** A host's controller on one of our subsystems came (connected: true) or went. */
export interface HostConnectionEvent {
  subsystem: string;
  hostNqn: string;
  cntlid: number;
  connected: boolean;
}

function requireAddress(value: ListenerAddress | undefined, name: string, defaultPort: number): { address: string; port: number } {
  if (value !== undefined && (value === null || typeof value !== 'object')) throw new TypeError(`${name} must be an object`);
  const address = requireString(value?.address ?? '127.0.0.1', `${name}.address`);
  if (isIP(address) === 0) throw new RangeError(`${name}.address must be a numeric IPv4 or IPv6 address, got '${address}'`);
  const port = requireInteger(value?.port ?? defaultPort, `${name}.port`, 0, 65535);
  return { address, port };
}

/**
 * A host's secrets: DH-HMAC-CHAP keys in the specification's form `DHHC-1:xx:<base64>:`,
 * and a TLS PSK: its interchange form `NVMeTLSkey-1:xx:<base64>:` or the absolute path of
 * a file (mode 0600) holding it. A host with a PSK must connect over TLS.
 */
export interface HostKeys {
  dhchapKey?: string;
  dhchapCtrlrKey?: string;
  psk?: string;
}

/** Where a subsystem listens; `secureChannel: true` refuses hosts that do not use TLS. */
export interface SubsystemListenerOptions extends ListenerAddress {
  secureChannel?: boolean;
}
export type DhchapDigest = 'sha256' | 'sha384' | 'sha512';
export type DhchapDhGroup = 'null' | 'ffdhe2048' | 'ffdhe3072' | 'ffdhe4096' | 'ffdhe6144' | 'ffdhe8192';

function requireHostKeys(keys: HostKeys): { dhchapKey: string | null; dhchapCtrlrKey: string | null } {
  if (keys === null || typeof keys !== 'object') throw new TypeError('keys must be an object');
  // Messages name the field, never the value.
  for (const field of ['dhchapKey', 'dhchapCtrlrKey', 'psk'] as const)
    if (keys[field] !== undefined && typeof keys[field] !== 'string') throw new TypeError(`${field} must be a string`);
  if (keys.dhchapCtrlrKey !== undefined && keys.dhchapKey === undefined) throw new TypeError('dhchapCtrlrKey needs dhchapKey');
  return { dhchapKey: keys.dhchapKey ?? null, dhchapCtrlrKey: keys.dhchapCtrlrKey ?? null };
}

function requireNqn(value: unknown, name: string): string {
  const nqn = requireString(value, name);
  if (!new RegExp(NQN_PATTERN).test(nqn) || nqn.length > NQN_MAX_BYTES)
    throw new RangeError(`${name} must look like nqn.yyyy-mm.reverse.domain[:name] (at most 223 bytes), got '${nqn}'`);
  return nqn;
}

/** An NVMe-oF subsystem of this engine's target (engine.nvmf.createSubsystem). */
export class Subsystem {
  readonly nqn: string;
  #host: NvmfHost;

  /** @internal */
  constructor(host: NvmfHost, nqn: string) {
    this.#host = host;
    this.nqn = nqn;
  }

  /** Exposes a bdev as a namespace; resolves with its NSID. Hosts connected get an async event. */
  addNamespace(bdevName: string, options: NamespaceOptions = {}): Promise<number> {
    return this.#call('addNamespace', () => {
      requireString(bdevName, 'bdevName');
      const nsid = requireInteger(options.nsid ?? 0, 'nsid', 0, 1024);
      const uuid = options.uuid === undefined ? null : requireString(options.uuid, 'uuid');
      const nguid = options.nguid === undefined ? null : requireString(options.nguid, 'nguid');
      for (const [value, key] of [[uuid, 'uuid'], [nguid, 'nguid']] as const)
        if (value !== null && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value))
          throw new RangeError(`${key} must be a UUID, got '${value}'`);
      return binding().nvmfAddNamespace(this.#host.nativeHandle, this.nqn, bdevName, nsid, uuid, nguid);
    });
  }

  /** Removes a namespace; resolves once no connection uses its bdev any more. */
  removeNamespace(nsid: number): Promise<void> {
    return this.#call('removeNamespace', () =>
      binding().nvmfRemoveNamespace(this.#host.nativeHandle, this.nqn, requireInteger(nsid, 'nsid', 1, 1024)),
    );
  }

  /** Listens on an address (IPv4 or IPv6); resolves with the address and the bound port. */
  addListener(listener: SubsystemListenerOptions = {}): Promise<{ address: string; port: number }> {
    return this.#call('addListener', async () => {
      const { address, port } = requireAddress(listener, 'listener', 4420);
      const secureChannel = listener.secureChannel ?? false;
      if (typeof secureChannel !== 'boolean') throw new TypeError('listener.secureChannel must be a boolean');
      const bound = await binding().nvmfAddListener(this.#host.nativeHandle, this.nqn, address, port, secureChannel);
      return { address, port: bound };
    });
  }

  /** Stops serving this subsystem there; hosts connected through it lose their controllers. */
  removeListener(listener: ListenerAddress): Promise<void> {
    return this.#call('removeListener', () => {
      const { address, port } = requireAddress(listener, 'listener', 4420);
      return binding().nvmfRemoveListener(this.#host.nativeHandle, this.nqn, address, port);
    });
  }

  /**
   * Lets a host connect. With `dhchapKey` (a DH-HMAC-CHAP secret, `DHHC-1:xx:<base64>:`)
   * the host must authenticate each queue with it; with `dhchapCtrlrKey` too, the
   * controller proves that key to a host that asks (bidirectional). The keys are never
   * logged nor returned; they are wiped in the engine when the host is removed.
   */
  addHost(hostNqn: string, keys: HostKeys = {}): Promise<void> {
    return this.#call('addHost', async () => {
      const host = requireNqn(hostNqn, 'hostNqn');
      const { dhchapKey, dhchapCtrlrKey } = requireHostKeys(keys);
      await binding().nvmfAddHost(this.#host.nativeHandle, this.nqn, host);
      if (dhchapKey === null && keys.psk === undefined) return;
      try {
        if (dhchapKey !== null) await binding().nvmfSetHostKeys(this.#host.nativeHandle, this.nqn, host, dhchapKey, dhchapCtrlrKey);
        if (keys.psk !== undefined) await binding().nvmfSetHostPsk(this.#host.nativeHandle, this.nqn, host, keys.psk);
      } catch (error) {
        await binding().nvmfRemoveHost(this.#host.nativeHandle, this.nqn, host); // a refused key adds nothing
        throw error;
      }
    });
  }

  /** Replaces a listed host's DH-HMAC-CHAP keys (and its PSK if `psk` is given); `{}` takes the keys away (its controllers end). */
  setHostKeys(hostNqn: string, keys: HostKeys): Promise<void> {
    return this.#call('setHostKeys', async () => {
      const { dhchapKey, dhchapCtrlrKey } = requireHostKeys(keys);
      const host = requireNqn(hostNqn, 'hostNqn');
      await binding().nvmfSetHostKeys(this.#host.nativeHandle, this.nqn, host, dhchapKey, dhchapCtrlrKey);
      if (keys.psk !== undefined) await binding().nvmfSetHostPsk(this.#host.nativeHandle, this.nqn, host, keys.psk);
    });
  }

  /** Replaces a listed host's TLS PSK (interchange form or 0600 file path); null takes it away. */
  setHostPsk(hostNqn: string, psk: string | null): Promise<void> {
    return this.#call('setHostPsk', () => {
      if (psk !== null && typeof psk !== 'string') throw new TypeError('psk must be a string or null');
      return binding().nvmfSetHostPsk(this.#host.nativeHandle, this.nqn, requireNqn(hostNqn, 'hostNqn'), psk);
    });
  }

  /** Which DH-HMAC-CHAP hash functions and DH groups hosts may use here (default: all). */
  setDhchapPolicy(policy: { digests?: DhchapDigest[]; dhgroups?: DhchapDhGroup[] }): Promise<void> {
    return this.#call('setDhchapPolicy', () => {
      if (policy === null || typeof policy !== 'object') throw new TypeError('policy must be an object');
      const digests = policy.digests ?? ['sha256', 'sha384', 'sha512'];
      const dhgroups = policy.dhgroups ?? ['null', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'];
      if (!Array.isArray(digests) || !Array.isArray(dhgroups)) throw new TypeError('digests and dhgroups must be arrays');
      return binding().nvmfSetDhchapPolicy(this.#host.nativeHandle, this.nqn, digests.map(String), dhgroups.map(String));
    });
  }

  /** With true, any host may connect; with false, only the listed hosts (from the next connection on). */
  setAllowAnyHost(allow: boolean): Promise<void> {
    return this.#call('setAllowAnyHost', () => {
      if (typeof allow !== 'boolean') throw new TypeError('allow must be a boolean');
      return binding().nvmfSetAllowAnyHost(this.#host.nativeHandle, this.nqn, allow);
    });
  }

  /** Takes a host off the allowlist; its controllers are torn down now. */
  removeHost(hostNqn: string): Promise<void> {
    return this.#call('removeHost', () => binding().nvmfRemoveHost(this.#host.nativeHandle, this.nqn, requireString(hostNqn, 'hostNqn')));
  }

  /** The ANA state hosts see through that listener (an async event tells them). */
  setAnaState(listener: ListenerAddress, state: AnaState): Promise<void> {
    return this.#call('setAnaState', () => {
      const { address, port } = requireAddress(listener, 'listener', 4420);
      const s = requireOneOf(state, 'state', ['optimized', 'non_optimized', 'inaccessible'] as const);
      return binding().nvmfSetAnaState(this.#host.nativeHandle, this.nqn, address, port, AnaStateCode[s]);
    });
  }

  /** Current configuration and the number of controllers hosts have. */
  async info(): Promise<SubsystemInfo> {
    const all = await this.#call('info', () => binding().nvmfList(this.#host.nativeHandle));
    const found = all.find((s) => s.nqn === this.nqn);
    if (!found) throw new NodestorError('ENOENT', `subsystem ${this.nqn} does not exist`, { op: 'info', resource: this.nqn });
    return found;
  }

  /** Ends every controller, removes the namespaces (releasing their bdevs) and listeners. */
  destroy(): Promise<void> {
    return this.#call('destroy', () => binding().nvmfDestroySubsystem(this.#host.nativeHandle, this.nqn));
  }

  #call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return withCallerStack(op, this.nqn, async () => {
      this.#host.assertRunning(op, this.nqn);
      return fn();
    });
  }
}

/** The engine's NVMe-oF target and discovery (engine.nvmf). */
/** The engine's NVMe-oF target. Emits 'host' when a host's controller connects or goes. */
export class NvmfTarget extends EventEmitter<{ host: [HostConnectionEvent] }> {
  #host: NvmfHost;

  /** @internal */
  constructor(host: NvmfHost) {
    super();
    this.#host = host;
  }

  /** @internal From the engine's event pump. */
  dispatchHost(event: HostConnectionEvent): void {
    this.emit('host', event);
  }

  /** This process's default host NQN (used by nvmf:// bdevs without hostnqn=). */
  get hostNqn(): string {
    return binding().nvmfHostNqn();
  }

  createSubsystem(options: SubsystemOptions): Promise<Subsystem> {
    return withCallerStack('createSubsystem', typeof options?.nqn === 'string' ? options.nqn : undefined, async () => {
      if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
      const nqn = requireNqn(options.nqn, 'nqn');
      const serial = requireString(options.serial ?? 'NODESTOR0000001', 'serial');
      const model = requireString(options.model ?? 'nodestor', 'model');
      const allowAnyHost = options.allowAnyHost ?? false;
      if (typeof allowAnyHost !== 'boolean') throw new TypeError('allowAnyHost must be a boolean');
      const hosts = options.hosts ?? [];
      if (!Array.isArray(hosts)) throw new TypeError('hosts must be an array of host NQNs');
      hosts.forEach((h, i) => requireNqn(h, `hosts[${i}]`));
      const maxNamespaces = requireInteger(options.maxNamespaces ?? 32, 'maxNamespaces', 1, 1024);
      this.#host.assertRunning('createSubsystem', nqn);
      await binding().nvmfCreateSubsystem(this.#host.nativeHandle, nqn, serial, model, allowAnyHost, [...hosts], maxNamespaces);
      return new Subsystem(this.#host, nqn);
    });
  }

  /** A handle on an existing subsystem (ENOENT at its first call if there is none). */
  subsystem(nqn: string): Subsystem {
    return new Subsystem(this.#host, requireNqn(nqn, 'nqn'));
  }

  listSubsystems(): Promise<SubsystemInfo[]> {
    return withCallerStack('listSubsystems', undefined, async () => {
      this.#host.assertRunning('listSubsystems');
      return binding().nvmfList(this.#host.nativeHandle);
    });
  }

  /** What ended host connections to this target, by cause, and hosts refused, since the engine started. */
  errorCounts(): Promise<NvmfErrorCounts> {
    return withCallerStack('errorCounts', undefined, async () => {
      this.#host.assertRunning('errorCounts');
      return binding().nvmfErrorCounts(this.#host.nativeHandle);
    });
  }

  /** The active namespace IDs of a subsystem on any NVMe/TCP target (ours or not). */
  listNamespaces(options: ListenerAddress & { subnqn: string; hostNqn?: string } & HostKeys): Promise<number[]> {
    return withCallerStack('listNamespaces', options?.subnqn, async () => {
      const { address, port } = requireAddress(options, 'options', 4420);
      const subnqn = requireNqn(options.subnqn, 'subnqn');
      const hostNqn = options.hostNqn === undefined ? '' : requireNqn(options.hostNqn, 'hostNqn');
      const { dhchapKey, dhchapCtrlrKey } = requireHostKeys(options);
      this.#host.assertRunning('listNamespaces', subnqn);
      return binding().nvmfListNamespaces(this.#host.nativeHandle, address, port, subnqn, hostNqn, dhchapKey, dhchapCtrlrKey, options.psk ?? null);
    });
  }

  /** The discovery log of a target (any NVMe/TCP target, ours or not). */
  discover(options: ListenerAddress & { hostNqn?: string }): Promise<DiscoveryEntry[]> {
    return withCallerStack('discover', undefined, async () => {
      const { address, port } = requireAddress(options, 'options', 4420);
      const hostNqn = options.hostNqn === undefined ? '' : requireNqn(options.hostNqn, 'hostNqn');
      this.#host.assertRunning('discover');
      return binding().nvmfDiscover(this.#host.nativeHandle, address, port, hostNqn);
    });
  }
}
