// A volume's state from what the nodes report: each replica's status from its child in
// the nexus (or, unpublished, from whether its node lists it), and the volume's from its
// nexus and how many replicas are healthy.
import type { ObservedNexus, Registry } from '../registry/registry.js';
import type { ReplicaSpec, ReplicaStatus, VolumeSpec, VolumeState, VolumeStatus } from '../types.js';

/** The local child URI of a replica: its lvol bdev, `pool/name`. */
export function localReplicaUri(replica: ReplicaSpec): string {
  return `bdev:///${replica.pool}/${replica.name}`;
}

export function childOf(nexus: ObservedNexus | undefined, replica: ReplicaSpec): ObservedNexus['children'][number] | undefined {
  if (!nexus) return undefined;
  return nexus.children.find((c) => (replica.uuid && c.uri.includes(replica.uuid)) || c.uri === localReplicaUri(replica));
}

export function targetNexus(registry: Registry, spec: VolumeSpec): ObservedNexus | undefined {
  return spec.target ? registry.nexus(spec.target.node, spec.uuid) : undefined;
}

export function replicaStatus(registry: Registry, spec: VolumeSpec, replica: ReplicaSpec): ReplicaStatus {
  if (!registry.online(replica.node) || !replica.uuid || !registry.replica(replica.node, replica.name)) return 'Unknown';
  if (!spec.target) return 'Online';
  const nexus = targetNexus(registry, spec);
  if (!nexus) return 'Unknown';
  const child = childOf(nexus, replica);
  if (!child) return 'Degraded'; // not (yet) a child: being added
  if (child.state !== 'Open') return 'Faulted';
  return child.sync_state === 'OutOfSync' ? 'Degraded' : 'Online';
}

export function volumeState(registry: Registry, spec: VolumeSpec): VolumeState {
  const nexus = targetNexus(registry, spec);
  const replicas = spec.replicaSet.map((r) => {
    const child = childOf(nexus, r);
    return {
      ...(r.uuid ? { uuid: r.uuid } : {}),
      name: r.name,
      node: r.node,
      pool: r.pool,
      status: replicaStatus(registry, spec, r),
      ...(child ? { child: child.uri } : {}),
      ...(child?.rebuild_progress !== undefined ? { rebuildProgress: child.rebuild_progress } : {}),
    };
  });
  const healthy = replicas.filter((r) => r.status === 'Online').length;
  let status: VolumeStatus;
  if (spec.target && !nexus) status = 'Unknown';
  else if (nexus?.state === 'Faulted' || healthy === 0) status = replicas.some((r) => r.status === 'Unknown') && !nexus ? 'Unknown' : 'Faulted';
  else status = healthy >= spec.replicas && (!nexus || nexus.state === 'Online') ? 'Online' : 'Degraded';
  return {
    status,
    ...(spec.target ? { target: { node: spec.target.node, ...(spec.target.uri ? { uri: spec.target.uri } : {}), ...(nexus ? { state: nexus.state } : {}) } } : {}),
    replicas,
  };
}
