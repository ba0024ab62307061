// Request ids: requestLogger() adds the id of the request the code runs for to each line,
// through awaits and child loggers, and leaves lines outside a request alone.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { currentRequestId, isRequestId, newRequestId, requestLogger, withRequestId } from '../../src/request-context.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info', base: {} }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log: requestLogger(logger), lines };
}

describe('request ids', () => {
  it('each line inside withRequestId carries the id, through awaits and child loggers; lines outside do not', async () => {
    const { log, lines } = capture();
    const child = log.child({ component: 'api' });
    log.info('before');
    await withRequestId('req-1', async () => {
      log.info({ volume: 'v' }, 'first');
      await new Promise((resolve) => setTimeout(resolve, 5));
      child.warn('from a child');
      log.error(new Error('boom'));
      expect(currentRequestId()).toBe('req-1');
    });
    await Promise.all([withRequestId('a', async () => log.info('in a')), withRequestId('b', async () => log.info('in b'))]);
    log.info('after');
    expect(lines.map((l) => [l.msg, l.requestId])).toEqual([
      ['before', undefined],
      ['first', 'req-1'],
      ['from a child', 'req-1'],
      ['boom', 'req-1'],
      ['in a', 'a'],
      ['in b', 'b'],
      ['after', undefined],
    ]);
    expect(lines[1]).toMatchObject({ volume: 'v' });
    expect(lines[2]).toMatchObject({ component: 'api' });
    expect(lines[3]).toMatchObject({ err: { message: 'boom' } });
    expect(log.isLevelEnabled('info')).toBe(true); // other members still work
    expect(currentRequestId()).toBeUndefined();
  });

  it('accepts ids of 1 to 128 safe characters and makes new ones', () => {
    expect(isRequestId('cli-2f9c:op/1')).toBe(true);
    expect(isRequestId('x'.repeat(128))).toBe(true);
    for (const bad of ['', 'x'.repeat(129), 'has space', 'new\nline', 42, undefined]) expect(isRequestId(bad)).toBe(false);
    expect(newRequestId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(newRequestId('reconcile')).toMatch(/^reconcile-[0-9a-f]{8}$/);
  });
});
