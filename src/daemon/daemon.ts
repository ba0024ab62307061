// The node daemon: one engine, its JSON-RPC server (Unix socket, optional TCP), an optional
// SPDK-format config applied before the daemon answers, and a clean stop (nexuses shut
// down with the clean flag persisted, subsystems removed, pools exported).
import pino from 'pino';
import { requestLogger } from '../request-context.js';
import { packageVersion } from '../version.js';
import { Engine } from '../engine.js';
import { MethodRegistry } from '../rpc/registry.js';
import { RpcServer } from '../rpc/server.js';
import { registerBdevMethods } from '../rpc/methods/bdev.js';
import { registerFrameworkMethods } from '../rpc/methods/framework.js';
import { registerLvolMethods } from '../rpc/methods/lvol.js';
import { registerNexusMethods } from '../rpc/methods/nexus.js';
import { registerKeyringMethods } from '../rpc/methods/keyring.js';
import { registerNvmeMethods } from '../rpc/methods/nvme.js';
import { registerNvmfMethods } from '../rpc/methods/nvmf.js';
import { registerPoolMethods } from '../rpc/methods/pools.js';
import { applyConfig, readConfig } from './config.js';
import { DaemonContext } from './context.js';
import { FileNexusInfoStore, type NexusInfoStore } from './nexus-store.js';
import { ControlNexusInfoStore, ControlRegistration, type ControlOptions } from './registration.js';
import type { Server } from 'node:http';
import { daemonMetrics } from '../metrics/daemon-metrics.js';
import { portOf, serveMetrics } from '../metrics/server.js';

export interface DaemonOptions {
  /** The node's name: in logs, events and the default socket path. */
  node: string;
  cores?: number[];
  memoryMb?: number;
  hugepages?: 'auto' | 'require' | 'off';
  idle?: 'poll' | 'adaptive';
  /** Default /var/tmp/nodestor-<node>.sock. */
  rpcSocket?: string;
  rpcTcp?: { host: string; port: number };
  token?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** An SPDK-format JSON config (a path or the parsed object), applied before the daemon answers. */
  config?: string | object;
  /** Where replica_create shares; default 127.0.0.1:8420. */
  replicaListener?: { address: string; port: number };
  /**
   * Where peers reach the replica listener when that is not where it listens (a proxy or a
   * NAT in between): replica URIs and the control-plane registration carry this address.
   */
  advertisedReplicaListener?: { address: string; port: number };
  logLevel?: string;
  /** Default /var/tmp/nodestor-<node>: the nexus-info files live here. */
  dataDir?: string;
  nexusStore?: NexusInfoStore;
  /** A pino logger to use instead of JSON lines on stderr. */
  logger?: pino.Logger;
  /**
   * Register with a control plane and keep the registration alive. Without `nexusStore`,
   * nexus info is then kept by the control plane.
   */
  control?: ControlOptions;
  /** Serve Prometheus metrics at http://host:port/metrics (port 0 picks one). */
  metrics?: { host: string; port: number };
}

export class Daemon {
  readonly context: DaemonContext;
  readonly registry: MethodRegistry;
  readonly log: pino.Logger;
  readonly socketPath: string;
  #server: RpcServer | undefined;
  #stopping: Promise<void> | undefined;
  #registration: ControlRegistration | undefined;
  #metrics: Server | undefined;

  private constructor(context: DaemonContext, registry: MethodRegistry, log: pino.Logger, socketPath: string) {
    this.context = context;
    this.registry = registry;
    this.log = log;
    this.socketPath = socketPath;
  }

  get tcpPort(): number | undefined {
    return this.#server?.tcpPort;
  }

