// fast-check arbitraries from JSON Schemas (the daemon's method schemas, the control plane's
// OpenAPI document): values that mostly fit the schema, so requests get past the first
// check and reach the handlers, and values that break it in one place, so refusals are
// exercised too. Strings come from `names` (objects that exist) as often as at random.
import fc from 'fast-check';

export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
}

const SIZES = [0, 1, 511, 512, 4096, 1 << 20, 4 << 20, 1 << 30, 2 ** 53 - 1];

/** Values shaped like `schema`, names drawn from `names` half the time. */
export function fitting(schema: Schema, names: string[], depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => fitting(s, names, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      if (depth > 3 || !schema.properties) return fc.constant({});
      const shape = Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, fitting(s, names, depth + 1)]));
      return fc.record(shape, { requiredKeys: schema.required ?? [] });
    }
    case 'array':
      return fc.array(schema.items ? fitting(schema.items, names, depth + 1) : fc.jsonValue(), { maxLength: 3 });
    case 'integer': {
      const min = schema.minimum ?? -(2 ** 31);
      const max = schema.maximum ?? 2 ** 53 - 1;
      return fc.oneof(fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) }), fc.constantFrom(min, max, ...SIZES.filter((v) => v >= min && v <= max)));
    }
    case 'number':
      return fc.double({ noNaN: true, ...(schema.minimum !== undefined ? { min: schema.minimum } : {}), ...(schema.maximum !== undefined ? { max: schema.maximum } : {}) });
    case 'boolean':
      return fc.boolean();
    case 'string': {
      const random = schema.pattern ? fc.stringMatching(new RegExp(schema.pattern)) : fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 24, 24) });
      return names.length > 0 ? fc.oneof(fc.constantFrom(...names), random) : random;
    }
    default:
      return fc.jsonValue();
  }
}

/** Mostly fitting values; some with one property replaced by any JSON, dropped, or added. */
export function nearly(schema: Schema, names: string[]): fc.Arbitrary<unknown> {
  const base = fitting(schema, names);
  const keys = Object.keys(schema.properties ?? {});
  if (keys.length === 0) return fc.oneof({ weight: 4, arbitrary: base }, { weight: 1, arbitrary: fc.jsonValue() });
  const broken = fc.tuple(base, fc.constantFrom(...keys, 'unexpected'), fc.oneof(fc.jsonValue(), fc.constant(undefined))).map(([value, key, replacement]) => {
    const out = { ...(value as Record<string, unknown>) };
    if (replacement === undefined) delete out[key];
    else out[key] = replacement;
    return out;
  });
  return fc.oneof({ weight: 3, arbitrary: base }, { weight: 2, arbitrary: broken }, { weight: 1, arbitrary: fc.jsonValue() });
}

/**
 * The refusal property: `attempt` sends one generated request and says whether it was
 * refused; `state` reads what the service holds. For `seconds`, a refused request must
 * leave the state as it was (an accepted one sets the new baseline; when it may have
 * started work that goes on after its answer, the baseline is read with `settledState`).
 * Returns the counts.
 */
export async function refusalsChangeNothing<T>(
  requests: fc.Arbitrary<T>,
  attempt: (request: T) => Promise<{ refused: boolean; what: string; startsWork?: boolean }>,
  state: () => Promise<string>,
  seconds: number,
  settledState: () => Promise<string> = state,
): Promise<{ accepted: number; refused: number }> {
  const outcomes = { accepted: 0, refused: 0 };
  let baseline = await settledState();
  await fc.assert(
    fc.asyncProperty(requests, async (request) => {
      const { refused, what, startsWork } = await attempt(request);
      if (!refused) {
        outcomes.accepted++;
        baseline = startsWork ? await settledState() : await state();
        return;
      }
      const after = await state();
      outcomes.refused++;
      if (after !== baseline) throw new Error(`refused, and the state changed: ${what}\nbefore: ${baseline}\nafter:  ${after}`);
    }),
    { interruptAfterTimeLimit: seconds * 1000, numRuns: 1_000_000, endOnFailure: true },
  );
  return outcomes;
}
