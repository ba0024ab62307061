// The package as a user gets it.
//  - `npm pack` (in a copy of the repository's tracked files, so this checkout's dist/ is
//    not rewritten under other tests) holds the prebuild, the compiled JavaScript and
//    types, the CLI, LICENSE and README, and no tests.
//  - Installed into a fresh application with a PATH that holds no compiler (and without
//    the optional build dependencies), it loads, does verified I/O, and `npx nodestor`
//    runs.
//  - Installed from a git URL (prepare builds dist/, prepack the prebuild), it does too.
// Heavy (a TypeScript build, and for the git install a native one): it takes the
// machine-wide lock the multi-process tests use.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockClusters } from '../helpers/multi-process.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'nodestor-package-'));
let release: (() => void) | undefined;
beforeAll(async () => {
  release = await lockClusters();
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  release?.();
});

/** A bin directory with node, npm, npx and sh only: no cc, g++, cmake or make. */
function bareBin(): string {
  const bin = join(work, 'bare-bin');
  if (existsSync(bin)) return bin;
  mkdirSync(bin);
  const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin');
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(join(npmCli, 'npm-cli.js'), join(bin, 'npm'));
  symlinkSync(join(npmCli, 'npx-cli.js'), join(bin, 'npx'));
  symlinkSync('/bin/sh', join(bin, 'sh')); // npm runs scripts with it
  return bin;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeout = 600_000) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** An application directory with `nodestor` installed from `spec`; checks written data reads back. */
function installAndUse(name: string, spec: string, env: NodeJS.ProcessEnv, options: { npmArgs?: string[]; allowScripts?: Record<string, boolean> } = {}) {
  const app = join(work, name);
  mkdirSync(app);
  const manifest = { name, version: '1.0.0', private: true, type: 'module', ...(options.allowScripts ? { allowScripts: options.allowScripts } : {}) };
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest));
  const npmArgs = options.npmArgs ?? [];
  run('npm', ['install', spec, '--no-audit', '--no-fund', '--prefer-offline', ...npmArgs], app, env, 900_000);
  writeFileSync(
    join(app, 'io.mjs'),
    `import { randomBytes } from 'node:crypto';
import { Engine } from 'nodestor';
const engine = await Engine.start({ cores: [0], memoryMb: 64, hugepages: 'off', idle: 'adaptive' });
const bdev = await engine.createBdev('malloc:///m0?size_mb=8&blk_size=4096');
const data = randomBytes(1 << 20);
await bdev.write(4096, data);
const back = await bdev.read(4096, 1 << 20);
console.log(JSON.stringify({ equal: back.equals(data), blocks: bdev.numBlocks }));
await engine.stop();
`,
  );
  expect(JSON.parse(run('node', ['io.mjs'], app, env).trim())).toEqual({ equal: true, blocks: 2048 });
  expect(run('npx', ['--no-install', 'nodestor', '--version'], app, env).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  return app;
}

describe('the package', () => {
  it('packs with the prebuild, the JavaScript, the types, the CLI, LICENSE and README, and no tests; installs and runs with no compiler on PATH', () => {
    // A copy of what git tracks, with this checkout's prebuild (its mtime kept, so prepack
    // sees it is newer than the sources) and node_modules.
    const copy = join(work, 'copy');
    for (const file of execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean)) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(repo, file), join(copy, file), { preserveTimestamps: true });
    }
    cpSync(join(repo, 'prebuilds'), join(copy, 'prebuilds'), { recursive: true, preserveTimestamps: true });
    symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
    const out = join(work, 'tarball');
    mkdirSync(out);
    run('npm', ['pack', '--pack-destination', out], copy);
    const tarball = join(out, readdirSync(out).find((f) => f.endsWith('.tgz'))!);
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const wanted of ['package/prebuilds/linux-x64/', 'package/dist/src/index.js', 'package/dist/src/index.d.ts', 'package/dist/src/cli/main.js', 'package/dist/src/control/index.d.ts', 'package/dist/bench/cli.js', 'package/LICENSE', 'package/README.md', 'package/scripts/install.mjs', 'package/CMakeLists.txt'])
      expect(files.some((f) => f.startsWith(wanted)), wanted).toBe(true);
    expect(files.filter((f) => /\.node$/.test(f))).toEqual([expect.stringMatching(/^package\/prebuilds\/linux-x64\/.*\.node$/)]);
    expect(files.filter((f) => /(^package\/test\/|\/native\/engine\/test\/|\/native\/fuzz\/|\.test\.)/.test(f))).toEqual([]);
    // No @internal member in the published types.
    const bdevTypes = execFileSync('tar', ['xzf', tarball, '-O', 'package/dist/src/bdev/bdev.d.ts'], { encoding: 'utf8' });
    expect(bdevTypes).not.toMatch(/dispatcher|markGone|adoptBdev/);

    const env = { ...process.env, PATH: bareBin() };
    expect(spawnSync('/bin/sh', ['-c', 'command -v cc || command -v g++ || command -v cmake || command -v make'], { env }).status).not.toBe(0);
    installAndUse('app-tarball', tarball, env, { npmArgs: ['--omit=optional'] });
  }, 900_000);

  it('installs from a git URL: prepare builds dist/, prepack the prebuild', () => {
    // The committed tree, as a user's `npm install git+https://…` gets it.
    // npm 11 runs a git dependency's scripts (prepare, install) only when the application allows them.
    installAndUse('app-git', `git+file://${repo}`, process.env, { allowScripts: { nodestor: true } });
  }, 1_200_000);
});
