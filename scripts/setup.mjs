#!/usr/bin/env node
// Does whatever set-up is missing, so `npm run demo` and `npm test` work as the first
// command in a fresh clone: Debian build packages (as root; otherwise prints the exact
// apt-get line and stops), npm dependencies, hugepages (as root), the native addon, the
// TypeScript build and, with --native-tests, the sanitizer-built native tests and the
// prebuild. Uses only Node's standard library: it runs before dependencies exist.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const withNativeTests = process.argv.includes('--native-tests');
const isRoot = process.getuid?.() === 0;
// For the tests only: the fuzz targets need clang and its libFuzzer runtime, the RPC TLS
// test makes its certificate with openssl, the NVMe/TCP TLS interoperation test runs
// GnuTLS's gnutls-cli, the state-store suite runs a real etcd, and the
// metrics tests a real Prometheus (and its promtool).
const DEBIAN_PACKAGES = [
  'cmake', 'g++', 'make', 'liburing-dev', 'libaio-dev', 'libssl-dev',
  ...(withNativeTests ? ['clang-14', 'libclang-rt-14-dev', 'openssl', 'gnutls-bin', 'etcd-server', 'prometheus'] : []),
];
const HUGEPAGES = 1024; // 2 GiB of 2 MiB pages: room for several test engines at once

function log(message) {
  console.log(`[nodestor setup] ${message}`);
}

function run(command, args, options = {}) {
  log(`${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`[nodestor setup] failed: ${command} ${args.join(' ')} (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function missingDebianPackages() {
  return DEBIAN_PACKAGES.filter((name) => {
    try {
      const status = execFileSync('dpkg-query', ['-W', '-f=${Status}', name], { stdio: ['ignore', 'pipe', 'ignore'] });
      return !status.toString().includes('install ok installed');
    } catch {
      return true;
    }
  });
}

function ensureDebianPackages() {
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  const line = `apt-get install -y ${missing.join(' ')}`;
  if (!isRoot) {
    console.error(`[nodestor setup] missing build packages. Run as root:\n  ${line}\nthen run this command again.`);
    process.exit(1);
  }
  run('apt-get', ['update', '-qq'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  run('apt-get', ['install', '-y', '-qq', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function newestMtime(paths) {
  let newest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry));
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const path of paths) visit(join(root, path));
  return newest;
}

function isStale(output, inputs) {
  const target = join(root, output);
  return !existsSync(target) || statSync(target).mtimeMs < newestMtime(inputs);
}

function ensureNpmDependencies() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(['package.json', 'package-lock.json'])) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (existsSync(join(root, 'package-lock.json'))) run(npm, ['ci', '--no-audit', '--no-fund']);
  else run(npm, ['install', '--no-audit', '--no-fund']);
}

function ensureHugepages() {
  if (!isRoot) {
    log('not root: leaving hugepages as they are (the engine falls back to ordinary pages with a warning)');
    return;
  }
  try {
    const current = Number(readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
    if (current < HUGEPAGES) {
      writeFileSync('/proc/sys/vm/nr_hugepages', String(HUGEPAGES));
      const now = Number(readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
      log(`hugepages: ${current} -> ${now} (asked for ${HUGEPAGES})`);
    }
    const mounts = readFileSync('/proc/mounts', 'utf8');
    if (!mounts.split('\n').some((line) => line.split(' ')[1] === '/dev/hugepages')) {
      mkdirSync('/dev/hugepages', { recursive: true });
      spawnSync('mount', ['-t', 'hugetlbfs', 'nodev', '/dev/hugepages'], { stdio: 'ignore' });
    }
  } catch (error) {
    log(`could not set up hugepages (${error.message}); the engine will fall back to ordinary pages`);
  }
}

const NATIVE_INPUTS = ['native', 'CMakeLists.txt', 'package.json'];
const cmakeJs = join(root, 'node_modules', '.bin', 'cmake-js');

function ensureNativeAddon() {
  if (!isStale('build/Release/nodestor.node', NATIVE_INPUTS)) return;
  run(cmakeJs, ['compile', '--out', 'build']);
}

function ensureTypeScript() {
  if (!isStale('dist/src/index.js', ['src', 'examples', 'bench', 'test/helpers', 'tsconfig.json'])) return;
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);
}

// The engine's native tests twice: with ASan+UBSan, and with TSan (they cannot share a build).
function ensureNativeTests() {
  for (const [dir, sanitizer] of [['build-native-tests', '-DNDS_SANITIZE=ON'], ['build-native-tsan', '-DNDS_TSAN=ON']]) {
    if (!isStale(`${dir}/nds_engine_tests`, NATIVE_INPUTS)) continue;
    run('cmake', ['-S', '.', '-B', dir, '-DNDS_BUILD_ADDON=OFF', '-DNDS_BUILD_TESTS=ON', sanitizer, '-DCMAKE_BUILD_TYPE=Debug']);
    run('cmake', ['--build', dir, '-j', '2']);
  }
}

// The libFuzzer targets (clang, with ASan and UBSan): test/engine/fuzz.test.ts runs them.
function ensureFuzzTargets() {
  const dir = 'build-fuzz';
  if (!isStale(`${dir}/nds_fuzz_nvmf_tcp`, NATIVE_INPUTS)) return;
  run('cmake', ['-S', '.', '-B', dir, '-DCMAKE_CXX_COMPILER=clang++-14', '-DNDS_BUILD_ADDON=OFF', '-DNDS_FUZZ=ON', '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
  run('cmake', ['--build', dir, '-j', '2']);
}

function ensurePrebuild() {
  const folder = 'prebuilds/linux-x64';
  const existing = existsSync(join(root, folder)) ? readdirSync(join(root, folder)).filter((f) => f.endsWith('.node')) : [];
  if (existing.length > 0 && !isStale(join(folder, existing[0]), NATIVE_INPUTS)) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  run(npm, ['run', 'prebuild']);
}

ensureDebianPackages();
ensureNpmDependencies();
ensureHugepages();
// The prebuild goes first: prebuildify's build clears build/Release, which the dev addon uses.
if (withNativeTests) ensurePrebuild();
ensureNativeAddon();
ensureTypeScript();
if (withNativeTests) {
  ensureNativeTests();
  ensureFuzzTargets();
}
