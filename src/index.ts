export { Engine, type EngineOptions, type EngineInfo, type CreatePoolOptions, type BdevDescription } from './engine.js';
export { Pool, type CreateLvolOptions } from './lvol/pool.js';
export { Lvol } from './lvol/lvol.js';
export { Bdev, type HandleStatus, type BdevHealth } from './bdev/bdev.js';
export type { BdevStats, IoTypeStats, LatencyUs, BdevIoCounts, IoTypeName } from './bdev/stats.js';
export { NodestorError, ErrorCodes, type ErrorCode } from './errors.js';
export { IoBatch, type BatchResult } from './bdev/batch.js';
export type { ErrorInjection, InjectIoType } from './bdev/injection.js';
export type { BenchOptions, BenchResult, BenchCoreResult, BenchWorkload } from './bench.js';
export {
  NvmfTarget,
  Subsystem,
  type SubsystemOptions,
  type SubsystemInfo,
  type NvmfErrorCounts,
  type NamespaceOptions,
  type ListenerAddress,
  type AnaState,
  type DiscoveryEntry,
  type HostConnectionEvent,
  type HostKeys,
  type DhchapDigest,
  type DhchapDhGroup,
} from './nvmf-target/target.js';
export { formatDhchapSecret, formatTlsPsk, generateDhchapSecret, generateTlsPsk } from './nvmf-target/dhchap-secret.js';
export { Keyring, type KeyringKey } from './keyring.js';
export {
  Nexus,
  NEXUS_NQN_PREFIX,
  type NexusState,
  type NexusChildInfo,
  type NexusEvents,
  type NexusPersistInfo,
  type PublishOptions,
  type RebuildStats,
} from './nexus/nexus.js';
export type { CreateNexusOptions } from './nexus/options.js';
export { Daemon, type DaemonOptions } from './daemon/daemon.js';
export { FileNexusInfoStore, type NexusInfoStore } from './daemon/nexus-store.js';
export { RpcClient, type RpcClientOptions } from './rpc/client.js';
export { RpcError, RpcCode } from './rpc/protocol.js';
