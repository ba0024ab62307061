// `nodestor control` runs a control plane; `nodestor get|create|scale|publish|unpublish|
// delete` (volumes, pools, snapshots) drive one over its REST API (--control URL, default http://127.0.0.1:8080).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ControlClient } from '../control/client.js';
import { isRequestId } from '../request-context.js';
import { formatBytes, render, table, type OutputFormat } from './table.js';

interface VolumeView {
  spec: { name: string; uuid: string; sizeBytes: number; replicas: number; thin: boolean; target?: { node: string; uri?: string } };
  state: { status: string; target?: { node: string; uri?: string }; replicas: { uuid?: string; name: string; node: string; pool: string; status: string; rebuildProgress?: number }[] };
}
interface PoolView {
  spec: { node: string; name: string; disk: string; labels: Record<string, string> };
  state: { status: string; totalBytes: number; usedBytes: number; committedBytes: number; availableBytes: number };
}
interface NodeEntry {
  name: string;
  status: string;
  rpc: { socketPath?: string; tcp?: { host: string; port: number } };
  replicaListener: { address: string; port: number };
  labels: Record<string, string>;
  lastSeen: string | null;
}

const outputOption = () => new Option('-o, --output <format>', 'table | wide | json | yaml').choices(['table', 'wide', 'json', 'yaml']).default('table');

/** One request id for the whole command: every line it causes, on every node, carries it. */
function client(o: { control: string; tokenFile?: string; requestId?: string }): ControlClient {
  return new ControlClient(o.control, { ...(o.tokenFile ? { token: readFileSync(o.tokenFile, 'utf8').trim() } : {}), requestId: o.requestId ?? randomUUID() });
}

const requestIdArgument = (text: string) => {
  if (!isRequestId(text)) throw new InvalidArgumentError('1 to 128 letters, digits or ._:@/+=-');
  return text;
};

const labelList = (text: string, previous: Record<string, string> = {}) => {
  const m = /^([^=]{1,63})=(.{0,63})$/.exec(text);
  if (!m) throw new InvalidArgumentError('labels are key=value');
  return { ...previous, [m[1]!]: m[2]! };
};

export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|K|KiB|M|MiB|G|GiB|T|TiB)?$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`a size like 1GiB, 512MiB or 4096, got '${text}'`);
  const scale: Record<string, number> = { b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4 };
  const bytes = Number(m[1]) * scale[(m[2] ?? 'b').toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`'${text}' is not a whole number of bytes`);
  return bytes;
}

const print = (text: string): void => {
  process.stdout.write(text);
};

function volumesTable(volumes: VolumeView[], wide: boolean): string {
  const headers = ['id', 'replicas', 'target-node', 'accessibility', 'status', 'size', 'thin-provisioned', ...(wide ? ['name', 'replica-nodes'] : [])];
  return table(
    headers,
    volumes.map((v) => [
      v.spec.uuid,
      v.spec.replicas,
      v.state.target?.node,
      v.state.target?.uri ? 'nvmf' : '',
      v.state.status,
      formatBytes(v.spec.sizeBytes),
      v.spec.thin,
      ...(wide ? [v.spec.name, v.state.replicas.map((r) => r.node).join(',')] : []),
    ]),
  );
}

