// The raw native binding, typed 1:1 with the functions native/spdk-binding/ exports, one
// interface per area as the js_*.cc files are divided (src/native/). Nothing here is
// ergonomic; src/engine.ts and the classes in src/bdev/, src/lvol/, src/nvmf-target/ and
// src/nexus/ build the public API on top.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeBdevFunctions } from './native/bdev.js';
import type { NativeEngineFunctions } from './native/engine.js';
import type { NativeNexusFunctions } from './native/nexus.js';
import type { NativeNvmfFunctions } from './native/nvmf.js';
import type { NativePoolFunctions } from './native/pools.js';

export * from './native/bdev.js';
export * from './native/engine.js';
export * from './native/nexus.js';
export * from './native/nvmf.js';
export * from './native/pools.js';

export interface NativeBinding
  extends NativeEngineFunctions,
    NativeBdevFunctions,
    NativeNvmfFunctions,
    NativePoolFunctions,
    NativeNexusFunctions {}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'nodestor')
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('nodestor: cannot find the package root to load the native addon from');
    dir = parent;
  }
}

let loaded: NativeBinding | undefined;

/** Loads the addon once: build/Release, else prebuilds/ (PREBUILDS_ONLY=1 forces prebuilds). */
export function binding(): NativeBinding {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (root: string) => NativeBinding;
    const root = packageRoot();
    try {
      loaded = load(root);
    } catch (error) {
      // No prebuild for this machine (or it needs a newer glibc), and no source build: npm
      // 11 skips a dependency's install script until the application approves it.
      throw new Error(
        `nodestor: the native addon does not load (${(error as Error).message.split('\n')[0]}). ` +
          'The prebuild is for linux-x64 with glibc 2.35 or newer. To build it from source here: ' +
          '`npm install-scripts approve nodestor && npm rebuild nodestor` (needs cmake, g++, make, liburing-dev, libaio-dev, libssl-dev).',
        { cause: error },
      );
    }
  }
  return loaded;
}
