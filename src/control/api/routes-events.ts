// GET /v0/events: the event log, as JSON, or as Server-Sent Events with `?follow=true` (or
// an Accept of text/event-stream) that stay open; `?since=<id>` (or Last-Event-ID) resumes.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ApiServices } from './services.js';

const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { since: { type: 'integer', minimum: 0 }, follow: { type: 'boolean' } },
} as const;

export function registerEventRoutes(app: FastifyInstance, s: ApiServices): void {
  const open = new Set<ServerResponse>();
  // Streams stay open until their reader goes: end them so the server can close.
  app.addHook('onClose', async () => {
    for (const res of open) res.end();
  });
  app.get<{ Querystring: { since?: number; follow?: boolean } }>('/v0/events', { schema: { querystring: eventsQuery } }, async (req, reply) => {
    const lastId = Number(req.headers['last-event-id']);
    const since = req.query.since ?? (Number.isInteger(lastId) ? lastId : 0);
    const stream = req.query.follow ?? String(req.headers.accept ?? '').includes('text/event-stream');
    if (!stream) return s.events.since(since);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (e: { id: number }) => res.write(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
    open.add(res);
    for (const e of s.events.since(since)) send(e);
    const unsubscribe = s.events.subscribe(send);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
      open.delete(res);
    });
  });
}
