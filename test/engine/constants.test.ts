// The numbers TypeScript sends to the engine are the engine's own: the addon exports its
// C++ definitions, and the copies in src/ must agree with them.
import { describe, expect, it } from 'vitest';
import { BenchWorkloadCode, binding, InjectMode, IoOp } from '../../src/binding.js';
import { EAGAIN, MAX_IN_FLIGHT } from '../../src/io/dispatcher.js';

describe('constants shared with the addon', () => {
  it('agree with the C++ definitions', () => {
    const c = binding().constants;
    expect(c.ioTypes).toEqual(IoOp);
    expect(c.benchWorkloads).toEqual(BenchWorkloadCode);
    expect(c.maxIoInFlight).toBe(MAX_IN_FLIGHT);
    expect(c.EAGAIN).toBe(EAGAIN);
    expect(c.modules.error).toEqual(InjectMode);
    // Every module the engine registers is listed; only the error module has numbers.
    expect(Object.keys(c.modules).sort()).toEqual(['aio', 'error', 'malloc', 'null', 'nvmf', 'uring']);
  });
});
