// The JSON-RPC server: a Unix socket (mode 0600) and optionally TCP (token required,
// TLS optional). Each connection's requests run one at a time in arrival order, as SPDK's
// app thread runs them, so a pipelined create-then-delete cannot be reordered.
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { NodestorError } from '../errors.js';
import { JsonFramer } from './framing.js';
import { isRequestId, withRequestId } from '../request-context.js';
import { errorBody, RpcCode, type RpcId, type RpcResponse } from './protocol.js';
import type { MethodRegistry } from './registry.js';

export interface RpcLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
}

export interface RpcServerOptions {
  registry: MethodRegistry;
  log: RpcLogger;
  /** Unix socket path. */
  socketPath?: string;
  /** host:port for TCP; needs `token` unless on loopback. */
  tcp?: { host: string; port: number };
  token?: string;
  tls?: { cert: Buffer; key: Buffer };
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** True when something answers on the Unix socket at `path`. */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export class RpcServer {
  #servers: Server[] = [];
  #sockets = new Set<Socket>();
  #options: RpcServerOptions;
  #tokenDigest: Buffer | undefined;
  #socketPath: string | undefined;
  tcpPort: number | undefined;

  private constructor(options: RpcServerOptions) {
    this.#options = options;
    this.#tokenDigest = options.token === undefined ? undefined : digest(options.token);
  }

  static async listen(options: RpcServerOptions): Promise<RpcServer> {
    const server = new RpcServer(options);
    try {
      if (options.socketPath) await server.#listenUnix(options.socketPath);
      if (options.tcp) await server.#listenTcp(options.tcp.host, options.tcp.port);
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  async #listenUnix(path: string): Promise<void> {
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new NodestorError('EEXIST', `${path} exists and is not a socket`, { op: 'listen', resource: path });
      if (await socketIsLive(path))
        throw new NodestorError('EADDRINUSE', `a daemon already listens on ${path}`, { op: 'listen', resource: path });
      unlinkSync(path); // stale: its daemon is gone
    }
    const server = createServer((socket) => this.#accept(socket, false));
    const umask = process.umask(0o177); // created 0600: no window where others may connect
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    this.#socketPath = path;
    this.#servers.push(server);
  }

  async #listenTcp(host: string, port: number): Promise<void> {
    if (!this.#tokenDigest && !isLoopback(host))
      throw new NodestorError('EACCES', `RPC over TCP on ${host} (not loopback) needs a token (--token-file)`, { op: 'listen', resource: host });
    const tls = this.#options.tls;
    const server = tls
      ? createTlsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (socket) => this.#accept(socket, true))
      : createServer((socket) => this.#accept(socket, true));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    this.tcpPort = typeof address === 'object' && address ? address.port : port;
    this.#servers.push(server);
  }

  #accept(socket: Socket, tcp: boolean): void {
    this.#sockets.add(socket);
    const framer = new JsonFramer();
    const cleanups: (() => void)[] = [];
    let chain = Promise.resolve();
    let open = true;
    const send = (value: unknown) => {
      if (open && !socket.destroyed) socket.write(`${JSON.stringify(value)}\n`);
    };
    const context = {
      notify: (method: string, params: unknown) => send({ jsonrpc: '2.0', method, params }),
      onClose: (cleanup: () => void) => cleanups.push(cleanup),
    };
    socket.on('data', (chunk: Buffer) => {
      const { texts, error } = framer.push(chunk);
      for (const text of texts)
        chain = chain.then(async () => {
          const reply = await this.#handleText(text, tcp, context);
          if (reply !== undefined) send(reply);
        });
      if (error) {
        chain = chain.then(() => {
          send({ jsonrpc: '2.0', id: null, error: { code: RpcCode.parseError, message: `Parse error: ${error}` } });
          socket.end();
        });
      }
    });
    const closed = () => {
      if (!open) return;
      open = false;
      this.#sockets.delete(socket);
      for (const cleanup of cleanups) cleanup();
    };
    socket.on('close', closed);
    socket.on('error', () => socket.destroy());
  }

  async #handleText(text: string, tcp: boolean, context: { notify: (m: string, p: unknown) => void; onClose: (c: () => void) => void }): Promise<unknown> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (error) {
      return { jsonrpc: '2.0', id: null, error: { code: RpcCode.parseError, message: `Parse error: ${(error as Error).message}` } };
    }
    if (Array.isArray(message)) {
      if (message.length === 0) return { jsonrpc: '2.0', id: null, error: { code: RpcCode.invalidRequest, message: 'Invalid request: empty batch' } };
      const replies: RpcResponse[] = [];
      for (const item of message) {
        const reply = await this.#handleOne(item, tcp, context);
        if (reply) replies.push(reply);
      }
      return replies.length ? replies : undefined;
    }
    return this.#handleOne(message, tcp, context);
  }

