// nodestor/control: the control plane's state store, election and nexus info. A subpath of
// its own, so the SDK does not load the etcd client (gRPC) or LevelDB unless asked for.
export { EmbeddedStore } from './store/embedded.js';
export { EtcdStore } from './store/etcd.js';
export { Election } from './store/election.js';
export { StoreNexusInfoStore } from './store/nexus-info.js';
export type { StateStore, KeyValue, Compare, TxnOp, TxnResult, WatchEvent, Watch, Lease } from './store/store.js';
export { ControlPlane, openStore, type ControlPlaneOptions } from './control-plane.js';
export { ControlClient } from './client.js';
export { ControlError, type ControlErrorCode } from './errors.js';
export { placeReplicas, type Placement, type PlacementRequest } from './scheduling/placement.js';
export type { NodeSpec, PoolSpec, VolumeSpec, VolumeState, ReplicaSpec } from './types.js';
