// Argument helpers for the nodestor command, kept apart so they have unit tests.

/** "127.0.0.1:8420" or "[::1]:8420" to { host, port }. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`expected host:port, got '${text}'`);
  return { host: match[1] ?? match[2]!, port };
}

function value(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // a bare word is a string
  }
}

/**
 * RPC parameters from the words after the method: one JSON object, or `--key value` pairs
 * (`--key` alone is true; dashes in keys become underscores, as rpc.py's options do).
 */
export function parseKeyValues(words: string[]): Record<string, unknown> | undefined {
  if (words.length === 0) return undefined;
  if (words.length === 1 && words[0]!.trim().startsWith('{')) {
    const parsed = JSON.parse(words[0]!) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('params must be a JSON object');
    return parsed as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('--')) throw new Error(`expected --key value, got '${word}'`);
    const key = word.slice(2).replaceAll('-', '_');
    const next = words[i + 1];
    if (next === undefined || next.startsWith('--')) out[key] = true;
    else {
      out[key] = value(next);
      i++;
    }
  }
  return out;
}