export function registerControlCommands(program: Command): void {
  const withControl = (command: Command) =>
    command
      .option('--control <url>', 'the control plane', process.env.NODESTOR_CONTROL ?? 'http://127.0.0.1:8080')
      .option('--token-file <file>', 'the API token')
      .option('--request-id <id>', 'the id the control plane and the daemons log this command under (default: a new UUID)', requestIdArgument);

  const get = program.command('get').description('show nodes, pools, volumes or replicas');
  for (const kind of ['nodes', 'pools', 'volumes', 'replicas', 'volume-replica-topology']) {
    withControl(get.command(`${kind} [name]`).addOption(outputOption())).action(async (name: string | undefined, o) => {
      const api = client(o);
      const format = o.output as OutputFormat;
      if (kind === 'nodes') {
        const nodes = name ? [await api.request<NodeEntry>('GET', `/v0/nodes/${name}`)] : await api.request<NodeEntry[]>('GET', '/v0/nodes');
        return print(
          render(format, name ? nodes[0] : nodes, (wide) =>
            table(
              ['id', 'grpc-endpoint', 'status', ...(wide ? ['replica-listener', 'labels'] : [])],
              nodes.map((n) => [
                n.name,
                n.rpc.socketPath ?? `${n.rpc.tcp?.host}:${n.rpc.tcp?.port}`,
                n.status,
                ...(wide ? [`${n.replicaListener.address}:${n.replicaListener.port}`, Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',')] : []),
              ]),
            ),
          ),
        );
      }
      if (kind === 'pools') {
        const pools = (await api.request<PoolView[]>('GET', '/v0/pools')).filter((p) => !name || p.spec.name === name);
        return print(
          render(format, pools, (wide) =>
            table(
              ['id', 'disks', 'managed', 'node', 'status', 'capacity', 'allocated', 'committed', ...(wide ? ['available'] : [])],
              pools.map((p) => [
                p.spec.name,
                p.spec.disk,
                true,
                p.spec.node,
                p.state.status,
                formatBytes(p.state.totalBytes),
                formatBytes(p.state.usedBytes),
                formatBytes(p.state.committedBytes),
                ...(wide ? [formatBytes(p.state.availableBytes)] : []),
              ]),
            ),
          ),
        );
      }
      if (kind === 'replicas') {
        const replicas = await api.request<{ uuid?: string; name: string; node: string; pool: string; status: string; volume: string; sizeBytes: number; thin: boolean }[]>('GET', '/v0/replicas');
        const shown = replicas.filter((r) => !name || r.uuid === name || r.name === name || r.volume === name);
        return print(render(format, shown, () => table(['id', 'pool', 'node', 'volume', 'status', 'size', 'thin'], shown.map((r) => [r.uuid, r.pool, r.node, r.volume, r.status, formatBytes(r.sizeBytes), r.thin]))));
      }
      const volumes = name ? [await api.request<VolumeView>('GET', `/v0/volumes/${name}`)] : await api.request<VolumeView[]>('GET', '/v0/volumes');
      if (kind === 'volumes') return print(render(format, name ? volumes[0] : volumes, (wide) => volumesTable(volumes, wide)));
      return print(
        render(format, volumes.map((v) => ({ volume: v.spec.name, replicas: v.state.replicas })), () =>
          table(
            ['volume-id', 'id', 'node', 'pool', 'status', 'rebuild-progress'],
            volumes.flatMap((v) => v.state.replicas.map((r) => [v.spec.uuid, r.uuid, r.node, r.pool, r.status, r.rebuildProgress === undefined ? '' : `${r.rebuildProgress}%`])),
          ),
        ),
      );
    });
  }

  withControl(
    get
      .command('events')
      .description('the event stream (nexus, pool, volume and node events); -w follows it')
      .option('-w, --watch', 'keep printing events as they come')
      .option('--since <id>', 'only events after this id', (t) => Number(t), 0)
      .addOption(outputOption()),
  ).action(async (o) => {
    type Event = { id: number; time: string; source: string; kind: string; [key: string]: unknown };
    const line = (e: Event) => {
      const { id, time, source, kind, ...rest } = e;
      return o.output === 'json' ? `${JSON.stringify(e)}\n` : `${id}\t${time}\t${source}\t${kind}\t${JSON.stringify(rest)}\n`;
    };
    if (!o.watch) {
      const events = await client(o).request<Event[]>('GET', `/v0/events?since=${o.since}`);
      return print(o.output === 'json' || o.output === 'yaml' ? render(o.output, events, () => '') : events.map(line).join(''));
    }
    const url = `${String(o.control).split(',')[0]}/v0/events?follow=true&since=${o.since}`;
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...(o.tokenFile ? { authorization: `Bearer ${readFileSync(o.tokenFile, 'utf8').trim()}` } : {}) } });
    if (!res.ok || !res.body) throw new Error(`GET /v0/events: HTTP ${res.status}`);
    let buffered = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += Buffer.from(chunk).toString();
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) print(line(JSON.parse(data.slice(6)) as Event));
      }
    }
  });

  const create = program.command('create').description('create a pool or a volume');
  withControl(create.command('pool <node> <name> <disk>').description('create (or import) a pool on a node\'s disk').option('--label <k=v>', 'a pool label (repeatable)', labelList)).action(
    async (node: string, name: string, disk: string, o) => {
      const pool = await client(o).request<PoolView>('POST', `/v0/nodes/${node}/pools`, { name, disk, ...(o.label ? { labels: o.label } : {}) });
      print(`pool ${pool.spec.node}/${pool.spec.name} ${pool.state.status}, ${formatBytes(pool.state.totalBytes)}\n`);
    },
  );
  withControl(
    create
      .command('volume <name> <size>')
      .description('create a replicated volume (size like 1GiB)')
      .option('--replicas <n>', 'replica count', (t) => Number(t), 1)
      .option('--thin', 'thin provisioned')
      .option('--node-label <k=v>', 'place only on nodes with this label', labelList)
      .option('--pool-label <k=v>', 'place only on pools with this label', labelList)
      .option('--faulted-child-wait-ms <ms>', 'wait this long for a faulted replica to come back', (t) => Number(t))
      .addOption(outputOption()),
  ).action(async (name: string, size: string, o) => {
    const topology = o.nodeLabel || o.poolLabel ? { ...(o.nodeLabel ? { nodeLabels: o.nodeLabel } : {}), ...(o.poolLabel ? { poolLabels: o.poolLabel } : {}) } : undefined;
    const volume = await client(o).request<VolumeView>('POST', '/v0/volumes', {
      name,
      sizeBytes: parseSize(size),
      replicas: o.replicas,
      ...(o.thin ? { thin: true } : {}),
      ...(topology ? { topology } : {}),
      ...(o.faultedChildWaitMs !== undefined ? { faultedChildWaitMs: o.faultedChildWaitMs } : {}),
    });
    print(render(o.output, volume, (wide) => volumesTable([volume], wide)));
  });

  withControl(create.command('snapshot <volume> <name>').description('a consistent snapshot of every healthy replica (writes paused meanwhile)').addOption(outputOption())).action(
    async (volume: string, name: string, o) => {
      const snap = await client(o).request<{ name: string; createdAt: string; replicas: { node: string; uuid: string }[] }>('POST', `/v0/volumes/${volume}/snapshots`, { name });
      print(render(o.output, snap, () => table(['name', 'created', 'replicas'], [[snap.name, snap.createdAt, snap.replicas.map((r) => r.node).join(',')]])));
    },
  );
  withControl(get.command('snapshots <volume>').addOption(outputOption())).action(async (volume: string, o) => {
    const snaps = await client(o).request<{ name: string; createdAt: string; replicas: { node: string }[] }[]>('GET', `/v0/volumes/${volume}/snapshots`);
    print(render(o.output, snaps, () => table(['name', 'created', 'replicas'], snaps.map((s) => [s.name, s.createdAt, s.replicas.map((r) => r.node).join(',')]))));
  });

  withControl(program.command('resize').command('volume <name> <size>').description('grow a volume (its replicas, then its target)').addOption(outputOption())).action(
    async (name: string, size: string, o) => {
      const volume = await client(o).request<VolumeView>('PUT', `/v0/volumes/${name}/size`, { sizeBytes: parseSize(size) });
      print(render(o.output, volume, (wide) => volumesTable([volume], wide)));
    },
  );
  withControl(program.command('scale').command('volume <name> <replicas>').description('set a volume\'s replica count').addOption(outputOption())).action(async (name: string, n: string, o) => {
    const volume = await client(o).request<VolumeView>('PUT', `/v0/volumes/${name}/replica_count/${Number(n)}`);
    print(render(o.output, volume, (wide) => volumesTable([volume], wide)));
  });
  withControl(
    program
      .command('publish')
      .command('volume <name>')
      .description('make the volume\'s target (nexus) and publish it over NVMe/TCP; prints its URI')
      .option('--node <node>', 'the target node (default: one holding a replica)')
      .option('--port <port>', 'the NVMe/TCP port', (t) => Number(t))
      .option('--host <nqn>', 'allow only this host NQN (repeatable)', (t: string, prev: string[] = []) => [...prev, t])
      .option('--failover', 'move the target to another replica node if its node is lost'),
  ).action(async (name: string, o) => {
    const volume = await client(o).request<VolumeView>('PUT', `/v0/volumes/${name}/target`, {
      ...(o.node ? { node: o.node } : {}),
      ...(o.port ? { port: o.port } : {}),
      ...(o.host ? { hosts: o.host } : {}),
      ...(o.failover ? { failover: true } : {}),
    });
    print(`${volume.state.target?.uri ?? volume.spec.target?.uri ?? ''}\n`);
  });
  withControl(program.command('unpublish').command('volume <name>').description('shut the volume\'s target down cleanly')).action(async (name: string, o) => {
    await client(o).request('DELETE', `/v0/volumes/${name}/target`);
    print(`volume ${name} unpublished\n`);
  });
  const del = program.command('delete').description('delete a volume or a pool');
  withControl(del.command('volume <name>').description("destroy the volume's target and replicas")).action(async (name: string, o) => {
    await client(o).request('DELETE', `/v0/volumes/${name}`);
    print(`volume ${name} deleted\n`);
  });
  withControl(del.command('pool <node> <name>').description('destroy a pool that holds no replica')).action(async (node: string, name: string, o) => {
    await client(o).request('DELETE', `/v0/nodes/${node}/pools/${name}`);
    print(`pool ${node}/${name} deleted\n`);
  });
}
