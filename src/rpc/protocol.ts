// JSON-RPC 2.0 as SPDK's server speaks it: the message shapes, the standard error codes,
// and the error a method throws to answer with a code of its choice.
import { constants } from 'node:os';
import { NodestorError } from '../errors.js';

const ESHUTDOWN = 108;
const ENODEV = 19;

export type RpcId = string | number | null;

export interface RpcRequest {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
  id?: RpcId;
  /** Over TCP: the daemon's token (compared in constant time). */
  token?: string;
  /** Our extension: the management operation this call is part of, for the daemon's logs. */
  request_id?: string;
}

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcResponse =
  | { jsonrpc: '2.0'; id: RpcId; result: unknown }
  | { jsonrpc: '2.0'; id: RpcId; error: RpcErrorBody };

export interface RpcNotification {
  jsonrpc: '2.0';
  method: string;
  params: unknown;
}

/** JSON-RPC's own codes; engine errors are -errno, as SPDK answers them. */
export const RpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** TCP: the token is missing or wrong. */
  unauthorized: -32001,
} as const;

/** Thrown by a method (or the framework) to answer with this code and message. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

/** -32602 for a parameter the schema cannot express (a method's own check). */
export function invalidParams(message: string, data: Record<string, unknown> = {}): RpcError {
  return new RpcError(RpcCode.invalidParams, `Invalid parameters: ${message}`, { code: 'EINVAL', ...data });
}

/** The error body for anything a method threw. */
export function errorBody(error: unknown): RpcErrorBody {
  if (error instanceof RpcError)
    return error.data === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, data: error.data };
  if (error instanceof NodestorError) {
    // SPDK's convention: code = -errno. Our stable code goes in data.
    const errno =
      error.errno ??
      (error.code === 'ENGINE_STOPPED' ? ESHUTDOWN : error.code === 'DESTROYED' ? ENODEV : (constants.errno as Record<string, number>)[error.code]);
    const code = errno !== undefined ? -Math.abs(errno) : RpcCode.internalError;
    return { code, message: error.message, data: { code: error.code, op: error.op, resource: error.resource } };
  }
  if (error instanceof TypeError || error instanceof RangeError)
    return { code: RpcCode.invalidParams, message: error.message, data: { code: 'EINVAL' } };
  return { code: RpcCode.internalError, message: error instanceof Error ? error.message : String(error) };
}
