// SPDK's file keyring (keyring_file_add_key, keyring_file_remove_key, keyring_get_keys),
// kept by the engine (engine.keyring): keys are named, and each name stands for a file
// holding the key, readable by its owner only (mode 0600 or stricter), as SPDK requires.
// Methods that take keys (nvmf_subsystem_add_host --dhchap-key, bdev_nvme_attach_controller
// --psk) take the names and hand the names on: the engine reads the file when the key is
// used, so no key travels in an RPC, a bdev's URI, a config file or a log.
import type { DaemonContext } from '../../daemon/context.js';
import { NodestorError } from '../../errors.js';
import type { MethodRegistry } from '../registry.js';

const keyName = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' } as const;

/** A DH-HMAC-CHAP key parameter: the name, once it is known to be in the keyring (ENOENT otherwise). */
export function keyReference(ctx: DaemonContext, name: string, op: string): string {
  if (ctx.engine.keyring.listKeys().some((k) => k.name === name)) return name;
  throw new NodestorError('ENOENT', `no key named ${name} in the keyring (keyring_file_add_key adds one)`, { op, resource: name, errno: -2 });
}

/**
 * What a `psk` parameter names, as SPDK v24.01 takes it: a key in the keyring, else the
 * path of a PSK file (SPDK's older form). Either goes to the engine as it is, which reads
 * the file and refuses one open to others.
 */
export function pskReference(ctx: DaemonContext, reference: string, op: string): string {
  if (ctx.engine.keyring.listKeys().some((k) => k.name === reference) || reference.startsWith('/')) return reference;
  // Not echoed: a PSK pasted here by mistake would be.
  throw new NodestorError('ENOENT', 'psk: not a key name in the keyring, nor an absolute file path', { op, errno: -2 });
}

export function registerKeyringMethods(registry: MethodRegistry, ctx: DaemonContext): void {
  registry.register<{ name: string; path: string }>(
    'keyring_file_add_key',
    { type: 'object', properties: { name: keyName, path: { type: 'string', minLength: 1, maxLength: 4096 } }, required: ['name', 'path'] },
    async (p) => {
      await ctx.engine.keyring.addKey(p.name, p.path); // EEXIST, EINVAL, ENOENT, EPERM (not 0600)
      return true;
    },
  );
  registry.register<{ name: string }>('keyring_file_remove_key', { type: 'object', properties: { name: keyName }, required: ['name'] }, async (p) => {
    await ctx.engine.keyring.removeKey(p.name);
    return true;
  });
  registry.register('keyring_get_keys', { type: 'object', properties: {} }, () =>
    ctx.engine.keyring.listKeys().map(({ name, path }) => ({ name, removed: false, probed: true, refcnt: 1, module: 'keyring_file', path })),
  );
}
