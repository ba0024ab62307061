#!/usr/bin/env node
// npm's install hook: nothing to do when a prebuild (or an earlier build) loads on this
// machine; otherwise build the addon from source with cmake-js. (node-gyp-build's own
// command always runs node-gyp, which knows nothing of CMake.)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
try {
  require('node-gyp-build')(root);
  process.exit(0);
} catch {
  const result = spawnSync(join(root, 'node_modules', '.bin', 'cmake-js'), ['compile', '--out', 'build'], {
    cwd: root,
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
