// What the RPC methods of one daemon share: its engine, its log, the events it emits, and
// what the engine cannot tell back (how each base bdev was made, which NVMe-oF controllers
// were attached under which name), so save_config can write the same calls again.
import { EventEmitter } from 'node:events';
import type { Bdev } from '../bdev/bdev.js';
import type { Engine } from '../engine.js';
import { NodestorError } from '../errors.js';
import type { Lvol } from '../lvol/lvol.js';
import type { RpcLogger } from '../rpc/server.js';
import type { NexusInfoStore } from './nexus-store.js';

/** A call that recreates an object, as save_config writes it. */
export interface ConfigCall {
  method: string;
  params?: Record<string, unknown>;
}

/** A controller attached with bdev_nvme_attach_controller. */
export interface AttachedController {
  name: string;
  bdevs: string[];
  trid: { trtype: 'TCP'; adrfam: string; traddr: string; trsvcid: string; subnqn: string };
  hostnqn: string;
  call: ConfigCall;
}

export interface DaemonEvent {
  kind: string;
  [key: string]: unknown;
}

export interface DaemonLimits {
  maxSubsystems: number;
  /** bdev_nvme_set_options: defaults for attached controllers (0 = nodestor's own). */
  nvmeCtrlrLossTimeoutSec: number;
  nvmeReconnectDelaySec: number;
}

export class DaemonContext {
  readonly engine: Engine;
  readonly node: string;
  readonly log: RpcLogger & { error(object: object, message?: string): void };
  readonly events = new EventEmitter<{ event: [DaemonEvent] }>();
  readonly nexusStore: NexusInfoStore;
  /** The replica listener (replica_create shares there). */
  readonly replicaListener: { address: string; port: number };
  /** Where peers reach it when that is elsewhere (a proxy, a NAT): replica URIs name this. */
  readonly advertisedReplicaListener: { address: string; port: number } | undefined;
  /** Base bdevs made by RPC, by bdev name, in creation order. */
  readonly bdevCalls = new Map<string, ConfigCall>();
  readonly controllers = new Map<string, AttachedController>();
  readonly transports = new Map<string, Record<string, unknown>>();
  readonly limits: DaemonLimits = { maxSubsystems: 1024, nvmeCtrlrLossTimeoutSec: 0, nvmeReconnectDelaySec: 0 };
  /** How each pool's disk was given (a URI, or bdev:///name), by pool name. */
  readonly poolDisks = new Map<string, string>();
  /** Nexus creation calls, by nexus name (their children and options). */
  readonly nexusCalls = new Map<string, ConfigCall>();
  readonly startedAt = Date.now();
  /** Keyring names a subsystem's host was given (by `${nqn} ${host}`), for save_config. */
  readonly hostKeyNames = new Map<string, { dhchap_key?: string; dhchap_ctrlr_key?: string; psk?: string }>();

  constructor(options: {
    engine: Engine;
    node: string;
    log: DaemonContext['log'];
    nexusStore: NexusInfoStore;
    replicaListener: { address: string; port: number };
    advertisedReplicaListener?: { address: string; port: number };
  }) {
    this.engine = options.engine;
    this.node = options.node;
    this.log = options.log;
    this.nexusStore = options.nexusStore;
    this.replicaListener = options.replicaListener;
    this.advertisedReplicaListener = options.advertisedReplicaListener;
  }

  emit(event: DaemonEvent): void {
    this.log.info({ event }, event.kind);
    this.events.emit('event', event);
  }

  /** The lvol with this UUID, or named pool/lvol. */
  findLvol(name: string): Lvol | undefined {
    for (const pool of this.engine.listPools()) {
      for (const lvol of pool.lvolsNow()) if (lvol.uuid === name || `${pool.name}/${lvol.name}` === name) return lvol;
    }
    return undefined;
  }

  /** A bdev by name, alias (an lvol's UUID) or UUID, as SPDK looks bdevs up. */
  findBdev(name: string): Bdev | undefined {
    const direct = this.engine.getBdev(name);
    if (direct) return direct;
    const lvol = this.findLvol(name);
    if (lvol) return lvol.bdev;
    return this.engine.listBdevs().find((b) => b.uuid === name);
  }

  requireBdev(name: string, op: string): Bdev {
    const bdev = this.findBdev(name);
    if (!bdev) throw new NodestorError('ENOENT', `no bdev named ${name}`, { op, resource: name, errno: -2 });
    return bdev;
  }
}
