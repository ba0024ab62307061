import { expect } from 'vitest';
import { Engine, NodestorError, type EngineOptions } from '../../src/index.js';

/** The NodestorError code a promise rejects with, or 'resolved'. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    expect(error).toBeInstanceOf(NodestorError);
    return (error as NodestorError).code;
  }
}

/** The error a promise rejects with (a test failure if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<NodestorError> {
  try {
    await promise;
  } catch (error) {
    return error as NodestorError;
  }
  throw new Error('expected a rejection');
}

/** Starts an engine for one test and always stops it, even when the test fails. */
export async function withEngine<T>(options: EngineOptions, body: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.start({ memoryMb: 128, hugepages: 'auto', ...options });
  try {
    return await body(engine);
  } finally {
    await engine.stop();
  }
}

/** Deterministic pseudo-random bytes (xorshift), so a failing comparison can be replayed. */
export function patternBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

async function hugepageCount(field: 'Free' | 'Total'): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  const match = new RegExp(`HugePages_${field}:\\s+(\\d+)`).exec(meminfo);
  return match ? Number(match[1]) : 0;
}

/** Free 2 MiB hugepages right now (other test processes may take some at any moment). */
export const freeHugepages = () => hugepageCount('Free');
/** All 2 MiB hugepages the kernel keeps: no request larger than this can ever succeed. */
export const totalHugepages = () => hugepageCount('Total');
