// The method table of the RPC server: each method is registered with the schema of its
// parameters (as SPDK's *_rpc.c files register a decoder per method), so a call is checked
// before its handler runs and rpc_get_methods can list them.
import { check, type ObjectSchema } from './schema.js';
import { invalidParams, RpcCode, RpcError } from './protocol.js';

/** What a handler knows of the call beyond its parameters. */
export interface CallContext {
  method: string;
  /** Sends a notification on the calling connection (events_subscribe). */
  notify?: ((method: string, params: unknown) => void) | undefined;
  /** Runs when the calling connection closes. */
  onClose?: ((cleanup: () => void) => void) | undefined;
}

export type Handler<P = Record<string, unknown>> = (params: P, context: CallContext) => Promise<unknown> | unknown;

export interface MethodSpec {
  name: string;
  params: ObjectSchema;
  handler: Handler<never>;
}

export class MethodRegistry {
  #methods = new Map<string, MethodSpec>();
  #onIgnored: (method: string, members: string[]) => void;

  constructor(onIgnored: (method: string, members: string[]) => void = () => {}) {
    this.#onIgnored = onIgnored;
  }

  register<P>(name: string, params: ObjectSchema, handler: Handler<P>): void {
    if (this.#methods.has(name)) throw new Error(`RPC method ${name} registered twice`);
    this.#methods.set(name, { name, params, handler: handler as Handler<never> });
  }

  names(): string[] {
    return [...this.#methods.keys()].sort();
  }

  schema(name: string): ObjectSchema | undefined {
    return this.#methods.get(name)?.params;
  }

  has(name: string): boolean {
    return this.#methods.has(name);
  }

  /** Checks the parameters and runs the method; throws RpcError (or what the handler threw). */
  async call(name: string, params: unknown, context: CallContext): Promise<unknown> {
    const spec = this.#methods.get(name);
    if (!spec) throw new RpcError(RpcCode.methodNotFound, `Method not found: ${name}`);
    const given = params === undefined ? {} : params;
    const problem = check(spec.params, given, 'params');
    if (problem) throw invalidParams(problem, { method: name });
    const ignored = (spec.params.ignored ?? []).filter((key) => (given as Record<string, unknown>)[key] !== undefined);
    if (ignored.length) this.#onIgnored(name, ignored);
    return (spec.handler as Handler)(given as Record<string, unknown>, context);
  }
}
