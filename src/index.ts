export { Engine, type EngineOptions, type EngineInfo } from './engine.js';
export { Bdev, type HandleStatus } from './bdev/bdev.js';
export type { BdevStats, IoTypeStats, LatencyUs } from './bdev/stats.js';
export { NodestorError, ErrorCodes, type ErrorCode } from './errors.js';
