#!/usr/bin/env node
// `npm pack` and `npm publish` run this first: the tarball must hold the compiled
// JavaScript and types and the linux-x64 prebuild, so that installing it needs no
// compiler. A prebuild missing or older than the native sources is built now; when it
// cannot be, packing stops here rather than making a tarball that needs a compiler.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const NATIVE_INPUTS = ['native', 'CMakeLists.txt'];

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function run(command, args) {
  console.error(`[nodestor prepack] ${command} ${args.join(' ')}`);
  return spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status === 0;
}

function prebuild() {
  const folder = join(root, 'prebuilds', 'linux-x64');
  const file = existsSync(folder) ? readdirSync(folder).find((f) => f.endsWith('.node')) : undefined;
  return file ? join(folder, file) : undefined;
}

if (!run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'])) {
  console.error('[nodestor prepack] the TypeScript build failed: not packing.');
  process.exit(1);
}
const existing = prebuild();
const sourcesChanged = Math.max(...NATIVE_INPUTS.map((p) => newest(join(root, p))));
if (!existing || statSync(existing).mtimeMs < sourcesChanged) {
  console.error(`[nodestor prepack] ${existing ? 'the prebuild is older than the native sources' : 'no prebuild'}: building it.`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (!run(npm, ['run', 'prebuild']) || !prebuild()) {
    console.error('[nodestor prepack] could not build prebuilds/linux-x64 (see above): not packing a tarball that would need a compiler to install.');
    process.exit(1);
  }
}
console.error(`[nodestor prepack] packing with ${prebuild()}`);
