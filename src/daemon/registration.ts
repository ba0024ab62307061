// A daemon started with --control registers with the control plane (its name, RPC
// endpoint, replica listener and labels) and keeps its registration alive with a
// heartbeat; when the heartbeats stop for the node TTL the control plane marks it Offline.
// With the embedded store the daemon's nexus info goes through the control plane too.
import { ControlClient } from '../control/client.js';
import { ControlError } from '../control/errors.js';
import type { NodeEndpoint } from '../control/types.js';
import type { NexusInfoStore, StoredNexusInfo } from './nexus-store.js';

export interface ControlOptions {
  /** One or more control-plane URLs (http://host:port). */
  urls: string[];
  token?: string;
  labels?: Record<string, string>;
  /** Where this node publishes volume targets; default 4421. */
  targetPort?: number;
  /** Default 1 s. */
  heartbeatMs?: number;
}

export class ControlRegistration {
  readonly client: ControlClient;
  readonly #body: Record<string, unknown>;
  readonly #node: string;
  readonly #heartbeatMs: number;
  readonly #warn: (message: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #registered = false;
  #stopped = false;

  constructor(options: ControlOptions, node: string, rpc: NodeEndpoint, replicaListener: { address: string; port: number }, warn: (message: string) => void) {
    this.client = new ControlClient(options.urls, { token: options.token, timeoutMs: 10_000 });
    this.#node = node;
    this.#heartbeatMs = options.heartbeatMs ?? 1_000;
    this.#warn = warn;
    this.#body = { rpc, replicaListener, labels: options.labels ?? {}, ...(options.targetPort ? { targetPort: options.targetPort } : {}) };
  }

  /** Registers now (or keeps trying in the background if no control plane answers yet). */
  async start(): Promise<void> {
    await this.#beat();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#beat().finally(() => this.#schedule()), this.#heartbeatMs);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    try {
      if (!this.#registered) {
        await this.client.request('PUT', `/v0/nodes/${this.#node}`, this.#body);
        this.#registered = true;
        return;
      }
      await this.client.request('POST', `/v0/nodes/${this.#node}/heartbeat`);
    } catch (error) {
      if (error instanceof ControlError && error.code === 'NotFound') this.#registered = false;
      this.#warn(`control plane: ${(error as Error).message}`);
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** Nexus info kept by the control plane (its store), written through its REST API. */
export class ControlNexusInfoStore implements NexusInfoStore {
  readonly #client: ControlClient;
  readonly #node: string;
  /** `node` names the writer: the control plane refuses a nexus that is no longer the volume's target. */
  constructor(client: ControlClient, node: string) {
    this.#client = client;
    this.#node = node;
  }

  async save(info: StoredNexusInfo): Promise<void> {
    await this.#client.request('PUT', `/v0/nexus-info/${info.uuid}?node=${encodeURIComponent(this.#node)}`, info);
  }

  async load(uuid: string): Promise<StoredNexusInfo | undefined> {
    try {
      return await this.#client.request<StoredNexusInfo>('GET', `/v0/nexus-info/${uuid}`);
    } catch (error) {
      if (error instanceof ControlError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  async remove(uuid: string): Promise<void> {
    await this.#client.request('DELETE', `/v0/nexus-info/${uuid}?node=${encodeURIComponent(this.#node)}`);
  }
}
