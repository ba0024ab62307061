// Argument checks that run before any native call: TypeError for a wrong type,
// RangeError for a value out of its range, naming the parameter.

export function requireInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  if (value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
  return value;
}

export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  return value;
}

export function requireOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw new TypeError(`${name} must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  if (!(allowed as readonly string[]).includes(value))
    throw new RangeError(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

export function requireBytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Buffer or Uint8Array, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return String(value);
}

/** An NVMe Qualified Name: nqn.yyyy-mm.reverse.domain[:name], printable ASCII, at most 223 bytes. */
export const NQN_PATTERN = '^nqn\\.[0-9]{4}-[0-9]{2}\\.[\\x21-\\x7e]+$';
export const NQN_MAX_BYTES = 223;

/** A URI as errors may carry it: the values of key parameters replaced by "(secret)". */
export function redactSecrets(uri: string): string {
  return uri.replace(/([?&](?:dhchap_key|dhchap_ctrlr_key|psk)=)[^&]*/g, '$1(secret)');
}
