// The event stream: a child faulted and onlined shows, from the target's node, the fault,
// the rebuild begun and the rebuild ended, in that order, over Server-Sent Events; the
// JSON form and ?since= resume; `nodestor get events` prints them.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connect } from '../daemon/helpers/daemon.js';
import { clusterSession, until, type Volume } from './helpers/cluster.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const session = clusterSession();

interface Event {
  id: number;
  source: string;
  kind: string;
  [key: string]: unknown;
}

describe('events', () => {
  it('fault then online a child: the fault, the rebuild begun and ended, in order', async () => {
    // Reconcile only when asked: the test faults and onlines the child itself.
    const c = await session.start(2, { plane: (cl) => cl.startPlane({ reconcileMs: 600_000 }) });
    await c.api.request('POST', '/v0/volumes', { name: 'vol', sizeBytes: 8 << 20, replicas: 2 });
    const published = await c.api.request<Volume>('PUT', '/v0/volumes/vol/target', { node: 'node-0' });
    await c.plane.reconcileNow(); // subscribes to the nodes' events
    const before = await c.api.request<Event[]>('GET', '/v0/events');
    expect(before.find((e) => e.kind === 'volume.created')).toMatchObject({ source: 'control', volume: 'vol', uuid: published.spec.uuid });
    expect(before.filter((e) => e.kind === 'node.online' || e.kind === 'volume.online').length).toBeGreaterThan(0);
    const start = before.at(-1)!.id;

    const received: Event[] = [];
    const controller = new AbortController();
    const stream = fetch(`${c.url}/v0/events?follow=true&since=${start}`, { headers: { accept: 'text/event-stream' }, signal: controller.signal }).then(async (res) => {
      let buffered = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += Buffer.from(chunk).toString();
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const data = buffered.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
          buffered = buffered.slice(end + 2);
          if (data) received.push(JSON.parse(data.slice(6)) as Event);
        }
      }
    }).catch(() => undefined);

    const rpc = await connect(c.nodes.get('node-0')!.process.socket);
    const remote = published.state.replicas.find((r) => r.node === 'node-1')!;
    const [nexus] = await rpc.call<{ children: { uri: string }[] }[]>('nexus_list', { name: published.spec.uuid });
    const child = nexus!.children.find((ch) => ch.uri.includes(remote.uuid!))!.uri;
    await rpc.call('nexus_fault_child', { name: published.spec.uuid, uri: child });
    await rpc.call('nexus_online_child', { name: published.spec.uuid, uri: child });
    const ended = await until('the rebuild ended, over the stream', async () => {
      const i = received.findIndex((e) => e.kind === 'nexus.rebuild.completed');
      return i >= 0 ? i : undefined;
    });
    controller.abort();
    await stream;
    const kinds = received.slice(0, ended + 1).filter((e) => e.source === 'node-0').map((e) => e.kind);
    const fault = received.findIndex((e) => e.kind === 'nexus.child' && String(e.detail).startsWith('Faulted:AdminCommand'));
    const begun = received.findIndex((e) => e.kind === 'nexus.rebuild.running');
    expect(fault).toBeGreaterThanOrEqual(0);
    expect(begun).toBeGreaterThan(fault);
    expect(ended).toBeGreaterThan(begun);
    expect(kinds).toContain('nexus.state');
    expect(received.every((e, i) => i === 0 || e.id > received[i - 1]!.id)).toBe(true);

    // The JSON form, resumed after an id, and the CLI.
    const after = await c.api.request<Event[]>('GET', `/v0/events?since=${received[fault]!.id}`);
    expect(after[0]!.id).toBe(received[fault]!.id + 1);
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'get', 'events', '--since', String(start), '--control', c.url]);
    expect(stdout).toMatch(/\tnode-0\tnexus\.rebuild\.completed\t/);
  });
});
