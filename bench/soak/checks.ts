// What the soak checks after each fault: every volume Online with all its replicas, and
// the replicas of each volume identical byte for byte (read straight from each replica
// over NVMe/TCP, while the host's I/O is paused).
import { createHash } from 'node:crypto';
import type { Engine } from '../../src/index.js';
import type { SoakCluster } from './cluster.js';

export interface VolumeView {
  spec: { uuid: string; replicas: number; sizeBytes: number; target?: { node: string; uri?: string } };
  state: { status: string; replicas: { uuid?: string; name: string; node: string; status: string }[] };
}

const VERIFIER = 'nqn.2019-05.io.nodestor:soak-verifier';
const SEGMENT = 1 << 20;

export function volumeView(cluster: SoakCluster, name: string): Promise<VolumeView> {
  return cluster.api.request<VolumeView>('GET', `/v0/volumes/${name}`);
}

interface NexusEntry {
  state: string;
  children: { state: string; sync_state: string; rebuild_progress?: number }[];
}

/**
 * Every volume Online with all its replicas Online, as the control plane sees it and as
 * its nexus says (the plane's view may not have caught up with a fault yet).
 */
async function allOnline(cluster: SoakCluster, names: string[]): Promise<boolean> {
  for (const name of names) {
    const v = await volumeView(cluster, name);
    if (v.state.status !== 'Online' || v.state.replicas.length !== v.spec.replicas || v.state.replicas.some((r) => r.status !== 'Online')) return false;
    if (!v.spec.target) continue;
    const [nexus] = await cluster.rpc<NexusEntry[]>(cluster.node(v.spec.target.node), 'nexus_list', { name: v.spec.uuid });
    if (nexus?.state !== 'Online' || nexus.children.length !== v.spec.replicas) return false;
    if (nexus.children.some((c) => c.state !== 'Open' || c.sync_state !== 'Synced' || c.rebuild_progress !== undefined)) return false;
  }
  return true;
}

/** Waits until allOnline(); returns how long it took. */
export async function waitOnline(cluster: SoakCluster, names: string[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await cluster.until(`volumes ${names.join(', ')} Online`, () => allOnline(cluster, names), timeoutMs);
  return Date.now() - t0;
}

/**
 * With the I/O drained: waits for Online, then compares each volume's replicas. A fault
 * can be latent until the I/O drains (a child still reconnecting holds its writes, and
 * its nexus reports it Synced until they fail), and a rebuild may begin during the
 * comparison: a comparison counts only when every volume was Online before and after it
 * with no rebuild in between, else it is made again. Returns when Online was reached.
 */
export async function compareSettled(cluster: SoakCluster, host: Engine, names: string[], timeoutMs: number): Promise<{ onlineAt: number; problems: string[] }> {
  for (let attempt = 1; ; attempt++) {
    await waitOnline(cluster, names, timeoutMs);
    const onlineAt = Date.now();
    const rebuildsBefore = await rebuildCount(cluster, names);
    const problems: string[] = [];
    for (const name of names) problems.push(...(await compareReplicas(cluster, host, name)));
    if ((await allOnline(cluster, names)) && (await rebuildCount(cluster, names)) === rebuildsBefore) return { onlineAt, problems };
    if (attempt === 5) return { onlineAt, problems: [...problems, 'the volumes did not stay Online through 5 comparisons'] };
  }
}

async function rebuildCount(cluster: SoakCluster, names: string[]): Promise<number> {
  let n = 0;
  for (const name of names) n += (await rebuildHistory(cluster, name)).length;
  return n;
}

/**
 * SHA-256 of each 1 MiB segment of each replica of `name`; returns the segments where the
 * replicas differ (empty when identical). The verifier's access is removed afterwards.
 */
export async function compareReplicas(cluster: SoakCluster, host: Engine, name: string): Promise<string[]> {
  const view = await volumeView(cluster, name);
  const hashes = new Map<string, string[]>();
  for (const replica of view.state.replicas) {
    // The control plane may fence a replica again while it is read (after a restart it
    // shares each child anew, which ends other hosts' connections): read it again then.
    for (let attempt = 1; ; attempt++) {
      try {
        hashes.set(replica.node, await replicaSegments(cluster, host, replica, view.spec.sizeBytes));
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
  const [first, ...rest] = [...hashes.entries()];
  const differing: string[] = [];
  if (!first) return differing;
  for (const [node, segments] of rest)
    segments.forEach((hash, i) => {
      if (hash !== first[1][i]) differing.push(`${name}: segment ${i} differs between ${first[0]} and ${node}`);
    });
  return differing;
}

async function replicaSegments(cluster: SoakCluster, host: Engine, replica: { uuid?: string; name: string; node: string }, sizeBytes: number): Promise<string[]> {
  const node = cluster.node(replica.node);
  // Every replica is shared (no nexus holds one of its own volume's): the verifier is let
  // in beside the nexus's host, and out again after. Never unshared: the nexus uses it.
  const uri = await cluster.rpc<string>(node, 'replica_share', { uuid: replica.uuid, allowed_hosts: [VERIFIER] });
  const nqn = `nqn.2019-05.io.nodestor:${replica.uuid}`;
  await cluster.rpc(node, 'nvmf_subsystem_add_host', { nqn, host: VERIFIER }).catch(() => undefined); // there already when just shared
  const bdev = await host.createBdev(`${uri}?hostnqn=${encodeURIComponent(VERIFIER)}&ctrl_loss_timeout_ms=1000&name=verify-${replica.name}`);
  try {
    const segments: string[] = [];
    for (let offset = 0; offset < sizeBytes; offset += SEGMENT)
      segments.push(createHash('sha256').update(await bdev.read(offset, Math.min(SEGMENT, sizeBytes - offset))).digest('hex'));
    return segments;
  } finally {
    await bdev.destroy();
    await cluster.rpc(node, 'nvmf_subsystem_remove_host', { nqn, host: VERIFIER }).catch(() => undefined);
  }
}

/** Rebuilds each volume's nexus has run (its history, which a restarted nexus starts again). */
export async function rebuildHistory(cluster: SoakCluster, name: string): Promise<{ key: string; bytesRebuilt: number; state: string }[]> {
  const view = await volumeView(cluster, name);
  if (!view.spec.target) return [];
  const history = await cluster.rpc<{ childUri: string; startedAt: number; bytesRebuilt: number; state: string }[]>(cluster.node(view.spec.target.node), 'nexus_rebuild_history', { name: view.spec.uuid });
  return history.map((h) => ({ key: `${view.spec.target!.node}/${h.childUri}@${h.startedAt}`, bytesRebuilt: h.bytesRebuilt, state: h.state }));
}
