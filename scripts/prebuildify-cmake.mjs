#!/usr/bin/env node
// prebuildify has no cmake-js backend: it is given this script as `--node-gyp` and calls it
// like node-gyp (`rebuild --target=X --devdir=D --release`). We build with cmake-js into
// build/Release, where prebuildify looks for the result. The addon targets N-API 8, so the
// Node version passed as --target does not change the binary.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  console.error(`prebuildify-cmake: only 'rebuild' is supported, got: ${args.join(' ')}`);
  process.exit(2);
}
const debug = args.includes('--debug');
// `compile`, not `rebuild`: an up-to-date build/ (the install script's, in a git install's
// clone) is reused rather than built a second time; cmake rebuilds whatever changed.
const cmakeArgs = ['compile', '--out', 'build', ...(debug ? ['--debug'] : [])];
// cmake-js wherever npm put it (hoisted, in a git install's temporary clone).
const cmakeJs = join(dirname(createRequire(join(root, 'package.json')).resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, ...cmakeArgs], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
