// The RPC server's transport and framing with raw sockets: pipelining, split and joined
// writes, batches, notifications, garbage, oversized requests, clients that vanish, the
// socket's mode, a live or stale socket path, and the TCP token.
import { spawnSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/rpc/client.js';
import { JsonFramer } from '../../src/rpc/framing.js';
import { MethodRegistry } from '../../src/rpc/registry.js';
import { requestLogger, withRequestId } from '../../src/request-context.js';
import { RpcServer } from '../../src/rpc/server.js';
import { cleanup, memoryLogger, tempDir } from './helpers/daemon.js';

const servers: RpcServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
  await cleanup();
});

function registry(): { registry: MethodRegistry; calls: string[] } {
  const r = new MethodRegistry();
  const calls: string[] = [];
  r.register<{ value?: unknown }>('echo', { type: 'object', properties: { value: { type: 'string' } } }, (p) => {
    calls.push(`echo:${p.value}`);
    return p.value ?? null;
  });
  r.register<{ ms: number }>('sleep', { type: 'object', properties: { ms: { type: 'integer', minimum: 0 } }, required: ['ms'] }, async (p) => {
    calls.push('sleep');
    await new Promise((resolve) => setTimeout(resolve, p.ms));
    return p.ms;
  });
  return { registry: r, calls };
}

async function server(options: { tcp?: { host: string; port: number }; token?: string } = {}) {
  const dir = tempDir();
  const { registry: r, calls } = registry();
  const { logger, lines } = memoryLogger();
  const srv = await RpcServer.listen({ registry: r, log: requestLogger(logger), socketPath: join(dir, 'rpc.sock'), ...options });
  servers.push(srv);
  return { srv, path: join(dir, 'rpc.sock'), calls, dir, lines };
}

