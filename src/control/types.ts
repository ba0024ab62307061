// The control plane's records, in Mayastor's words: a node (a daemon), its pools, and
// volumes made of replicas (lvols on pools of distinct nodes) and a target (the nexus).
// Specs are the desired state, kept in the state store; states are what the nodes report.

export type Labels = Record<string, string>;

/** How the control plane reaches a node's daemon. */
export interface NodeEndpoint {
  socketPath?: string;
  tcp?: { host: string; port: number };
}

export interface NodeSpec {
  name: string;
  rpc: NodeEndpoint;
  /** Where the node shares replicas (NVMe/TCP). */
  replicaListener: { address: string; port: number };
  /** Where the node publishes volume targets by default. */
  targetPort: number;
  labels: Labels;
  /** The host NQN the node's nexuses connect to replicas with: fencing allows only it. */
  hostNqn: string;
}

export type NodeStatus = 'Online' | 'Offline';

export interface PoolSpec {
  node: string;
  name: string;
  disk: string;
  labels: Labels;
}

export interface PoolState {
  status: 'Online' | 'Offline' | 'Unknown';
  totalBytes: number;
  usedBytes: number;
  committedBytes: number;
  availableBytes: number;
}

export interface ReplicaSpec {
  /** The lvol's name on its pool: `<volume uuid>-<n>`, so a replica names its owner. */
  name: string;
  /** The lvol's UUID, once made. */
  uuid?: string;
  node: string;
  pool: string;
  /** Set when the volume's nexus last saw this replica's child faulted. */
  faultedAt?: number;
  faultReason?: string;
}

export interface TargetSpec {
  node: string;
  port?: number;
  hosts?: string[];
  /** Move the target to another node holding a healthy replica when its node is lost. */
  failover?: boolean;
  uri?: string;
}

/** What is in progress on a volume, so a restarted control plane can finish it. */
export interface VolumeOperation {
  kind: 'create' | 'scale' | 'publish' | 'unpublish' | 'delete' | 'replace' | 'snapshot' | 'resize';
  startedAt: number;
  /** scale: the replica being added. */
  replica?: string;
  /** snapshot: the snapshot being taken (writes on the target are paused meanwhile). */
  snapshot?: string;
  /** resize: the size being grown to (the spec keeps the old size until it is done). */
  sizeBytes?: number;
  /** The request that began it: a control plane that finishes it logs under the same id. */
  requestId?: string;
}

/** A snapshot of every healthy replica, taken with the volume's writes paused. */
export interface SnapshotSpec {
  name: string;
  createdAt: string;
  /** Each replica's snapshot: an lvol `<replica name>@<snapshot name>` on its pool. */
  replicas: { node: string; pool: string; replica: string; uuid: string }[];
}

export interface VolumeSpec {
  name: string;
  uuid: string;
  sizeBytes: number;
  /** The replica count wanted. */
  replicas: number;
  thin: boolean;
  topology?: { nodeLabels?: Labels; poolLabels?: Labels };
  faultedChildWaitMs: number;
  ioTimeoutMs?: number;
  replicaSet: ReplicaSpec[];
  target?: TargetSpec;
  snapshots?: SnapshotSpec[];
  operation?: VolumeOperation;
}

export type VolumeStatus = 'Online' | 'Degraded' | 'Faulted' | 'Unknown';
export type ReplicaStatus = 'Online' | 'Degraded' | 'Faulted' | 'Unknown';

export interface VolumeState {
  status: VolumeStatus;
  target?: { node: string; uri?: string; state?: string };
  replicas: { uuid?: string; name: string; node: string; pool: string; status: ReplicaStatus; child?: string; rebuildProgress?: number }[];
}

export const DEFAULTS = {
  /** Mayastor's partial-rebuild wait. */
  faultedChildWaitMs: 5 * 60_000,
  /** Thin volumes may commit this multiple of a pool's capacity. */
  overcommit: 4,
  nodeTtlMs: 5_000,
  heartbeatMs: 1_000,
  reconcileMs: 2_000,
  /** Before an unowned replica or nexus is destroyed. */
  garbageGraceMs: 30_000,
  targetPort: 4421,
} as const;

export const NODE_HOST_NQN_PREFIX = 'nqn.2019-05.io.nodestor:node:';
