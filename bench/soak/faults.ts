// The soak's faults. Each one is injected, held for a while the I/O runs, and healed;
// inject() returns once healed (a killed process is started again, a proxy or disk
// injection cleared). The soak then waits for every volume to be Online and checks.
import type { Direction, FaultProxy } from '../fault-proxy.js';
import { ERROR_BDEV, type SoakCluster, type SoakNode } from './cluster.js';
import type { Random } from './random.js';

export interface SoakVolume {
  name: string;
  /** The node whose nexus is the volume's target. */
  targetNode: string;
  /** Between the host and the target. */
  hostProxy: FaultProxy;
}

export interface FaultContext {
  cluster: SoakCluster;
  volumes: SoakVolume[];
  random: Random;
  digests: boolean;
}

export interface Injected {
  /** Which process, proxy or disk, and how (for the timeline). */
  target: string;
  detail: string;
  /** For corruption: bytes actually flipped (0 when no traffic came by in time). */
  corruptedBytes?: number;
}

export interface Fault {
  kind: string;
  inject(ctx: FaultContext): Promise<Injected>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const targetNodes = (ctx: FaultContext) => new Set(ctx.volumes.map((v) => v.targetNode));
const replicaOnlyNodes = (ctx: FaultContext) => ctx.cluster.nodes.filter((n) => !targetNodes(ctx).has(n.name));
const nexusNodes = (ctx: FaultContext) => ctx.cluster.nodes.filter((n) => targetNodes(ctx).has(n.name));

function processFault(kind: string, nodes: (ctx: FaultContext) => SoakNode[], signal: NodeJS.Signals, downMs: [number, number]): Fault {
  return {
    kind,
    async inject(ctx) {
      const node = ctx.random.pick(nodes(ctx));
      const down = ctx.random.between(...downMs);
      await ctx.cluster.stopNode(node, signal);
      await sleep(down);
      await ctx.cluster.startNode(node);
      return { target: node.name, detail: `${signal}, down ${down} ms` };
    },
  };
}

function controlFault(kind: string, signal: NodeJS.Signals): Fault {
  return {
    kind,
    async inject(ctx) {
      const down = ctx.random.between(500, 3_000);
      await ctx.cluster.stopControl(signal);
      await sleep(down);
      await ctx.cluster.startControl();
      return { target: 'control plane', detail: `${signal}, down ${down} ms` };
    },
  };
}

/** A proxy between a nexus and a replica node, or between the host and a target. */
function pickProxy(ctx: FaultContext): { proxy: FaultProxy; name: string } {
  if (ctx.random.next() < 0.6) {
    const node = ctx.random.pick(ctx.cluster.nodes);
    return { proxy: node.replicaProxy, name: `nexus->${node.name} replicas` };
  }
  const volume = ctx.random.pick(ctx.volumes);
  return { proxy: volume.hostProxy, name: `host->${volume.name} target` };
}

function networkFault(kind: string, act: (proxy: FaultProxy, ctx: FaultContext) => Promise<string>): Fault {
  return {
    kind,
    async inject(ctx) {
      const { proxy, name } = pickProxy(ctx);
      const before = proxy.stats.corruptedBytes.toTarget + proxy.stats.corruptedBytes.toClient;
      try {
        const detail = await act(proxy, ctx);
        const corrupted = proxy.stats.corruptedBytes.toTarget + proxy.stats.corruptedBytes.toClient - before;
        return { target: name, detail, ...(kind === 'net-corrupt' ? { corruptedBytes: corrupted } : {}) };
      } finally {
        proxy.heal();
      }
    },
  };
}

function diskFault(kind: string, params: (ctx: FaultContext) => Record<string, unknown>, holdMs: [number, number]): Fault {
  return {
    kind,
    async inject(ctx) {
      const node = ctx.random.pick(ctx.cluster.nodes);
      const injection = params(ctx);
      const hold = ctx.random.between(...holdMs);
      await ctx.cluster.rpc(node, 'bdev_error_inject_error', { name: ERROR_BDEV, ...injection });
      await sleep(hold);
      await ctx.cluster.rpc(node, 'bdev_error_inject_error', { name: ERROR_BDEV, io_type: 'clear', error_type: 'failure' });
      return { target: `${node.name} pool disk`, detail: `${JSON.stringify(injection)} for ${hold} ms` };
    },
  };
}

export function faultCatalogue(options: { digests: boolean }): Fault[] {
  const faults: Fault[] = [
    processFault('kill-replica-daemon', replicaOnlyNodes, 'SIGKILL', [500, 6_000]),
    processFault('restart-replica-daemon', replicaOnlyNodes, 'SIGTERM', [200, 2_000]),
    processFault('kill-nexus-daemon', nexusNodes, 'SIGKILL', [200, 3_000]),
    processFault('restart-nexus-daemon', nexusNodes, 'SIGTERM', [200, 2_000]),
    controlFault('kill-control-plane', 'SIGKILL'),
    controlFault('restart-control-plane', 'SIGTERM'),
    networkFault('net-latency', async (proxy, ctx) => {
      const ms = ctx.random.between(5, 80);
      const hold = ctx.random.between(1_000, 4_000);
      proxy.setLatency(ms);
      await sleep(hold);
      return `${ms} ms for ${hold} ms`;
    }),
    networkFault('net-stall', async (proxy, ctx) => {
      // Longer than the children's keep-alive and I/O timeouts: connections are given up.
      const ms = ctx.random.between(4_000, 9_000);
      proxy.stall(ms);
      await sleep(ms);
      return `stalled ${ms} ms`;
    }),
    networkFault('net-reset', async (proxy) => {
      proxy.reset();
      return 'RST on every connection';
    }),
    networkFault('net-half-open', async (proxy, ctx) => {
      const ms = ctx.random.between(1_000, 6_000);
      proxy.blackHole();
      await sleep(ms);
      return `black hole ${ms} ms`;
    }),
    diskFault('disk-eio', (ctx) => ({ io_type: ctx.random.pick(['write', 'read']), error_type: 'failure', num: ctx.random.between(1, 4) }), [500, 1_500]),
    diskFault('disk-enospc', (ctx) => ({ io_type: 'write', error_type: 'failure', errno: 'ENOSPC', num: ctx.random.between(1, 4) }), [500, 1_500]),
    diskFault('disk-latency', (ctx) => ({ io_type: 'all', error_type: 'delay', latency_us: ctx.random.between(5_000, 100_000), num: 0 }), [1_000, 3_000]),
  ];
  // Without digests a flipped bit cannot be detected: it would be stored, and that is not
  // a fault the system can survive, so it is only injected with digests on.
  if (options.digests)
    faults.push(
      networkFault('net-corrupt', async (proxy, ctx) => {
        const direction: Direction = ctx.random.next() < 0.5 ? 'toTarget' : 'toClient';
        const after = ctx.random.int(256 << 10);
        proxy.corrupt(direction, 1, after);
        await sleep(2_000);
        return `1 bit ${direction} after ${after} bytes`;
      }),
    );
  return faults;
}
