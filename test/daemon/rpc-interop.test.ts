// Interop with SPDK's tools: the requests in test/vectors/spdk-rpc are the bytes rpc.py
// sends, and each answer must have the shape of SPDK's documented response example
// (every key the example has, with the same type of value).
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonFramer } from '../../src/rpc/framing.js';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';

const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../vectors/spdk-rpc/rpc-py-examples.json', import.meta.url)), 'utf8')) as {
  calls: { request: string; example: unknown }[];
};
type Setup = Awaited<ReturnType<typeof inProcessDaemon>>;
let s: Setup;
beforeAll(async () => {
  s = await inProcessDaemon();
});
afterAll(cleanup);

/** Where `actual` lacks a key of `example`, or holds another type of value; undefined when it has the shape. */
function shapeProblem(actual: unknown, example: unknown, path = 'result'): string | undefined {
  if (Array.isArray(example)) {
    if (!Array.isArray(actual)) return `${path} is not an array`;
    for (let i = 0; i < Math.min(example.length, actual.length); i++) {
      const p = shapeProblem(actual[i], example[i], `${path}[${i}]`);
      if (p) return p;
    }
    return actual.length < example.length ? `${path} has ${actual.length} items, the example ${example.length}` : undefined;
  }
  if (example !== null && typeof example === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path} is not an object`;
    for (const [key, value] of Object.entries(example)) {
      if (!(key in actual)) return `${path}.${key} is missing`;
      const p = shapeProblem((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
      if (p) return p;
    }
    return undefined;
  }
  return typeof actual === typeof example ? undefined : `${path} is a ${typeof actual}, the example a ${typeof example}`;
}

describe("requests as SPDK's rpc.py sends them", () => {
  it("get answers with the shapes of SPDK's documented examples", async () => {
    const port = String(26000 + (process.pid % 1000));
    const socket = createConnection(s.daemon.socketPath);
    await new Promise((resolve) => socket.once('connect', resolve));
    const framer = new JsonFramer();
    const replies: { id: number; result?: unknown; error?: unknown }[] = [];
    socket.on('data', (chunk: Buffer) => replies.push(...framer.push(chunk).texts.map((t) => JSON.parse(t))));
    try {
      for (const { request, example } of fixture.calls) {
        const text = request.replaceAll('"PORT"', JSON.stringify(port));
        const id = JSON.parse(text).id as number;
        socket.write(text);
        for (let i = 0; i < 2000 && !replies.some((r) => r.id === id); i++) await new Promise((r) => setTimeout(r, 2));
        const reply = replies.find((r) => r.id === id);
        expect(reply, `${text}`).toBeDefined();
        expect(reply!.error, `${text}: ${JSON.stringify(reply!.error)}`).toBeUndefined();
        expect(shapeProblem(reply!.result, example), text).toBeUndefined();
      }
    } finally {
      socket.destroy();
    }
    expect(replies).toHaveLength(fixture.calls.length);
  });
});
