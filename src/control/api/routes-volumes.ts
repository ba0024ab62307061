// Volumes: create, list, publish and unpublish the target, scale, resize, snapshot, delete.
import type { FastifyInstance } from 'fastify';
import type { CreateVolumeRequest } from '../services/volumes.js';
import * as S from './schemas.js';
import type { ApiServices } from './services.js';

export function registerVolumeRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get('/v0/volumes', async () => s.volumes.list());
  app.get<{ Params: { name: string } }>('/v0/volumes/:name', { schema: { params: S.nameParams } }, async (req) => s.volumes.get(req.params.name));
  app.post<{ Body: CreateVolumeRequest }>('/v0/volumes', { schema: { body: S.createVolume } }, async (req, reply) => reply.code(201).send(await s.volumes.create(req.body)));
  app.delete<{ Params: { name: string } }>('/v0/volumes/:name', { schema: { params: S.nameParams } }, async (req, reply) => {
    await s.volumes.delete(req.params.name);
    return reply.code(204).send();
  });
  app.put<{ Params: { name: string }; Body: { node?: string; port?: number; hosts?: string[]; failover?: boolean } | undefined }>(
    '/v0/volumes/:name/target',
    { schema: { params: S.nameParams, body: S.publishVolume } },
    async (req) => s.volumes.publish(req.params.name, req.body ?? {}),
  );
  app.delete<{ Params: { name: string } }>('/v0/volumes/:name/target', { schema: { params: S.nameParams } }, async (req) => s.volumes.unpublish(req.params.name));
  app.put<{ Params: { name: string }; Body: { sizeBytes: number } }>('/v0/volumes/:name/size', { schema: { params: S.nameParams, body: S.resizeVolume } }, async (req) =>
    s.volumes.resize(req.params.name, req.body.sizeBytes),
  );
  app.get<{ Params: { name: string } }>('/v0/volumes/:name/snapshots', { schema: { params: S.nameParams } }, async (req) => s.snapshots.list(req.params.name));
  app.post<{ Params: { name: string }; Body: { name: string } }>(
    '/v0/volumes/:name/snapshots',
    { schema: { params: S.nameParams, body: S.createSnapshot } },
    async (req, reply) => reply.code(201).send(await s.snapshots.take(req.params.name, req.body.name)),
  );
  app.put<{ Params: { name: string; n: number } }>('/v0/volumes/:name/replica_count/:n', { schema: { params: S.replicaCountParams } }, async (req) =>
    s.volumes.scale(req.params.name, req.params.n),
  );
}
