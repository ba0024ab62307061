import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { codeForErrno, ErrorCodes, fromNative, ioError, NodestorError } from '../../src/errors.js';
import { requireBytes, requireInteger, requireOneOf, requireString } from '../../src/validate.js';

describe('error codes', () => {
  it('maps engine errnos to stable codes, either sign', () => {
    expect(codeForErrno(-constants.errno.EINVAL)).toBe('EINVAL');
    expect(codeForErrno(constants.errno.ENOENT)).toBe('ENOENT');
    expect(codeForErrno(-constants.errno.EEXIST)).toBe('EEXIST');
    expect(codeForErrno(-constants.errno.EBUSY)).toBe('EBUSY');
    expect(codeForErrno(-constants.errno.ENOSPC)).toBe('ENOSPC');
    expect(codeForErrno(-constants.errno.ENOMEM)).toBe('ENOMEM');
    expect(codeForErrno(-constants.errno.EIO)).toBe('EIO');
    expect(codeForErrno(-constants.errno.ENODEV)).toBe('ENODEV');
    expect(codeForErrno(-108)).toBe('ENGINE_STOPPED');
    expect(codeForErrno(-9999)).toBe('EUNKNOWN');
  });

  it('every errno the engine can return has its own code (none is EUNKNOWN)', () => {
    // Every errno written in the native sources, plus what socket calls return through
    // -errno (listen, connect) and file opens (aio, uring).
    const root = join(dirname(fileURLToPath(import.meta.url)), '../../native');
    const seen = new Set<string>(['EADDRINUSE', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EHOSTUNREACH', 'EMFILE', 'EACCES']);
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) visit(path);
        else if (/\.(cc|h)$/.test(entry.name))
          for (const m of readFileSync(path, 'utf8').matchAll(/-(E[A-Z]{3,})\b/g)) seen.add(m[1]!);
      }
    };
    visit(root);
    expect(seen.size).toBeGreaterThan(20);
    const unnamed = [...seen].filter((name) => {
      const errno = name === 'ESHUTDOWN' ? 108 : (constants.errno as Record<string, number | undefined>)[name];
      return errno === undefined || codeForErrno(-errno) === 'EUNKNOWN';
    });
    expect(unnamed).toEqual([]);
    expect(codeForErrno(-constants.errno.EADDRINUSE)).toBe('EADDRINUSE');
    expect(codeForErrno(-constants.errno.EADDRNOTAVAIL)).toBe('EADDRNOTAVAIL');
  });

  it('every listed code is unique', () => {
    expect(new Set(ErrorCodes).size).toBe(ErrorCodes.length);
  });

  it('wraps native errors with code, op, resource and errno', () => {
    const native = Object.assign(new Error('bdev m0 already exists'), { errno: -constants.errno.EEXIST });
    const err = fromNative(native, 'createBdev', 'malloc:///m0');
    expect(err).toBeInstanceOf(NodestorError);
    expect(err.code).toBe('EEXIST');
    expect(err.op).toBe('createBdev');
    expect(err.resource).toBe('malloc:///m0');
    expect(err.errno).toBe(-constants.errno.EEXIST);
    expect(err.message).toBe('bdev m0 already exists');
  });

  it('names the failed I/O and the bdev', () => {
    const err = ioError(-constants.errno.EIO, 'read', 'm0');
    expect(err.code).toBe('EIO');
    expect(err.message).toBe('read on bdev m0 failed: EIO');
  });
});

describe('argument validation', () => {
  it('throws TypeError for wrong types and RangeError for wrong values, naming the parameter', () => {
    expect(() => requireInteger('1', 'offset', 0)).toThrow(TypeError);
    expect(() => requireInteger(1.5, 'offset', 0)).toThrow(/offset must be an integer/);
    expect(() => requireInteger(-1, 'offset', 0)).toThrow(RangeError);
    expect(requireInteger(7, 'offset', 0)).toBe(7);
    expect(() => requireString(5, 'uri')).toThrow(TypeError);
    expect(() => requireOneOf('maybe', 'hugepages', ['auto', 'off'])).toThrow(RangeError);
    expect(() => requireOneOf(3, 'hugepages', ['auto', 'off'])).toThrow(TypeError);
    expect(() => requireBytes('abc', 'data')).toThrow(/data must be a Buffer or Uint8Array/);
  });
});
