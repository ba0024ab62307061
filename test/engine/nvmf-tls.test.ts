// NVMe/TCP over TLS 1.3 with a PSK from the TypeScript API: a listener that requires TLS
// (sub.addListener({ secureChannel: true })), the host's PSK at the subsystem
// (sub.addHost(nqn, { psk })), our host connecting with psk=<0600 file> in the nvmf URI.
// Data written over TLS reads back on the namespace, with either cipher suite; a wrong PSK,
// a plain-text host, and a PSK file open to others are refused with their codes, and no
// message, resource or info() shows a key.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTlsPsk } from '../../src/index.js';
import { patternBytes, rejection, withEngine } from '../helpers/engine.js';

const NQN = 'nqn.2026-12.io.nodestor:ts-tls';
const HOST = 'nqn.2026-12.io.nodestor:ts-tls-host';

const psk = (seed: number, length: 32 | 48) => formatTlsPsk(Buffer.from(Array.from({ length }, (_, i) => (seed * 29 + i * 5) & 0xff)));

describe('TLS through the API', () => {
  it('carries I/O over TLS with both suites; refuses a wrong PSK and plain text', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nds-tls-'));
    const keyFile = (name: string, text: string, mode: number) => {
      const path = join(dir, name);
      writeFileSync(path, `${text}\n`);
      chmodSync(path, mode);
      return path;
    };
    try {
      await withEngine({}, async (engine) => {
        const local = await engine.createBdev('malloc:///m0?size_mb=8&blk_size=4096');
        const sub = await engine.nvmf.createSubsystem({ nqn: NQN });
        await sub.addNamespace('m0');
        const { port } = await sub.addListener({ port: 0, secureChannel: true });
        expect((await sub.info()).listeners).toEqual([{ address: '127.0.0.1', port, anaState: 'optimized', secureChannel: true }]);
        const base = `nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${HOST}&ctrl_loss_timeout_ms=0`;

        for (const length of [32, 48] as const) {
          const key = psk(length, length);
          await (length === 32 ? sub.addHost(HOST, { psk: key }) : sub.setHostPsk(HOST, key));
          const remote = await engine.createBdev(`${base}&name=tls${length}&psk=${keyFile(`k${length}`, key, 0o600)}`);
          const data = patternBytes(256 * 1024, length);
          await remote.write(length * 4096, data);
          expect((await local.read(length * 4096, data.length)).equals(data)).toBe(true);
          expect((await remote.read(length * 4096, data.length)).equals(data)).toBe(true);
          await remote.destroy();
        }

        const right = psk(48, 48);
        const wrong = await rejection(engine.createBdev(`${base}&name=w&psk=${keyFile('wrong', psk(7, 48), 0o600)}`));
        expect(wrong.code).toBe('EACCES');
        expect(wrong.message).toMatch(/TLS handshake failed/);
        const plain = await rejection(engine.createBdev(`${base}&name=p`));
        expect(plain.code).toBe('EACCES');
        const open = await rejection(engine.createBdev(`${base}&name=o&psk=${keyFile('open', right, 0o644)}`));
        expect(open.code).toBe('EPERM');
        expect(open.message).toMatch(/must be mode 0600/);
        const listing = await rejection(engine.nvmf.listNamespaces({ address: '127.0.0.1', port, subnqn: NQN, hostNqn: HOST, psk: keyFile('open2', right, 0o644) }));
        expect(listing.code).toBe('EPERM');
        expect(await engine.nvmf.listNamespaces({ address: '127.0.0.1', port, subnqn: NQN, hostNqn: HOST, psk: right })).toEqual([1]);
        const body = (s: string) => s.slice(16, 36);
        for (const e of [wrong, plain, open]) {
          expect(e.message).not.toContain(body(right));
          expect(String(e.resource)).not.toContain(body(right));
        }
        expect(JSON.stringify(await sub.info())).not.toContain(body(right));
        expect(engine.listBdevs().map((b) => b.name)).toEqual(['m0']);

        // A malformed PSK adds nothing; the PSK taken away, the host connects in plain text
        // only where TLS is not required.
        const bad = await rejection(sub.addHost('nqn.2026-12.io.nodestor:ts-tls-other', { psk: `${right.slice(0, 20)}A${right.slice(21)}` }));
        expect(bad.code).toBe('EINVAL');
        expect((await sub.info()).hosts).toEqual([HOST]);
        await sub.setHostPsk(HOST, null);
        const open2 = await sub.addListener({ port: 0 });
        const plainOk = await engine.createBdev(`nvmf://127.0.0.1:${open2.port}/${NQN}?hostnqn=${HOST}&ctrl_loss_timeout_ms=0&name=plain`);
        await plainOk.destroy();
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
