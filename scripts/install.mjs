#!/usr/bin/env node
// npm's install hook. A prebuild (or an earlier build) that loads on this machine: nothing
// to do. Otherwise the addon is built from source with cmake-js, found through Node's
// module resolution (npm may have hoisted it into the application's node_modules). When
// the build cannot run, this says what is missing and how to get it, and fails.
// (node-gyp-build's own command always runs node-gyp, which knows nothing of CMake.)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

function say(message) {
  console.error(`[nodestor install] ${message}`);
}

let loadError;
try {
  require('node-gyp-build')(root);
  process.exit(0);
} catch (error) {
  loadError = error;
}

const prebuildNote = existsSync(join(root, 'prebuilds'))
  ? `the prebuild in prebuilds/ does not load here (${loadError.message.split('\n')[0]})`
  : 'this package has no prebuild';
say(`${prebuildNote}; building the addon from source.`);

/** Where a package's file resolves from this package, or undefined. */
function resolves(request) {
  try {
    return require.resolve(request);
  } catch {
    return undefined;
  }
}

const onPath = (command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
const missingPackages = [];
if (!onPath('cmake')) missingPackages.push('cmake');
if (!onPath('c++') && !onPath('g++')) missingPackages.push('g++');
if (!onPath('make')) missingPackages.push('make');
for (const [header, pkg] of [
  ['/usr/include/liburing.h', 'liburing-dev'],
  ['/usr/include/libaio.h', 'libaio-dev'],
  ['/usr/include/openssl/evp.h', 'libssl-dev'],
])
  if (!existsSync(header)) missingPackages.push(pkg);
const cmakeJsPackage = resolves('cmake-js/package.json');
const missingModules = [
  ...(cmakeJsPackage ? [] : ['cmake-js@8']),
  ...(resolves('node-addon-api/package.json') ? [] : ['node-addon-api@8']),
];
if (missingPackages.length || missingModules.length) {
  say('cannot build from source. Missing:');
  if (missingPackages.length) say(`  Debian/Ubuntu packages: apt-get install -y ${missingPackages.join(' ')}`);
  if (missingModules.length)
    say(`  npm packages (optional dependencies; was --omit=optional used?): npm install ${missingModules.join(' ')}`);
  say('then run `npm rebuild nodestor`.');
  process.exit(1);
}

const cmakeJs = join(dirname(cmakeJsPackage), 'bin', 'cmake-js');
const addonApi = dirname(resolves('node-addon-api/package.json'));
const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', `--CDNDS_NODE_ADDON_API_DIR=${addonApi}`], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  say(`the source build failed (cmake-js exit ${result.status ?? result.signal}); its output is above.`);
  process.exit(1);
}
