// Nodes (registration, heartbeats, listing), their pools, replicas, and the nexus info a
// daemon on the embedded store writes through the control plane.
import type { FastifyInstance } from 'fastify';
import type { StoredNexusInfo } from '../../daemon/nexus-store.js';
import { ControlError } from '../errors.js';
import { NODE_HOST_NQN_PREFIX, type Labels, type NodeEndpoint, type NodeSpec } from '../types.js';
import { DEFAULTS } from '../types.js';
import * as S from './schemas.js';
import type { ApiServices } from './services.js';

export function nodeEntry(view: ReturnType<ApiServices['registry']['nodes']>[number]) {
  return {
    name: view.spec.name,
    status: view.status,
    rpc: view.spec.rpc,
    replicaListener: view.spec.replicaListener,
    targetPort: view.spec.targetPort,
    labels: view.spec.labels,
    hostNqn: view.spec.hostNqn,
    lastSeen: view.lastSeen ? new Date(view.lastSeen).toISOString() : null,
  };
}

export function registerNodeRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get('/v0/status', async () => s.status());
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const registry = s.metrics();
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.get('/v0/nodes', async () => s.registry.nodes().map(nodeEntry));
  app.get<{ Params: { node: string } }>('/v0/nodes/:node', { schema: { params: S.nodeParams } }, async (req) => {
    const view = s.registry.node(req.params.node);
    if (!view) throw new ControlError('NotFound', `node ${req.params.node} is not registered`, { node: req.params.node });
    return nodeEntry(view);
  });
  app.put<{ Params: { node: string }; Body: { rpc: NodeEndpoint; replicaListener: { address: string; port: number }; targetPort?: number; labels?: Labels } }>(
    '/v0/nodes/:node',
    { schema: { params: S.nodeParams, body: S.registerNode } },
    async (req) => {
      const b = req.body;
      if (!b.rpc.socketPath === !b.rpc.tcp) throw new ControlError('InvalidArgument', 'rpc takes exactly one of socketPath and tcp');
      const wasOnline = s.registry.online(req.params.node);
      const spec: NodeSpec = {
        name: req.params.node,
        rpc: b.rpc,
        replicaListener: b.replicaListener,
        targetPort: b.targetPort ?? DEFAULTS.targetPort,
        labels: b.labels ?? {},
        hostNqn: NODE_HOST_NQN_PREFIX + req.params.node,
      };
      await s.registry.heartbeat(spec, spec.name);
      if (!wasOnline) {
        s.events.append('control', { kind: 'node.online', node: spec.name });
        s.reconcileSoon();
      }
      return { ...nodeEntry(s.registry.node(spec.name)!), heartbeatMs: DEFAULTS.heartbeatMs, ttlMs: s.registry.nodeTtlMs };
    },
  );
  app.post<{ Params: { node: string } }>('/v0/nodes/:node/heartbeat', { schema: { params: S.nodeParams } }, async (req, reply) => {
    if (!s.registry.node(req.params.node) && !(await s.registry.heartbeat(undefined, req.params.node).then(() => s.registry.node(req.params.node))))
      throw new ControlError('NotFound', `node ${req.params.node} is not registered; register it first`, { node: req.params.node });
    const wasOnline = s.registry.online(req.params.node);
    await s.registry.heartbeat(undefined, req.params.node);
    if (!wasOnline) {
      s.events.append('control', { kind: 'node.online', node: req.params.node });
      s.reconcileSoon();
    }
    return reply.code(204).send();
  });

  app.get('/v0/pools', async () => s.pools.list());
  app.get<{ Params: { node: string } }>('/v0/nodes/:node/pools', { schema: { params: S.nodeParams } }, async (req) => s.pools.list(req.params.node));
  app.post<{ Params: { node: string }; Body: { name: string; disk: string; labels?: Labels } }>(
    '/v0/nodes/:node/pools',
    { schema: { params: S.nodeParams, body: S.createPool } },
    async (req, reply) => reply.code(201).send(await s.pools.create(req.params.node, req.body)),
  );
  app.delete<{ Params: { node: string; pool: string } }>('/v0/nodes/:node/pools/:pool', { schema: { params: S.poolParams } }, async (req, reply) => {
    const volumes = await s.volumes.list();
    const used = new Set<string>();
    for (const v of volumes) for (const r of v.state.replicas) used.add(`${r.node}/${r.pool}`);
    await s.pools.delete(req.params.node, req.params.pool, (node, pool) => used.has(`${node}/${pool}`));
    return reply.code(204).send();
  });

  app.get('/v0/replicas', async () => {
    const out: Record<string, unknown>[] = [];
    for (const v of await s.volumes.list())
      for (const r of v.state.replicas) out.push({ ...r, volume: v.spec.name, volumeUuid: v.spec.uuid, sizeBytes: v.spec.sizeBytes, thin: v.spec.thin });
    return out;
  });

  app.get<{ Params: { uuid: string } }>('/v0/nexus-info/:uuid', { schema: { params: S.uuidParams } }, async (req) => {
    const info = await s.nexusInfo.load(req.params.uuid);
    if (!info) throw new ControlError('NotFound', `no nexus info for ${req.params.uuid}`, { uuid: req.params.uuid });
    return info;
  });
  // A nexus writes only while its node owns the record (the store fences it by owner).
  app.put<{ Params: { uuid: string }; Querystring: { node?: string }; Body: StoredNexusInfo }>(
    '/v0/nexus-info/:uuid',
    { schema: { params: S.uuidParams, querystring: S.writerQuery, body: S.nexusInfo } },
    async (req, reply) => {
      if (req.body.uuid !== req.params.uuid) throw new ControlError('InvalidArgument', 'the body uuid must match the path');
      await s.nexusInfo.saveAs(req.body, req.query.node);
      return reply.code(204).send();
    },
  );
  app.delete<{ Params: { uuid: string }; Querystring: { node?: string } }>(
    '/v0/nexus-info/:uuid',
    { schema: { params: S.uuidParams, querystring: S.writerQuery } },
    async (req, reply) => {
      await s.nexusInfo.removeAs(req.params.uuid, req.query.node);
      return reply.code(204).send();
    },
  );
}
