// The control plane: the state store, the registry of nodes, the services that change
// volumes and pools, the reconcilers, and the REST API. On etcd several may run; one
// leads (an election on a lease) and only the leader reconciles.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { requestLogger } from '../request-context.js';
import { startApi } from './api/server.js';
import { EventLog } from './events.js';
import { controlMetrics } from './metrics.js';
import { VolumeEventReconciler } from './reconcilers/volume-events.js';
import { NodeClients } from './registry/node-clients.js';
import { Registry } from './registry/registry.js';
import { FaultedChildReconciler } from './reconcilers/faulted-child.js';
import { GarbageReconciler } from './reconcilers/garbage.js';
import { NodeReconciler } from './reconcilers/nodes.js';
import { OperationReconciler } from './reconcilers/operations.js';
import { PoolReconciler } from './reconcilers/pools.js';
import { ReconcileRunner } from './reconcilers/reconciler.js';
import { ReplicaCountReconciler } from './reconcilers/replica-count.js';
import { TargetReconciler } from './reconcilers/target.js';
import { Pools } from './services/pools.js';
import { Snapshots } from './services/snapshots.js';
import { Targets } from './services/targets.js';
import { Volumes } from './services/volumes.js';
import { SpecStore } from './specs/spec-store.js';
import { Election } from './store/election.js';
import { EmbeddedStore } from './store/embedded.js';
import { EtcdStore } from './store/etcd.js';
import { StoreNexusInfoStore } from './store/nexus-info.js';
import type { StateStore } from './store/store.js';
import { DEFAULTS } from './types.js';

export interface ControlPlaneOptions {
  /** A store, or 'embedded:DIR' | 'etcd://host:port[,host:port]'. */
  store: StateStore | string;
  /** Default 127.0.0.1:8080; port 0 picks one. */
  listen?: { host: string; port: number };
  /** The Bearer token the REST API requires. */
  token?: string;
  /** The token for daemons' RPC over TCP. */
  daemonToken?: string;
  nodeTtlMs?: number;
  reconcileMs?: number;
  garbageGraceMs?: number;
  /** The leader's lease on etcd; default 5 s. */
  electionTtlMs?: number;
  overcommit?: number;
  /** Nexuses open remote replicas with NVMe/TCP header and data digests (CRC32C). */
  childDigests?: boolean;
  logger?: Logger;
  logLevel?: string;
}

export async function openStore(spec: string): Promise<StateStore> {
  if (spec.startsWith('embedded:')) return EmbeddedStore.open(spec.slice('embedded:'.length));
  if (spec.startsWith('etcd://')) return EtcdStore.connect(spec.slice('etcd://'.length).split(','));
  throw new RangeError(`a store is embedded:DIR or etcd://host:port[,host:port], got '${spec}'`);
}

export class ControlPlane {
  readonly store: StateStore;
  readonly registry: Registry;
  readonly volumes: Volumes;
  readonly pools: Pools;
  readonly log: Logger;
  readonly runner: ReconcileRunner;
  readonly #api: FastifyInstance;
  readonly #clients: NodeClients;
  readonly #election: Election | undefined;
  readonly #ownsStore: boolean;

  private constructor(parts: {
    store: StateStore;
    registry: Registry;
    volumes: Volumes;
    pools: Pools;
    log: Logger;
    runner: ReconcileRunner;
    api: FastifyInstance;
    clients: NodeClients;
    election: Election | undefined;
    ownsStore: boolean;
  }) {
    this.store = parts.store;
    this.registry = parts.registry;
    this.volumes = parts.volumes;
    this.pools = parts.pools;
    this.log = parts.log;
    this.runner = parts.runner;
    this.#api = parts.api;
    this.#clients = parts.clients;
    this.#election = parts.election;
    this.#ownsStore = parts.ownsStore;
  }

  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    // Every line written for a management operation carries its request id.
    const log = requestLogger(options.logger ?? pino({ level: options.logLevel ?? 'info', base: { component: 'control' } }, pino.destination({ dest: 2, sync: true })));
    const ownsStore = typeof options.store === 'string';
    const store = typeof options.store === 'string' ? await openStore(options.store) : options.store;
    const specs = new SpecStore(store);
    const clients = new NodeClients({ token: options.daemonToken });
    const registry = new Registry(specs, clients, { nodeTtlMs: options.nodeTtlMs ?? DEFAULTS.nodeTtlMs });
    const nexusInfo = new StoreNexusInfoStore(store);
    const events = new EventLog();
    const pools = new Pools({ specs, registry, clients, log });
    const targets = new Targets(registry, clients, nexusInfo, { digests: options.childDigests ?? false });
    const volumes = new Volumes({ specs, registry, clients, targets, pools, log, events, ...(options.overcommit ? { overcommit: options.overcommit } : {}) });
    const snapshots = new Snapshots(volumes, registry, clients, log);
    const election = store.kind === 'etcd' ? await Election.campaign(store, 'control-plane', randomUUID(), options.electionTtlMs ?? 5_000) : undefined;
    const runner = new ReconcileRunner(
      [
        new NodeReconciler(registry, clients, events, log),
        new PoolReconciler(pools, registry, log),
        new OperationReconciler(specs, volumes, registry, snapshots, log),
        new TargetReconciler(specs, volumes, registry, log),
        new FaultedChildReconciler(specs, volumes, registry, log),
        new ReplicaCountReconciler(specs, volumes, log),
        new GarbageReconciler(specs, registry, clients, log, options.garbageGraceMs ?? DEFAULTS.garbageGraceMs),
        new VolumeEventReconciler(volumes, events),
      ],
      { specs, log, periodMs: options.reconcileMs ?? DEFAULTS.reconcileMs, isLeader: () => election?.isLeader ?? true },
    );
    election?.onChange((leader) => {
      log.info({ leader }, leader ? 'leading: reconciling' : 'standing by');
      if (leader) void runner.trigger();
    });
    const metrics = controlMetrics(volumes, registry, runner);
    let api: FastifyInstance;
    try {
      await registry.refresh();
      await pools.list();
      api = await startApi(
        {
          registry,
          pools,
          volumes,
          snapshots,
          nexusInfo,
          reconcileSoon: () => void runner.trigger(),
          metrics: () => metrics,
          events,
          status: () => ({ leader: election?.isLeader ?? true, store: store.kind, reconcile: runner.stats }),
        },
        { host: options.listen?.host ?? '127.0.0.1', port: options.listen?.port ?? 8080, token: options.token, log },
      );
    } catch (error) {
      await election?.resign().catch(() => undefined);
      clients.close();
      if (ownsStore) await store.close();
      throw error;
    }
    const plane = new ControlPlane({ store, registry, volumes, pools, log, runner, api, clients, election, ownsStore });
    runner.start();
    log.info({ url: plane.url, store: store.kind, leader: election?.isLeader ?? true }, 'control plane ready');
    return plane;
  }

  get url(): string {
    const address = this.#api.server.address();
    if (address === null || typeof address === 'string') return String(address);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  get isLeader(): boolean {
    return this.#election?.isLeader ?? true;
  }

  /** One reconcile pass now (tests and the benchmark use it). */
  reconcileNow(): Promise<void> {
    return this.runner.trigger();
  }

  async stop(): Promise<void> {
    await this.runner.stop();
    await this.#api.close();
    await this.#election?.resign().catch(() => undefined);
    this.#clients.close();
    if (this.#ownsStore) await this.store.close();
    this.log.info({}, 'control plane stopped');
  }
}
