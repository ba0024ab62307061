// The REST API (fastify): a JSON schema on every route, the OpenAPI document at
// /v0/api-docs, errors as { code, message, details }, and the Bearer token on every
// request when one is set. Without a token it listens on loopback only.
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isRequestId, newRequestId, withRequestId } from '../../request-context.js';
import { ControlError } from '../errors.js';
import { registerEventRoutes } from './routes-events.js';
import { registerNodeRoutes } from './routes-nodes.js';
import { registerVolumeRoutes } from './routes-volumes.js';
import type { ApiServices } from './services.js';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function sameToken(given: string, wanted: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(wanted);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startApi(services: ApiServices, options: { host: string; port: number; token?: string | undefined; log: Logger }): Promise<FastifyInstance> {
  if (options.token === undefined && !isLoopback(options.host))
    throw new ControlError('InvalidArgument', `the API listens on ${options.host}, off loopback, only with a token (--token-file)`);
  // Our own log lines (one per change, with its request id), not fastify's per request.
  const log = options.log.child({ component: 'api' });
  // An unknown field is refused by name, not dropped (fastify's default drops it).
  // The caller's x-request-id (the CLI sends one) names the request, or a new one does.
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    // A stop ends every connection: a client's keep-alive connection whose last request
    // body went unread (a refusal answered before it) is not idle, and would hold the stop
    // for the keep-alive timeout (72 s). The property test found it.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false } },
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return isRequestId(given) ? given : newRequestId();
    },
  });
  await app.register(swagger, {
    openapi: { info: { title: 'nodestor control plane', version: '0' } },
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const given = request.headers['x-request-id'];
    if (given !== undefined && !isRequestId(given))
      return reply.code(400).send({ code: 'InvalidArgument', message: 'x-request-id must be 1 to 128 letters, digits or ._:@/+=-', details: {} });
  });
  if (options.token !== undefined) {
    const token = options.token;
    app.addHook('onRequest', async (request, reply) => {
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!sameToken(given, token)) return reply.code(401).send({ code: 'Unauthorized', message: 'a valid Bearer token is required', details: {} });
    });
  }
  // After the body is parsed (a stream's callbacks would lose the context), the handler
  // and every daemon call it makes run under the request's id.
  app.addHook('preHandler', (request, _reply, done) => withRequestId(request.id, done));
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ControlError) return reply.code(error.httpStatus).send({ code: error.code, message: error.message, details: error.details });
    const e = error as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation) return reply.code(400).send({ code: 'InvalidArgument', message: e.message, details: { validation: e.validation } });
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ code: 'InvalidArgument', message: e.message, details: {} });
    log.error({ requestId: request.id, error: e.message }, 'request failed');
    return reply.code(500).send({ code: 'Internal', message: e.message, details: {} });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'NotFound', message: `no route ${request.method} ${request.url}`, details: {} }));
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'GET' && !request.url.includes('/heartbeat'))
      log.info({ requestId: request.id, method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'api call');
  });
  registerNodeRoutes(app, services);
  registerVolumeRoutes(app, services);
  registerEventRoutes(app, services);
  app.get('/v0/api-docs', { schema: { hide: true } }, async () => app.swagger());
  await app.listen({ host: options.host, port: options.port });
  return app;
}
