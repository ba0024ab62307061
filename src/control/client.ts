// A client for the control plane's REST API (the CLI and the daemons use it). Several
// URLs may be given (control planes on etcd): a call that cannot reach one tries the next.
// A refused call rejects with the API's ControlError.
import { randomUUID } from 'node:crypto';
import { currentRequestId, isRequestId } from '../request-context.js';
import { ControlError, type ControlErrorCode } from './errors.js';

export class ControlClient {
  readonly urls: string[];
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #requestId: string | undefined;
  #preferred = 0;

  /** `requestId`: every request this client makes carries it (the CLI's one per command). */
  constructor(urls: string | string[], options: { token?: string | undefined; timeoutMs?: number; requestId?: string } = {}) {
    this.urls = (Array.isArray(urls) ? urls : urls.split(',')).map((u) => u.replace(/\/+$/, ''));
    if (this.urls.length === 0 || this.urls.some((u) => !/^https?:\/\/[^/]+$/.test(u))) throw new RangeError(`control URLs look like http://host:port, got '${String(urls)}'`);
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    if (options.requestId !== undefined && !isRequestId(options.requestId)) throw new RangeError('a request id is 1 to 128 letters, digits or ._:@/+=-');
    this.#requestId = options.requestId;
  }

  /** A refusal's ControlError has the request's id in `details.requestId`. */
  async request<T = unknown>(method: string, path: string, body?: unknown, requestId: string = this.#requestId ?? currentRequestId() ?? randomUUID()): Promise<T> {
    let lastError: Error | undefined;
    for (let i = 0; i < this.urls.length; i++) {
      const index = (this.#preferred + i) % this.urls.length;
      let response: Response;
      try {
        response = await fetch(this.urls[index] + path, {
          method,
          headers: {
            'x-request-id': requestId,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(this.#token !== undefined ? { authorization: `Bearer ${this.#token}` } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (error) {
        lastError = error as Error;
        continue; // unreachable: try the next control plane
      }
      this.#preferred = index;
      const text = await response.text();
      const parsed = text ? (JSON.parse(text) as unknown) : undefined;
      if (!response.ok) {
        const e = (parsed ?? {}) as { code?: ControlErrorCode; message?: string; details?: Record<string, unknown> };
        throw new ControlError(e.code ?? 'Internal', e.message ?? `${method} ${path}: HTTP ${response.status}`, { ...e.details, httpStatus: response.status, requestId });
      }
      return parsed as T;
    }
    throw new ControlError('NodeOffline', `no control plane answers at ${this.urls.join(', ')}: ${lastError?.message ?? 'unknown error'}`, { urls: this.urls });
  }
}
