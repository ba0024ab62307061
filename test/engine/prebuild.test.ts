import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `npm test` builds prebuilds/linux-x64 (npm run prebuild) first; this proves that binary,
// and only it, loads and serves verified I/O.
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('prebuild', () => {
  it('loads from prebuilds/ with PREBUILDS_ONLY=1 and does verified I/O', () => {
    const script = `
      const require = (await import('node:module')).createRequire(import.meta.url);
      console.log('loaded ' + require('node-gyp-build').resolve(${JSON.stringify(root)}));
      const { Engine } = await import(${JSON.stringify(root + 'dist/src/index.js')});
      const engine = await Engine.start({ memoryMb: 16, hugepages: 'off' });
      const bdev = await engine.createBdev('malloc:///p?size_mb=1&blk_size=4096');
      await bdev.write(8192, Buffer.alloc(4096, 0x42));
      const ok = (await bdev.read(8192, 4096)).equals(Buffer.alloc(4096, 0x42));
      await engine.stop();
      console.log('verified ' + ok);
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, PREBUILDS_ONLY: '1' },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/loaded .*\/prebuilds\/linux-x64\/nodestor\.node/);
    expect(result.stdout).toContain('verified true');
    expect(result.status).toBe(0);
  });

  it('links liburing and libaio statically: no runtime dependency on them', () => {
    const result = spawnSync('ldd', [`${root}prebuilds/linux-x64/nodestor.node`], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/libc\.so/);
    expect(result.stdout).not.toMatch(/liburing|libaio|libstdc\+\+/);
  });
});