/** A raw connection that collects complete JSON replies. */
async function raw(path: string): Promise<{ socket: Socket; replies: unknown[]; next: (n?: number) => Promise<unknown[]>; closed: Promise<void> }> {
  const socket = createConnection(path);
  sockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  const framer = new JsonFramer();
  const replies: unknown[] = [];
  socket.on('data', (chunk: Buffer) => replies.push(...framer.push(chunk).texts.map((t) => JSON.parse(t))));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const next = async (n = 1) => {
    for (let i = 0; i < 500 && replies.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    return replies.splice(0, n);
  };
  return { socket, replies, next, closed };
}

describe('JSON framing', () => {
  it('finds value boundaries across writes, with strings and escapes respected', () => {
    const f = new JsonFramer();
    expect(f.push(Buffer.from('{"a":"}{\\"x"')).texts).toEqual([]);
    expect(f.push(Buffer.from('}  \n[1,{"b":[2]}]{"c"')).texts).toEqual(['{"a":"}{\\"x"}', '[1,{"b":[2]}]']);
    expect(f.push(Buffer.from(':3}')).texts).toEqual(['{"c":3}']);
    expect(new JsonFramer().push(Buffer.from('hello')).error).toMatch(/must be an object or an array/);
    expect(new JsonFramer(10).push(Buffer.from('{"a":"0123456789"}')).error).toBe('request larger than 1 MiB');
  });
});

describe('RPC server', () => {
  it('answers pipelined requests in order, one byte at a time, two in one write, and batches', async () => {
    const { path, calls } = await server();
    const c = await raw(path);
    c.socket.write('{"jsonrpc":"2.0","method":"sleep","params":{"ms":30},"id":1}{"jsonrpc":"2.0","method":"echo","params":{"value":"b"},"id":2}');
    expect(await c.next(2)).toEqual([
      { jsonrpc: '2.0', id: 1, result: 30 },
      { jsonrpc: '2.0', id: 2, result: 'b' },
    ]);
    expect(calls).toEqual(['sleep', 'echo:b']); // run one at a time, in arrival order
    const text = '{"jsonrpc":"2.0","method":"echo","params":{"value":"split"},"id":"s"}';
    for (const ch of text) c.socket.write(ch);
    expect(await c.next()).toEqual([{ jsonrpc: '2.0', id: 's', result: 'split' }]);
    c.socket.write('[{"jsonrpc":"2.0","method":"echo","params":{"value":"x"},"id":10},{"jsonrpc":"2.0","method":"echo","params":{"value":"n"}},{"jsonrpc":"2.0","method":"nope","id":11}]');
    expect(await c.next()).toEqual([
      [
        { jsonrpc: '2.0', id: 10, result: 'x' },
        { jsonrpc: '2.0', id: 11, error: { code: -32601, message: 'Method not found: nope' } },
      ],
    ]);
    // A notification gets no answer; the next request's answer comes next.
    c.socket.write('{"jsonrpc":"2.0","method":"echo","params":{"value":"quiet"}}{"jsonrpc":"2.0","method":"echo","id":3}');
    expect(await c.next()).toEqual([{ jsonrpc: '2.0', id: 3, result: null }]);
    expect(calls).toContain('echo:quiet');
  });

  it('answers malformed requests and keeps the connection; closes it on a stream that is not JSON', async () => {
    const { path } = await server();
    const c = await raw(path);
    c.socket.write('{"jsonrpc":"2.0","method":"echo","id":1,}');
    expect((await c.next())[0]).toMatchObject({ id: null, error: { code: -32700 } });
    c.socket.write('{"jsonrpc":"1.0","method":"echo","id":2}{"jsonrpc":"2.0","id":3}{"jsonrpc":"2.0","method":"echo","id":{"x":1}}[]');
    const replies = await c.next(4);
    expect(replies.map((r) => (r as { error: { code: number } }).error.code)).toEqual([-32600, -32600, -32600, -32600]);
    expect((replies[0] as { id: unknown }).id).toBe(2);
    c.socket.write('{"jsonrpc":"2.0","method":"echo","params":{"value":"still here"},"id":4}');
    expect(await c.next()).toEqual([{ jsonrpc: '2.0', id: 4, result: 'still here' }]);

    const other = await raw(path);
    c.socket.write('garbage');
    expect((await c.next())[0]).toMatchObject({ error: { code: -32700 } });
    await c.closed;
    other.socket.write('{"jsonrpc":"2.0","method":"echo","params":{"value":"other"},"id":1}');
    expect(await other.next()).toEqual([{ jsonrpc: '2.0', id: 1, result: 'other' }]);
  });

  it("logs a call under the caller's request_id, from the client's option or its context, and refuses a malformed one", async () => {
    const { path, lines } = await server();
    const client = await RpcClient.connect({ socketPath: path });
    try {
      expect(await client.call('echo', { value: 'a' }, { requestId: 'req-option-1' })).toBe('a');
      expect(await withRequestId('req-context-2', () => client.call('echo', { value: 'b' }))).toBe('b');
      expect(await client.call('echo', { value: 'c' })).toBe('c');
      const rpcLines = lines.filter((l) => l.msg === 'rpc').map((l) => l.requestId);
      expect(rpcLines).toEqual(['req-option-1', 'req-context-2', undefined]);
    } finally {
      client.close();
    }
    const c = await raw(path);
    c.socket.write('{"jsonrpc":"2.0","method":"echo","id":1,"request_id":42}{"jsonrpc":"2.0","method":"echo","id":2,"request_id":"has space"}');
    const replies = (await c.next(2)) as { id: number; error: { code: number; message: string } }[];
    expect(replies.map((r) => [r.id, r.error.code])).toEqual([[1, -32600], [2, -32600]]);
    expect(replies[0]!.error.message).toBe('Invalid request: request_id must be 1 to 128 letters, digits or ._:@/+=-');
  });

  it('refuses a request over 1 MiB, survives a client that leaves mid-request', async () => {
    const { path, calls } = await server();
    const big = await raw(path);
    big.socket.write(`{"jsonrpc":"2.0","method":"echo","params":{"value":"${'x'.repeat(1024 * 1024)}"},"id":1}`);
    expect((await big.next())[0]).toMatchObject({ error: { code: -32700, message: expect.stringMatching(/larger than 1 MiB/) } });
    await big.closed;
    const leaver = await raw(path);
    leaver.socket.write('{"jsonrpc":"2.0","method":"sleep","params":{"ms":50},"id":1}{"jsonrpc":"2.0","method":"ech');
    leaver.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const after = await raw(path);
    after.socket.write('{"jsonrpc":"2.0","method":"echo","params":{"value":"ok"},"id":1}');
    expect(await after.next()).toEqual([{ jsonrpc: '2.0', id: 1, result: 'ok' }]);
    expect(calls).toEqual(['sleep', 'echo:ok']);
  });

  it('makes the socket 0600, refuses a live socket path, replaces a stale one', async () => {
    const { path, dir } = await server();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const { registry: r } = registry();
    const { logger } = memoryLogger();
    await expect(RpcServer.listen({ registry: r, log: logger, socketPath: path })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // A stale socket file: its server was killed (-9), so nothing removed it.
    const stale = join(dir, 'stale.sock');
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(existsSync(stale) && statSync(stale).isSocket()).toBe(true);
    const fresh = await RpcServer.listen({ registry: r, log: logger, socketPath: stale });
    servers.push(fresh);
    const client = await RpcClient.connect({ socketPath: stale });
    expect(await client.call('echo', { value: 'fresh' })).toBe('fresh');
    client.close();
    writeFileSync(join(dir, 'plain'), 'x');
    await expect(RpcServer.listen({ registry: r, log: logger, socketPath: join(dir, 'plain') })).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('over TCP, refuses requests without the token or with a wrong one, and a non-loopback address without a token', async () => {
    const { srv } = await server({ tcp: { host: '127.0.0.1', port: 0 }, token: 'sesame-0123456789' });
    const port = srv.tcpPort!;
    const none = await RpcClient.connect({ tcp: { host: '127.0.0.1', port } });
    await expect(none.call('echo', { value: 'a' })).rejects.toMatchObject({ code: -32001 });
    none.close();
    const wrong = await RpcClient.connect({ tcp: { host: '127.0.0.1', port }, token: 'sesame-0123456780' });
    await expect(wrong.call('echo', { value: 'a' })).rejects.toMatchObject({ code: -32001 });
    wrong.close();
    const right = await RpcClient.connect({ tcp: { host: '127.0.0.1', port }, token: 'sesame-0123456789' });
    expect(await right.call('echo', { value: 'a' })).toBe('a');
    right.close();
    const { registry: r } = registry();
    const { logger } = memoryLogger();
    await expect(RpcServer.listen({ registry: r, log: logger, tcp: { host: '0.0.0.0', port: 0 } })).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('over TLS with a token: a client that trusts the certificate gets answers, one that does not is refused', async () => {
    const dir = tempDir();
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    expect(made.status).toBe(0);
    const { registry: r } = registry();
    const { logger } = memoryLogger();
    const srv = await RpcServer.listen({
      registry: r,
      log: logger,
      tcp: { host: '127.0.0.1', port: 0 },
      token: 'tls-token-0123456789',
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
    });
    servers.push(srv);
    const tcp = { host: '127.0.0.1', port: srv.tcpPort! };
    const trusted = await RpcClient.connect({ tcp, token: 'tls-token-0123456789', tls: { ca: readFileSync(cert) } });
    expect(await trusted.call('echo', { value: 'over tls' })).toBe('over tls');
    trusted.close();
    await expect(RpcClient.connect({ tcp, token: 'tls-token-0123456789', tls: {} })).rejects.toThrow(/self[- ]signed|certificate/);
    // Plain TCP to the TLS port gets nothing it can use.
    const plain = await RpcClient.connect({ tcp, token: 'tls-token-0123456789', timeoutMs: 2000 });
    await expect(plain.call('echo', { value: 'x' })).rejects.toThrow();
    plain.close();
  });
});
