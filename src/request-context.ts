// Request ids: one id follows a management operation from the CLI through the control
// plane (the x-request-id header) to each daemon it calls (the JSON-RPC request's
// `request_id` member), so that every log line the operation causes can be found with
// one grep. The id lives in an AsyncLocalStorage for the operation's async calls, and
// requestLogger() adds it to every line a logger writes inside one.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

const storage = new AsyncLocalStorage<{ requestId: string }>();

/** What an id may hold: it is copied into headers and log lines. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

/** A fresh id; `prefix` names where it began when no caller gave one (a reconcile pass). */
export function newRequestId(prefix?: string): string {
  const id = randomUUID();
  return prefix ? `${prefix}-${id.slice(0, 8)}` : id;
}

/** The id of the operation this code runs for, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `fn` (and everything it awaits) as part of request `requestId`. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** The subset of a pino logger requestLogger() needs; pino.Logger satisfies it. */
interface ChildLogger {
  child(...args: never[]): unknown;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/**
 * `logger`, adding `requestId` to each line written inside withRequestId(). It wraps a
 * given logger (the application's own pino, for example) rather than needing a mixin at
 * construction, so an embedder's logger gets the ids too.
 */
export function requestLogger<L extends ChildLogger>(logger: L): L {
  return new Proxy(logger, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'child') return (...args: never[]) => requestLogger(target.child(...args) as L);
      if (typeof property !== 'string' || !LEVELS.has(property)) return value.bind(target);
      return (...args: unknown[]) => {
        const requestId = currentRequestId();
        if (requestId === undefined) return (value as (...a: unknown[]) => unknown).apply(target, args);
        const [first, ...rest] = args;
        const withId =
          first !== null && typeof first === 'object' && !(first instanceof Error) ? [{ requestId, ...first }, ...rest] : [{ requestId, ...(first instanceof Error ? { err: first } : {}) }, ...(first instanceof Error ? rest : args)];
        return (value as (...a: unknown[]) => unknown).apply(target, withId);
      };
    },
  });
}
