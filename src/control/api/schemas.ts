// JSON schemas for the REST API's bodies and parameters: fastify validates every request
// against them and @fastify/swagger publishes them in the OpenAPI document.
import { NQN_MAX_BYTES, NQN_PATTERN } from '../../validate.js';

const labels = { type: 'object', additionalProperties: { type: 'string', maxLength: 63 }, maxProperties: 32 } as const;
const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' } as const;

export const error = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } },
  required: ['code', 'message'],
} as const;

export const nodeParams = { type: 'object', properties: { node: name }, required: ['node'] } as const;
export const nameParams = { type: 'object', properties: { name }, required: ['name'] } as const;
export const poolParams = { type: 'object', properties: { node: name, pool: name }, required: ['node', 'pool'] } as const;

export const registerNode = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rpc: {
      type: 'object',
      additionalProperties: false,
      properties: {
        socketPath: { type: 'string', minLength: 1, maxLength: 107 },
        tcp: { type: 'object', additionalProperties: false, properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 1, maximum: 65535 } }, required: ['host', 'port'] },
      },
    },
    replicaListener: {
      type: 'object',
      additionalProperties: false,
      properties: { address: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 1, maximum: 65535 } },
      required: ['address', 'port'],
    },
    targetPort: { type: 'integer', minimum: 1, maximum: 65535 },
    labels,
  },
  required: ['rpc', 'replicaListener'],
} as const;

export const createPool = {
  type: 'object',
  additionalProperties: false,
  properties: { name, disk: { type: 'string', minLength: 1, maxLength: 1024 }, labels },
  required: ['name', 'disk'],
} as const;

export const createVolume = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name,
    sizeBytes: { type: 'integer', minimum: 4096, maximum: 2 ** 50 },
    replicas: { type: 'integer', minimum: 1, maximum: 8 },
    thin: { type: 'boolean' },
    topology: { type: 'object', additionalProperties: false, properties: { nodeLabels: labels, poolLabels: labels } },
    faultedChildWaitMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
    ioTimeoutMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
  },
  required: ['name', 'sizeBytes', 'replicas'],
} as const;

export const publishVolume = {
  type: 'object',
  additionalProperties: false,
  properties: {
    node: name,
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    // Checked here, not first by the node: a refused publish must not reach it.
    hosts: { type: 'array', items: { type: 'string', pattern: NQN_PATTERN, maxLength: NQN_MAX_BYTES }, maxItems: 64 },
    failover: { type: 'boolean' },
  },
} as const;

export const replicaCountParams = {
  type: 'object',
  properties: { name, n: { type: 'integer', minimum: 1, maximum: 8 } },
  required: ['name', 'n'],
} as const;

export const nexusInfo = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    uuid: { type: 'string' },
    cleanShutdown: { type: 'boolean' },
    children: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, properties: { uri: { type: 'string' }, healthy: { type: 'boolean' }, replica: { type: 'string' } }, required: ['uri', 'healthy'] },
    },
  },
  required: ['name', 'uuid', 'cleanShutdown', 'children'],
} as const;

export const uuidParams = {
  type: 'object',
  properties: { uuid: { type: 'string', pattern: '^[0-9a-fA-F-]{36}$' } },
  required: ['uuid'],
} as const;

export const writerQuery = { type: 'object', additionalProperties: false, properties: { node: name } } as const;

export const createSnapshot = {
  type: 'object',
  additionalProperties: false,
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,23}$' } },
  required: ['name'],
} as const;

export const resizeVolume = {
  type: 'object',
  additionalProperties: false,
  properties: { sizeBytes: { type: 'integer', minimum: 4096, maximum: 2 ** 50 } },
  required: ['sizeBytes'],
} as const;
