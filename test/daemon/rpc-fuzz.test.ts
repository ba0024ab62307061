// Property test of the daemon's RPC server for NODESTOR_RPC_FUZZ_SECONDS (default 30):
// random requests (well-formed or not, known methods with random parameters, batches,
// notifications, bytes that are not JSON) never crash the daemon, and every answer is valid
// JSON-RPC 2.0 with the id asked for. Methods that touch host paths or dial out are left
// out: random file names must not reach the disk, nor random addresses the network.
import { createConnection, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonFramer } from '../../src/rpc/framing.js';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';

const SECONDS = Number(process.env.NODESTOR_RPC_FUZZ_SECONDS ?? 30);
const EXCLUDED = new Set(['bdev_aio_create', 'bdev_uring_create', 'pool_create', 'pool_import', 'bdev_nvme_attach_controller', 'bdev_wait_for_examine', 'keyring_file_add_key']);
type Setup = Awaited<ReturnType<typeof inProcessDaemon>>;
let s: Setup;
beforeAll(async () => {
  s = await inProcessDaemon();
});
afterAll(cleanup);

function validResponse(r: unknown): string | undefined {
  const o = r as Record<string, unknown>;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 'not an object';
  if (o.jsonrpc !== '2.0') return 'jsonrpc is not 2.0';
  if (!('id' in o)) return 'no id';
  const hasResult = 'result' in o;
  const hasError = 'error' in o;
  if (hasResult === hasError) return 'needs exactly one of result and error';
  if (hasError) {
    const e = o.error as Record<string, unknown>;
    if (typeof e?.code !== 'number' || !Number.isInteger(e.code) || typeof e.message !== 'string') return 'bad error object';
  }
  return undefined;
}

class Conn {
  socket: Socket;
  replies: unknown[] = [];
  closed = false;
  #framer = new JsonFramer(64 * 1024 * 1024);
  constructor(path: string) {
    this.socket = createConnection(path);
    this.socket.on('data', (chunk: Buffer) => this.replies.push(...this.#framer.push(chunk).texts.map((t) => JSON.parse(t))));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => (this.closed = true));
  }
  /** Every reply up to and including the one with id `marker` (the server answers in order). */
  async until(marker: string): Promise<unknown[]> {
    const has = () => this.replies.some((r) => !Array.isArray(r) && (r as { id?: unknown }).id === marker);
    for (let i = 0; i < 5000 && !has() && !this.closed; i++) await new Promise((r) => setTimeout(r, 1));
    return this.replies.splice(0);
  }
}

describe('RPC fuzz', () => {
  it(`survives ${SECONDS} s of random requests with valid JSON-RPC answers`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const methods = s.daemon.registry.names().filter((m) => !EXCLUDED.has(m));
    const keys = [...new Set(methods.flatMap((m) => Object.keys(s.daemon.registry.schema(m)!.properties)))];
    const params = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(fc.constantFrom(...keys), fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.boolean()), { maxKeys: 5 }),
    );
    const request = fc.record(
      {
        jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('2.0'), fc.jsonValue()),
        method: fc.oneof(fc.constantFrom(...methods), fc.string()),
        params,
        id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
      },
      { requiredKeys: ['jsonrpc', 'method'] },
    );
    let conn = new Conn(s.daemon.socketPath);
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(request, fc.array(request, { minLength: 1, maxLength: 4 }), fc.string({ maxLength: 40 })), async (sent) => {
        if (conn.closed) conn = new Conn(s.daemon.socketPath);
        if (typeof sent === 'string') {
          // Raw bytes: the server either answers a parse error and goes on, or closes this connection.
          conn.socket.write(sent + '\n');
          conn.socket.write('{"jsonrpc":"2.0","method":"spdk_get_version","id":"probe"}');
          const replies = await conn.until('probe');
          for (const r of replies) expect(validResponse(Array.isArray(r) ? r[0] : r)).toBeUndefined();
          conn.replies.length = 0;
          conn.socket.destroy();
          conn = new Conn(s.daemon.socketPath);
          return;
        }
        requests++;
        conn.socket.write(JSON.stringify(sent));
        conn.socket.write('{"jsonrpc":"2.0","method":"spdk_get_version","id":"marker"}');
        const replies = await conn.until('marker');
        const flat = replies.flatMap((r) => (Array.isArray(r) ? r : [r]));
        for (const r of flat) expect(validResponse(r)).toBeUndefined();
        expect(flat.some((r) => (r as { id: unknown }).id === 'marker')).toBe(true);
      }),
      { interruptAfterTimeLimit: SECONDS * 1000, numRuns: 1_000_000, endOnFailure: true },
    );
    conn.socket.destroy();
    expect(requests).toBeGreaterThan(100);
    // Still serving.
    expect(await s.client.call('node_info')).toMatchObject({ node: 'test' });
  });
});
