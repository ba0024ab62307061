// The engine's file keyring from the TypeScript API: keys named once (engine.keyring.addKey)
// and then given by name on both sides, the target's host keys and PSK (sub.addHost) and
// the host's nvmf URI (dhchap_key, dhchap_ctrlr_key, psk), so no key is written in a URI.
// Data written over the authenticated TLS connection reads back; the file is read at each
// use (a changed PSK file shows at the next connection); refusals carry their codes and no
// message repeats a key, even one given where a name was expected.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDhchapSecret, formatTlsPsk } from '../../src/index.js';
import { patternBytes, rejection, withEngine } from '../helpers/engine.js';

const NQN = 'nqn.2026-12.io.nodestor:keyring';
const HOST = 'nqn.2026-12.io.nodestor:keyring-host';
const bytes = (seed: number) => Buffer.from(Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 3) & 0xff));
const body = (key: string) => key.split(':')[2]!.slice(0, 24); // a stretch of the key's base64

describe('keyring', () => {
  it('names keys for the target and the host; files are read at use; nothing shows a key', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nds-keyring-'));
    const keyFile = (name: string, text: string, mode = 0o600) => {
      const path = join(dir, name);
      writeFileSync(path, `${text}\n`);
      chmodSync(path, mode);
      return path;
    };
    const hostKey = formatDhchapSecret(bytes(1));
    const ctrlKey = formatDhchapSecret(bytes(2));
    const psk = formatTlsPsk(bytes(3));
    try {
      await withEngine({}, async (engine) => {
        const files = { 'ctrl-key': keyFile('ctrl', ctrlKey), 'host-key': keyFile('host', hostKey), psk0: keyFile('psk', psk) };
        for (const [name, path] of Object.entries(files)) await engine.keyring.addKey(name, path);
        expect(engine.keyring.listKeys()).toEqual(Object.entries(files).map(([name, path]) => ({ name, path })));

        // Refusals, each with its code; a key handed in as the name is not repeated.
        expect((await rejection(engine.keyring.addKey('psk0', files.psk0))).code).toBe('EEXIST');
        expect((await rejection(engine.keyring.addKey('open', keyFile('open', psk, 0o644)))).code).toBe('EPERM');
        expect((await rejection(engine.keyring.addKey('rel', 'psk'))).code).toBe('EINVAL');
        expect((await rejection(engine.keyring.addKey('gone', join(dir, 'nothing')))).code).toBe('ENOENT');
        const keyAsName = await rejection(engine.keyring.addKey(hostKey, files['host-key']));
        expect(keyAsName.code).toBe('EINVAL');
        expect(JSON.stringify(keyAsName)).not.toContain(body(hostKey));
        expect(engine.keyring.listKeys().map((k) => k.name)).toEqual(['ctrl-key', 'host-key', 'psk0']);

        // The target takes the names: DH-HMAC-CHAP both ways, and TLS with the PSK.
        const local = await engine.createBdev('malloc:///k0?size_mb=8&blk_size=4096');
        const sub = await engine.nvmf.createSubsystem({ nqn: NQN });
        await sub.addNamespace('k0');
        await sub.addHost(HOST, { dhchapKey: 'host-key', dhchapCtrlrKey: 'ctrl-key', psk: 'psk0' });
        const { port } = await sub.addListener({ port: 0, secureChannel: true });
        const base = `nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${HOST}&ctrl_loss_timeout_ms=0`;
        const named = `${base}&dhchap_key=host-key&dhchap_ctrlr_key=ctrl-key&psk=psk0`;

        const remote = await engine.createBdev(`${named}&name=r0`);
        const data = patternBytes(128 * 1024, 5);
        await remote.write(8192, data);
        expect((await local.read(8192, data.length)).equals(data)).toBe(true);
        expect((await remote.read(8192, data.length)).equals(data)).toBe(true);
        expect(await engine.nvmf.listNamespaces({ address: '127.0.0.1', port, subnqn: NQN, hostNqn: HOST, dhchapKey: 'host-key', dhchapCtrlrKey: 'ctrl-key', psk: 'psk0' })).toEqual([1]);

        // Unknown names, and secrets whose prefix is mistyped: ENOENT, the value not echoed.
        const unknown = await rejection(engine.createBdev(`${base}&name=u&dhchap_key=no-such-key&psk=psk0`));
        expect(unknown.code).toBe('ENOENT');
        expect(unknown.message).toMatch(/dhchap_key: not a key name in the keyring/);
        const mistyped = hostKey.replace('DHHC-1:', 'DHHC-1;');
        const typo = await rejection(engine.createBdev(`${base}&name=t&dhchap_key=${mistyped}&psk=psk0`));
        expect(typo.code).toBe('ENOENT');
        expect(JSON.stringify({ message: typo.message, resource: typo.resource })).not.toContain(body(hostKey));
        const pskTypo = await rejection(engine.createBdev(`${base}&name=t2&psk=${psk.replace('NVMeTLSkey-1:', 'NVMeTLSkey-1;')}`));
        expect(pskTypo.code).toBe('ENOENT');
        expect(JSON.stringify({ message: pskTypo.message, resource: pskTypo.resource })).not.toContain(body(psk));

        // The file is read at each use: another PSK in psk0's file no longer matches the target.
        writeFileSync(files.psk0, `${formatTlsPsk(bytes(9))}\n`);
        const changed = await rejection(engine.createBdev(`${named}&name=c`));
        expect(changed.code).toBe('EACCES');
        expect(changed.message).toMatch(/TLS handshake failed/);
        writeFileSync(files.psk0, `${psk}\n`);
        chmodSync(files.psk0, 0o640); // opened up: refused before connecting
        expect((await rejection(engine.createBdev(`${named}&name=c2`))).code).toBe('EPERM');
        chmodSync(files.psk0, 0o600);

        // Removing a name: new uses fail, what was connected with it stays connected.
        await engine.keyring.removeKey('psk0');
        expect((await rejection(engine.keyring.removeKey('psk0'))).code).toBe('ENOENT');
        expect((await rejection(engine.createBdev(`${named}&name=after`))).code).toBe('ENOENT');
        expect((await remote.read(8192, data.length)).equals(data)).toBe(true);
        await remote.destroy();
        expect(engine.keyring.listKeys().map((k) => k.name)).toEqual(['ctrl-key', 'host-key']);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
