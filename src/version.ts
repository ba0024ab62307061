// This package's version, from its package.json (found from src/ and from dist/src/).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export function packageVersion(): string {
  const require = createRequire(import.meta.url);
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(require.resolve(path), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'nodestor') return pkg.version;
    } catch {
      /* try the next layout (src/ or dist/src/) */
    }
  }
  return '0.0.0';
}