  get metricsPort(): number | undefined {
    return this.#metrics ? portOf(this.#metrics) : undefined;
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    if (!options || typeof options.node !== 'string' || !/^[A-Za-z0-9._-]{1,63}$/.test(options.node))
      throw new RangeError('node must be 1-63 letters, digits, dots, dashes or underscores');
    // Every line written for a management operation carries its request id.
    const log = requestLogger(options.logger ?? pino({ level: options.logLevel ?? 'info', base: { node: options.node } }, pino.destination({ dest: 2, sync: true })));
    const engine = await Engine.start({
      ...(options.cores ? { cores: options.cores } : {}),
      ...(options.memoryMb ? { memoryMb: options.memoryMb } : {}),
      hugepages: options.hugepages ?? 'auto',
      idle: options.idle ?? 'adaptive',
    });
    for (const warning of engine.warnings) log.warn({ warning }, 'engine');
    const dataDir = options.dataDir ?? `/var/tmp/nodestor-${options.node}`;
    const socketPath = options.rpcSocket ?? `/var/tmp/nodestor-${options.node}.sock`;
    const replicaListener = options.replicaListener ?? { address: '127.0.0.1', port: 8420 };
    const advertised = options.advertisedReplicaListener ?? replicaListener;
    const registration = options.control
      ? new ControlRegistration(options.control, options.node, { socketPath }, advertised, (message) => log.warn({}, message))
      : undefined;
    const context = new DaemonContext({
      engine,
      node: options.node,
      log,
      nexusStore: options.nexusStore ?? (registration ? new ControlNexusInfoStore(registration.client, options.node) : new FileNexusInfoStore(`${dataDir}/nexus`)),
      replicaListener,
      ...(options.advertisedReplicaListener ? { advertisedReplicaListener: options.advertisedReplicaListener } : {}),
    });
    engine.nvmf.on('host', (e) =>
      context.emit({ kind: e.connected ? 'host.connected' : 'host.disconnected', subsystem: e.subsystem, hostNqn: e.hostNqn, cntlid: e.cntlid }),
    );
    const registry = new MethodRegistry((method, members) => log.warn({ method, ignored: members }, `${method}: these parameters have no meaning in nodestor`));
    const version = packageVersion();
    registerFrameworkMethods(registry, context, version);
    registerKeyringMethods(registry, context);
    registerBdevMethods(registry, context);
    registerNvmeMethods(registry, context);
    registerLvolMethods(registry, context);
    registerNvmfMethods(registry, context);
    registerPoolMethods(registry, context);
    registerNexusMethods(registry, context);
    const daemon = new Daemon(context, registry, log, socketPath);
    daemon.#registration = registration;
    try {
      if (options.config !== undefined) {
        const calls = await applyConfig(registry, readConfig(options.config));
        log.info({ calls }, 'config applied');
      }
      daemon.#server = await RpcServer.listen({
        registry,
        log,
        socketPath,
        ...(options.rpcTcp ? { tcp: options.rpcTcp } : {}),
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(options.tls ? { tls: options.tls } : {}),
      });
    } catch (error) {
      // Never half-configured: what the config made goes with the engine.
      await daemon.#shutdown().catch(() => undefined);
      throw error;
    }
    if (options.metrics) {
      try {
        const metrics = daemonMetrics(context);
        daemon.#metrics = await serveMetrics(() => metrics.render(), options.metrics);
      } catch (error) {
        await daemon.#shutdown().catch(() => undefined);
        throw error;
      }
    }
    if (registration) await registration.start();
    log.info({ socket: socketPath, tcpPort: daemon.tcpPort, metricsPort: daemon.metricsPort, version }, 'daemon ready');
    return daemon;
  }

  /** Stops cleanly; a second call returns the same promise. */
  stop(): Promise<void> {
    if (!this.#stopping) this.#stopping = this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    const { engine } = this.context;
    this.#registration?.stop();
    await new Promise((resolve) => (this.#metrics ? this.#metrics.close(resolve) : resolve(undefined)));
    this.#metrics = undefined;
    await this.#server?.close();
    this.#server = undefined;
    if (engine.status !== 'open') return;
    for (const nexus of engine.listNexuses()) {
      try {
        await nexus.shutdown(); // unpublishes, persists the clean flag
      } catch (error) {
        this.log.error({ nexus: nexus.name, error: (error as Error).message }, 'nexus shutdown failed');
      }
    }
    for (const s of await engine.nvmf.listSubsystems()) await engine.nvmf.subsystem(s.nqn).destroy().catch(() => undefined);
    for (const nexus of engine.listNexuses()) await nexus.destroy().catch(() => undefined);
    for (const pool of engine.listPools()) {
      try {
        await pool.export();
        this.log.info({ pool: pool.name }, 'pool exported');
      } catch (error) {
        this.log.error({ pool: pool.name, error: (error as Error).message }, 'pool export failed');
      }
    }
    await engine.stop();
    this.log.info({}, 'daemon stopped');
  }
}
