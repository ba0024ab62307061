// The control plane's errors: a stable code, an HTTP status, and details naming what is
// missing. The REST API answers { code, message, details }.
export const ControlErrorCodes = {
  InvalidArgument: 400,
  Unauthorized: 401,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  NotEnoughNodes: 409,
  NoSpace: 409,
  NodeOffline: 503,
  NotLeader: 503,
  NodeError: 502,
  Internal: 500,
} as const;

export type ControlErrorCode = keyof typeof ControlErrorCodes;

export class ControlError extends Error {
  readonly code: ControlErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ControlErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ControlError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ControlErrorCodes[this.code];
  }
}
