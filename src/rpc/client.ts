// A typed JSON-RPC client for the daemon (the CLI and the control plane use it): Unix
// socket or TCP (with the token, optionally TLS), pipelined calls matched by id, and the
// notifications a subscription brings.
import { EventEmitter } from 'node:events';
import { connect as connectTcp, createConnection, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { currentRequestId } from '../request-context.js';
import { JsonFramer } from './framing.js';
import { RpcError, type RpcErrorBody } from './protocol.js';

export interface RpcClientOptions {
  socketPath?: string;
  tcp?: { host: string; port: number };
  token?: string;
  /** TLS over TCP; `ca` to trust a self-signed daemon certificate. */
  tls?: { ca?: Buffer; rejectUnauthorized?: boolean };
  /** Per call; default 60 s. */
  timeoutMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class RpcClient extends EventEmitter<{ notification: [method: string, params: unknown]; close: [] }> {
  #socket: Socket;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #options: RpcClientOptions;
  #closed = false;

  private constructor(socket: Socket, options: RpcClientOptions) {
    super();
    this.#socket = socket;
    this.#options = options;
    const framer = new JsonFramer(64 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      const { texts, error } = framer.push(chunk);
      for (const text of texts) this.#receive(text);
      if (error) this.#fail(new Error(`the daemon sent something that is not JSON-RPC: ${error}`));
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the connection to the daemon closed')));
  }

  static connect(options: RpcClientOptions): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      let socket: Socket;
      if (options.socketPath) socket = createConnection(options.socketPath);
      else if (options.tcp && options.tls)
        socket = connectTls({ host: options.tcp.host, port: options.tcp.port, ca: options.tls.ca, rejectUnauthorized: options.tls.rejectUnauthorized ?? true });
      else if (options.tcp) socket = connectTcp(options.tcp.port, options.tcp.host);
      else return reject(new TypeError('RpcClient needs socketPath or tcp'));
      const ready = options.tcp && options.tls ? 'secureConnect' : 'connect';
      socket.once(ready, () => {
        socket.off('error', reject);
        resolve(new RpcClient(socket, options));
      });
      socket.once('error', reject);
    });
  }

  /**
   * Calls `method`; rejects with an RpcError carrying the daemon's code, message and data.
   * The call carries `options.requestId`, or the request id this code runs under.
   */
  call<T = unknown>(method: string, params?: Record<string, unknown> | unknown[], options: { timeoutMs?: number; requestId?: string } = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the connection to the daemon is closed'));
    const id = this.#nextId++;
    const request: Record<string, unknown> = { jsonrpc: '2.0', method, id };
    if (params !== undefined) request.params = params;
    if (this.#options.token !== undefined) request.token = this.#options.token;
    const requestId = options.requestId ?? currentRequestId();
    if (requestId !== undefined) request.request_id = requestId;
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#socket.write(`${JSON.stringify(request)}\n`);
    });
  }

  close(): void {
    this.#closed = true;
    this.#socket.end();
    this.#socket.destroy();
  }

  #receive(text: string): void {
    let message: { id?: number; result?: unknown; error?: RpcErrorBody; method?: string; params?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return this.#fail(new Error('the daemon sent invalid JSON'));
    }
    if (message.id === undefined && typeof message.method === 'string') {
      this.emit('notification', message.method, message.params);
      return;
    }
    const pending = typeof message.id === 'number' ? this.#pending.get(message.id) : undefined;
    if (!pending) return;
    this.#pending.delete(message.id!);
    clearTimeout(pending.timer);
    if (message.error) pending.reject(new RpcError(message.error.code, message.error.message, message.error.data));
    else pending.resolve(message.result);
  }

  #fail(error: Error): void {
    const wasOpen = !this.#closed;
    this.#closed = true;
    for (const [, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    if (wasOpen) this.emit('close');
    this.#socket.destroy();
  }
}
