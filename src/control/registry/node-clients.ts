// One JSON-RPC connection per node daemon, made on first use and made again after it
// drops. Calls fail with a ControlError: NodeOffline when the daemon cannot be reached,
// NodeError (with the daemon's code) when it refused the call.
import { RpcClient } from '../../rpc/client.js';
import { RpcError } from '../../rpc/protocol.js';
import { ControlError } from '../errors.js';
import { failpointAfter } from '../failpoint.js';
import type { NodeEndpoint } from '../types.js';

export class NodeClients {
  #clients = new Map<string, Promise<RpcClient>>();
  #endpoints = new Map<string, NodeEndpoint>();
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: { token?: string | undefined; timeoutMs?: number } = {}) {
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Where `node` answers; a changed endpoint drops the old connection. */
  setEndpoint(node: string, endpoint: NodeEndpoint): void {
    const old = this.#endpoints.get(node);
    if (old && JSON.stringify(old) === JSON.stringify(endpoint)) return;
    this.#endpoints.set(node, endpoint);
    this.#drop(node);
  }

  #drop(node: string): void {
    const client = this.#clients.get(node);
    this.#clients.delete(node);
    client?.then((c) => c.close(), () => undefined);
  }

  #client(node: string): Promise<RpcClient> {
    let client = this.#clients.get(node);
    if (!client) {
      const endpoint = this.#endpoints.get(node);
      if (!endpoint) return Promise.reject(new ControlError('NotFound', `node ${node} is not registered`, { node }));
      client = RpcClient.connect({
        ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { tcp: endpoint.tcp! }),
        ...(this.#token !== undefined ? { token: this.#token } : {}),
        timeoutMs: this.#timeoutMs,
      });
      this.#clients.set(node, client);
      client.then(
        (c) => c.once('close', () => this.#clients.get(node) === client && this.#clients.delete(node)),
        () => this.#clients.get(node) === client && this.#clients.delete(node),
      );
    }
    return client;
  }

  /** `timeoutMs` bounds this call; an unanswered call drops the connection (a stopped daemon). */
  async call<T = unknown>(node: string, method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    let client: RpcClient;
    try {
      client = await this.#client(node);
    } catch (error) {
      if (error instanceof ControlError) throw error;
      throw new ControlError('NodeOffline', `node ${node} cannot be reached: ${(error as Error).message}`, { node, method });
    }
    try {
      const result = await client.call<T>(method, params, timeoutMs !== undefined ? { timeoutMs } : {});
      failpointAfter(method);
      return result;
    } catch (error) {
      if (error instanceof RpcError) {
        const data = error.data as { code?: string } | undefined;
        throw new ControlError('NodeError', `node ${node}: ${method}: ${error.message}`, { node, method, rpcCode: error.code, code: data?.code });
      }
      this.#drop(node);
      throw new ControlError('NodeOffline', `node ${node}: ${method}: ${(error as Error).message}`, { node, method });
    }
  }

  #subscriptions = new Map<string, Promise<RpcClient>>();

  /**
   * Receives `node`'s events (events_subscribe) on a connection of their own, made again
   * by the next call after it drops. Resolves once subscribed.
   */
  async ensureSubscribed(node: string, onEvent: (event: Record<string, unknown>) => void): Promise<void> {
    if (this.#subscriptions.has(node)) return;
    const endpoint = this.#endpoints.get(node);
    if (!endpoint) return;
    const subscription = RpcClient.connect({
      ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { tcp: endpoint.tcp! }),
      ...(this.#token !== undefined ? { token: this.#token } : {}),
      timeoutMs: this.#timeoutMs,
    }).then(async (client) => {
      client.on('notification', (method, params) => {
        if (method === 'event' && params && typeof params === 'object') onEvent(params as Record<string, unknown>);
      });
      client.once('close', () => this.#subscriptions.get(node) === subscription && this.#subscriptions.delete(node));
      await client.call('events_subscribe');
      return client;
    });
    this.#subscriptions.set(node, subscription);
    try {
      await subscription;
    } catch {
      if (this.#subscriptions.get(node) === subscription) this.#subscriptions.delete(node);
    }
  }

  close(): void {
    for (const node of [...this.#clients.keys()]) this.#drop(node);
    for (const subscription of this.#subscriptions.values()) subscription.then((c) => c.close(), () => undefined);
    this.#subscriptions.clear();
  }
}

/** The daemon's error code (e.g. 'ENOENT') behind a NodeError, if any. */
export function nodeErrorCode(error: unknown): string | undefined {
  return error instanceof ControlError && error.code === 'NodeError' ? (error.details.code as string | undefined) : undefined;
}
