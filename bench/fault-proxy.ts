// A fault-injecting TCP proxy for the reliability campaign (issue 20), placed between an
// NVMe/TCP host and its target (a host and a nexus, a nexus and its replicas). Faults are
// switched at run time, per direction where that matters:
//  - latency: every chunk is held `ms` before it is passed on (order kept);
//  - stall: nothing passes until the stall ends, then everything held passes, in order;
//  - reset: every connection is ended with a TCP RST, both sides;
//  - black hole (half-open): the connections stay open but nothing passes either way and
//    nothing is closed, as when a peer vanished without a FIN, until healed;
//  - refuse: new connections are closed at once (a partition for newcomers);
//  - corrupt: the next byte(s) passing in one direction get one bit flipped.
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export type Direction = 'toTarget' | 'toClient';

export interface FaultProxyStats {
  connections: number;
  bytes: Record<Direction, number>;
  corruptedBytes: Record<Direction, number>;
  resets: number;
}

interface Pair {
  client: Socket;
  target: Socket;
  /** Chunks waiting per direction (a stall or latency holds them here, in order). */
  queue: Record<Direction, { at: number; data: Buffer }[]>;
  timer: Record<Direction, NodeJS.Timeout | undefined>;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  #latencyMs = 0;
  #stalledUntil = 0;
  #blackHole = false;
  #refusing = false;
  readonly #corrupt: Record<Direction, number> = { toTarget: 0, toClient: 0 };
  /** Bytes to let pass before the next corruption, per direction. */
  readonly #corruptAfter: Record<Direction, number> = { toTarget: 0, toClient: 0 };
  readonly stats: FaultProxyStats = { connections: 0, bytes: { toTarget: 0, toClient: 0 }, corruptedBytes: { toTarget: 0, toClient: 0 }, resets: 0 };

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  /** Listens on 127.0.0.1 (a free port unless given) and forwards to `target`. */
  static async start(target: { host: string; port: number }, listen: { host?: string; port?: number } = {}): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((client) => proxy!.#accept(client));
    proxy = new FaultProxy(server, target);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Holds every chunk `ms` before passing it on (0: none). */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  /** Nothing passes for `ms`; what arrives meanwhile passes after, in order. */
  stall(ms: number): void {
    this.#stalledUntil = Date.now() + ms;
    for (const pair of this.#pairs) for (const d of ['toTarget', 'toClient'] as const) this.#schedule(pair, d);
  }

  /** Ends every connection with a RST on both sides. */
  reset(): void {
    for (const pair of [...this.#pairs]) {
      pair.client.resetAndDestroy();
      pair.target.resetAndDestroy();
      this.stats.resets++;
    }
  }

  /** Half-open: connections stay up, nothing passes, nothing is closed (until heal()). */
  blackHole(): void {
    this.#blackHole = true;
  }

  /** New connections are closed at once (until heal()). */
  refuse(): void {
    this.#refusing = true;
  }

  /** Flips one bit in each of the next `bytes` bytes going `direction`, after `after` more bytes pass. */
  corrupt(direction: Direction, bytes = 1, after = 0): void {
    this.#corrupt[direction] += bytes;
    this.#corruptAfter[direction] = after;
  }

  /** Ends every fault: no latency, no stall, traffic passes, newcomers are let in. */
  heal(): void {
    this.#latencyMs = 0;
    this.#stalledUntil = 0;
    this.#blackHole = false;
    this.#refusing = false;
    this.#corrupt.toTarget = this.#corrupt.toClient = 0;
    for (const pair of this.#pairs) for (const d of ['toTarget', 'toClient'] as const) this.#schedule(pair, d);
  }

  async stop(): Promise<void> {
    for (const pair of [...this.#pairs]) {
      pair.client.destroy();
      pair.target.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#refusing) {
      client.destroy();
      return;
    }
    this.stats.connections++;
    const target = createConnection(this.#target.port, this.#target.host);
    client.setNoDelay(true);
    target.setNoDelay(true);
    const pair: Pair = { client, target, queue: { toTarget: [], toClient: [] }, timer: { toTarget: undefined, toClient: undefined } };
    this.#pairs.add(pair);
    client.on('data', (data: Buffer) => this.#arrive(pair, 'toTarget', data));
    target.on('data', (data: Buffer) => this.#arrive(pair, 'toClient', data));
    const close = () => {
      if (!this.#pairs.delete(pair)) return;
      for (const d of ['toTarget', 'toClient'] as const) clearTimeout(pair.timer[d]);
      client.destroy();
      target.destroy();
    };
    // A black hole keeps both sides open whatever happens, as a vanished peer would.
    for (const socket of [client, target]) {
      socket.on('error', () => (this.#blackHole ? undefined : close()));
      socket.on('close', () => (this.#blackHole ? undefined : close()));
    }
  }

  #arrive(pair: Pair, direction: Direction, data: Buffer): void {
    if (this.#blackHole) return; // dropped: the peer never hears of it
    pair.queue[direction].push({ at: Date.now() + this.#latencyMs, data });
    this.#schedule(pair, direction);
  }

  /** Passes on what is due, in order; sets a timer for the rest. */
  #schedule(pair: Pair, direction: Direction): void {
    clearTimeout(pair.timer[direction]);
    pair.timer[direction] = undefined;
    const queue = pair.queue[direction];
    const out = direction === 'toTarget' ? pair.target : pair.client;
    const now = Date.now();
    while (queue.length > 0 && !this.#blackHole) {
      const due = Math.max(queue[0]!.at, this.#stalledUntil);
      if (due > now) {
        pair.timer[direction] = setTimeout(() => this.#schedule(pair, direction), due - now);
        return;
      }
      const data = this.#maybeCorrupt(direction, queue.shift()!.data);
      this.stats.bytes[direction] += data.length;
      if (!out.destroyed) out.write(data);
    }
  }

  #maybeCorrupt(direction: Direction, data: Buffer): Buffer {
    if (this.#corrupt[direction] === 0) return data;
    const skip = Math.min(this.#corruptAfter[direction], data.length);
    this.#corruptAfter[direction] -= skip;
    if (skip === data.length) return data;
    const copy = Buffer.from(data);
    for (let i = skip; i < copy.length && this.#corrupt[direction] > 0; i++) {
      copy[i] = copy[i]! ^ 0x10;
      this.#corrupt[direction]--;
      this.stats.corruptedBytes[direction]++;
    }
    return copy;
  }
}