  async #handleOne(
    message: unknown,
    tcp: boolean,
    context: { notify: (m: string, p: unknown) => void; onClose: (c: () => void) => void },
  ): Promise<RpcResponse | undefined> {
    const request = message as Record<string, unknown>;
    const rawId = request !== null && typeof request === 'object' ? request.id : undefined;
    const idValid = rawId === undefined || rawId === null || typeof rawId === 'string' || typeof rawId === 'number';
    const id: RpcId = idValid && rawId !== undefined ? (rawId as RpcId) : null;
    const fail = (code: number, text: string): RpcResponse => ({ jsonrpc: '2.0', id, error: { code, message: text } });
    if (request === null || typeof request !== 'object' || Array.isArray(request)) return fail(RpcCode.invalidRequest, 'Invalid request: not an object');
    if (request.jsonrpc !== '2.0') return fail(RpcCode.invalidRequest, 'Invalid request: jsonrpc must be "2.0"');
    if (typeof request.method !== 'string') return fail(RpcCode.invalidRequest, 'Invalid request: method must be a string');
    if (!idValid) return fail(RpcCode.invalidRequest, 'Invalid request: id must be a string, a number or null');
    const notification = rawId === undefined;
    if (tcp && this.#tokenDigest && !this.#tokenMatches(request.token)) {
      this.#options.log.warn({ method: request.method }, 'RPC over TCP refused: token missing or wrong');
      return notification ? undefined : fail(RpcCode.unauthorized, 'Unauthorized: the token is missing or wrong');
    }
    const requestId = request.request_id;
    if (requestId !== undefined && !isRequestId(requestId))
      return fail(RpcCode.invalidRequest, 'Invalid request: request_id must be 1 to 128 letters, digits or ._:@/+=-');
    const invoke = () => this.#invoke(request.method as string, request.params, id, notification, context);
    // The method's log lines, and the daemon's own, carry the caller's request id.
    return requestId === undefined ? invoke() : withRequestId(requestId, invoke);
  }

  async #invoke(
    method: string,
    params: unknown,
    id: RpcId,
    notification: boolean,
    context: { notify: (m: string, p: unknown) => void; onClose: (c: () => void) => void },
  ): Promise<RpcResponse | undefined> {
    const started = process.hrtime.bigint();
    try {
      const result = await this.#options.registry.call(method, params, { method, ...context });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.#options.log.info({ rpc: method, id, ms: Math.round(ms * 1000) / 1000, ok: true }, 'rpc');
      return notification ? undefined : { jsonrpc: '2.0', id, result: result === undefined ? true : result };
    } catch (error) {
      const body = errorBody(error);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.#options.log.info({ rpc: method, id, ms: Math.round(ms * 1000) / 1000, ok: false, error: body }, 'rpc');
      return notification ? undefined : { jsonrpc: '2.0', id, error: body };
    }
  }

  #tokenMatches(given: unknown): boolean {
    if (typeof given !== 'string' || !this.#tokenDigest) return false;
    return timingSafeEqual(digest(given), this.#tokenDigest);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.#servers = [];
    if (this.#socketPath && existsSync(this.#socketPath)) unlinkSync(this.#socketPath);
    this.#socketPath = undefined;
  }
}

