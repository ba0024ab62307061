import { binding } from './binding.js';
import { withCallerStack } from './errors.js';
import type { NvmfHost } from './nvmf-target/target.js';
import { requireString } from './validate.js';

/** The name as errors may show it: not at all when it could be a key given by mistake. */
function shownName(name: unknown): string | undefined {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(name) || /^(DHHC-1:|NVMeTLSkey-1:)/.test(name)) return undefined;
  return name;
}

/** A key of the engine's keyring: its name and the file that holds it (never the key). */
export interface KeyringKey {
  name: string;
  path: string;
}

/**
 * The engine's file keyring (engine.keyring), as SPDK's keyring_file module keeps one: a
 * key has a name and stands for a file holding it, a DH-HMAC-CHAP secret (`DHHC-1:...`) or
 * a TLS PSK (`NVMeTLSkey-1:...`), readable by its owner only (mode 0600). Wherever a key is
 * taken (an nvmf URI's `dhchap_key`, `dhchap_ctrlr_key` and `psk`; `sub.addHost(nqn,
 * { dhchapKey, dhchapCtrlrKey, psk })`; `listNamespaces`), its name may stand for it, so no
 * key is written in a URI, a config or a log. The file is read each time the key is used.
 */
export class Keyring {
  readonly #host: NvmfHost;

  constructor(host: NvmfHost) {
    this.#host = host;
  }

  /** EINVAL for a bad name or a relative path, ENOENT for a missing file, EPERM for one others may read, EEXIST for a name taken. */
  addKey(name: string, path: string): Promise<void> {
    return this.#call('keyring.addKey', name, () => binding().keyringAddKey(this.#host.nativeHandle, requireString(name, 'name'), requireString(path, 'path')));
  }

  /** Forgets the name (ENOENT if unknown). What was connected with the key stays connected. */
  removeKey(name: string): Promise<void> {
    return this.#call('keyring.removeKey', name, () => binding().keyringRemoveKey(this.#host.nativeHandle, requireString(name, 'name')));
  }

  /** The keys by name, with their files' paths. */
  listKeys(): KeyringKey[] {
    this.#host.assertRunning('keyring.listKeys');
    return binding().keyringListKeys(this.#host.nativeHandle);
  }

  #call(op: string, name: string, fn: () => Promise<void>): Promise<void> {
    const resource = shownName(name);
    return withCallerStack(op, resource, async () => {
      this.#host.assertRunning(op, resource);
      return fn();
    });
  }
}
