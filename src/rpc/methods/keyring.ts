// SPDK's file keyring (keyring_file_add_key, keyring_file_remove_key, keyring_get_keys):
// keys are named, and each name stands for a file holding the key, readable by its owner
// only (mode 0600 or stricter), as SPDK requires. Methods that take keys (for example
// nvmf_subsystem_add_host --dhchap-key) take the names, so no key travels in an RPC, a
// config file or a log; the file is read when a key is used. Answers never hold a key.
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import type { MethodRegistry } from '../registry.js';

const keyName = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' } as const;

/** The key text behind a keyring name (read now), or ENOENT naming it. */
export function keyText(ctx: DaemonContext, name: string, op: string): string {
  const path = ctx.keyring.get(name);
  if (path === undefined) throw new NodestorError('ENOENT', `no key named ${name} in the keyring (keyring_file_add_key adds one)`, { op, resource: name, errno: -2 });
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new NodestorError('ENOENT', `key ${name}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { op, resource: name, errno: -2 });
  }
}

/**
 * What a `psk` parameter names, as SPDK v24.01 takes it: a key in the keyring, else the
 * path of a PSK file (SPDK's older form). A path goes to the engine as it is, which reads
 * it and refuses a file open to others; a keyring key goes as its text.
 */
export function pskReference(ctx: DaemonContext, reference: string, op: string): string {
  if (ctx.keyring.has(reference)) return keyText(ctx, reference, op);
  if (reference.startsWith('/')) return reference;
  throw new NodestorError('ENOENT', `psk: no key named ${reference} in the keyring, and not an absolute file path`, { op, resource: reference, errno: -2 });
}

export function registerKeyringMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<{ name: string; path: string }>(
    'keyring_file_add_key',
    { type: 'object', properties: { name: keyName, path: { type: 'string', minLength: 1, maxLength: 4096 } }, required: ['name', 'path'] },
    (p) => {
      const op = 'keyring_file_add_key';
      if (ctx.keyring.has(p.name)) throw new NodestorError('EEXIST', `key ${p.name} already exists`, { op, resource: p.name, errno: -17 });
      if (!isAbsolute(p.path)) throw new NodestorError('EINVAL', `key ${p.name}: the path must be absolute, got '${p.path}'`, { op, resource: p.name, errno: -22 });
      let mode: number;
      try {
        const st = statSync(p.path);
        if (!st.isFile()) throw new NodestorError('EINVAL', `key ${p.name}: ${p.path} is not a regular file`, { op, resource: p.name, errno: -22 });
        mode = st.mode;
      } catch (error) {
        if (error instanceof NodestorError) throw error;
        throw new NodestorError('ENOENT', `key ${p.name}: ${p.path} does not exist`, { op, resource: p.name, errno: -2 });
      }
      if (mode & 0o077)
        throw new NodestorError('EPERM', `key ${p.name}: ${p.path} has mode 0${(mode & 0o777).toString(8)}; a key file must be readable by its owner only (0600)`, { op, resource: p.name, errno: -1 });
      ctx.keyring.set(p.name, p.path);
      return true;
    },
  );
  registry.register<{ name: string }>('keyring_file_remove_key', { type: 'object', properties: { name: keyName }, required: ['name'] }, (p) => {
    if (!ctx.keyring.delete(p.name))
      throw new NodestorError('ENOENT', `no key named ${p.name}`, { op: 'keyring_file_remove_key', resource: p.name, errno: -2 });
    return true;
  });
  registry.register('keyring_get_keys', { type: 'object', properties: {} }, () =>
    [...ctx.keyring].map(([name, path]) => ({ name, removed: false, probed: true, refcnt: 1, module: 'keyring_file', path })),
  );
}
