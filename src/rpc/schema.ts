// The parameter schemas methods register (a JSON Schema subset: object, string, integer,
// number, boolean, array; required; enum; minimum/maximum; no unknown members), and the
// check that names the first parameter in error, for a -32602 answer.

export type Schema =
  | { type: 'string'; enum?: readonly string[]; minLength?: number; maxLength?: number; pattern?: string; description?: string }
  | { type: 'integer' | 'number'; minimum?: number; maximum?: number; description?: string }
  | { type: 'boolean'; description?: string }
  | { type: 'array'; items: Schema; maxItems?: number; description?: string }
  | ObjectSchema;

export interface ObjectSchema {
  type: 'object';
  properties: Record<string, Schema>;
  required?: readonly string[];
  /** Members we accept and do not use (SPDK tunables with no meaning here): named in a warning. */
  ignored?: readonly string[];
  /** Any members accepted (SPDK tunables taken whole); the handler decides what applies. */
  open?: boolean;
  description?: string;
}

/** No parameters at all. */
export const NO_PARAMS: ObjectSchema = { type: 'object', properties: {} };

/** Returns null when `value` matches, else the message naming the parameter (`path`). */
export function check(schema: Schema, value: unknown, path: string): string | null {
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return `${path} must be a string`;
      if (schema.enum && !schema.enum.includes(value)) return `${path} must be one of ${schema.enum.join(', ')}, got '${value}'`;
      if (schema.minLength !== undefined && value.length < schema.minLength) return `${path} must be at least ${schema.minLength} characters`;
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${path} must be at most ${schema.maxLength} characters`;
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return `${path} does not have the expected form (${schema.pattern})`;
      return null;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${path} must be a number`;
      if (schema.type === 'integer' && !Number.isSafeInteger(value)) return `${path} must be an integer`;
      if (schema.minimum !== undefined && value < schema.minimum) return `${path} must be at least ${schema.minimum}, got ${value}`;
      if (schema.maximum !== undefined && value > schema.maximum) return `${path} must be at most ${schema.maximum}, got ${value}`;
      return null;
    case 'boolean':
      return typeof value === 'boolean' ? null : `${path} must be a boolean`;
    case 'array': {
      if (!Array.isArray(value)) return `${path} must be an array`;
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${path} may hold at most ${schema.maxItems} items`;
      for (let i = 0; i < value.length; i++) {
        const problem = check(schema.items, value[i], `${path}[${i}]`);
        if (problem) return problem;
      }
      return null;
    }
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return `${path} must be an object`;
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        if (!schema.open && schema.properties[key] === undefined && !schema.ignored?.includes(key))
          return `${path === 'params' ? '' : `${path}.`}${key} is not a parameter of this method`;
      }
      for (const [key, sub] of Object.entries(schema.properties)) {
        if (record[key] === undefined) continue;
        const problem = check(sub, record[key], path === 'params' ? key : `${path}.${key}`);
        if (problem) return problem;
      }
      for (const key of schema.required ?? [])
        if (record[key] === undefined) return `${path === 'params' ? '' : `${path}.`}${key} is required`;
      return null;
    }
  }
}
