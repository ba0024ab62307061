// The reliability campaign's fault-injecting TCP proxy, against an echo server on loopback:
// each fault does what it says, and heal() ends it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../bench/fault-proxy.js';

let echo: Server;
let echoPort = 0;
const sockets = new Set<Socket>();
beforeAll(async () => {
  echo = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => echo.close(resolve));
});

/** A client through `proxy` that collects what comes back. */
async function client(proxy: FaultProxy) {
  const socket = createConnection(proxy.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = Buffer.alloc(0);
  const events: string[] = [];
  socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  socket.on('error', (e: NodeJS.ErrnoException) => events.push(e.code ?? e.message));
  socket.on('close', () => events.push('close'));
  const until = async (bytes: number, ms = 2000) => {
    const end = Date.now() + ms;
    while (received.length < bytes && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    return received;
  };
  return { socket, events, until, received: () => received };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fault proxy', () => {
  it('passes bytes both ways unchanged, and counts them', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    const c = await client(proxy);
    const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    c.socket.write(data);
    expect((await c.until(data.length)).equals(data)).toBe(true);
    expect(proxy.stats).toMatchObject({ connections: 1, bytes: { toTarget: data.length, toClient: data.length } });
    c.socket.destroy();
    await proxy.stop();
  });

  it('adds latency, holds everything through a stall and then passes it in order', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    const c = await client(proxy);
    proxy.setLatency(100);
    const t0 = Date.now();
    c.socket.write('ping');
    await c.until(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190); // 100 ms each way
    proxy.heal();
    proxy.stall(300);
    const t1 = Date.now();
    for (const part of ['a', 'b', 'c']) c.socket.write(part);
    await sleep(150);
    expect(c.received().toString()).toBe('ping'); // nothing passed yet
    expect((await c.until(7)).toString()).toBe('pingabc');
    expect(Date.now() - t1).toBeGreaterThanOrEqual(290);
    c.socket.destroy();
    await proxy.stop();
  });

  it('resets connections; refuses newcomers until healed', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    const c = await client(proxy);
    c.socket.write('x');
    await c.until(1);
    proxy.reset();
    await sleep(100);
    expect(c.events).toEqual(['ECONNRESET', 'close']);
    proxy.refuse();
    const refused = createConnection(proxy.port, '127.0.0.1');
    const ended = await new Promise<string>((resolve) => {
      refused.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      refused.on('close', () => resolve('close'));
    });
    expect(['close', 'ECONNRESET']).toContain(ended);
    proxy.heal();
    const again = await client(proxy);
    again.socket.write('back');
    expect((await again.until(4)).toString()).toBe('back');
    again.socket.destroy();
    await proxy.stop();
  });

  it('half-open: nothing passes and nothing closes; heal lets new traffic through', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    const c = await client(proxy);
    proxy.blackHole();
    c.socket.write('lost');
    await sleep(200);
    expect(c.received().length).toBe(0);
    expect(c.events).toEqual([]);
    proxy.heal();
    c.socket.write('kept');
    expect((await c.until(4)).toString()).toBe('kept');
    c.socket.destroy();
    await proxy.stop();
  });

  it('corrupts exactly the bytes asked for, in the direction asked for', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    const c = await client(proxy);
    const data = Buffer.alloc(4096, 0x41);
    proxy.corrupt('toTarget', 2, 1000);
    c.socket.write(data);
    const back = await c.until(data.length);
    const differing = [...back].flatMap((b, i) => (b !== data[i] ? [i] : []));
    expect(differing).toEqual([1000, 1001]);
    expect(back[1000]).toBe(0x41 ^ 0x10);
    expect(proxy.stats.corruptedBytes).toEqual({ toTarget: 2, toClient: 0 });
    c.socket.destroy();
    await proxy.stop();
  });
});
