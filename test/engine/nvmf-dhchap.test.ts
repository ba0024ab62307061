// DH-HMAC-CHAP from the TypeScript API: a subsystem's host with keys (sub.addHost(nqn,
// { dhchapKey, dhchapCtrlrKey })), our host connecting with them in the nvmf URI. Data
// written through the authenticated bdev reads back on the namespace; a wrong key is
// EACCES naming the step; no error, info() or resource shows a key; a refused key adds
// nothing; with the keys taken away the host connects without.
import { describe, expect, it } from 'vitest';
import { formatDhchapSecret } from '../../src/index.js';
import { codeOf, patternBytes, rejection, withEngine } from '../helpers/engine.js';

const NQN = 'nqn.2026-12.io.nodestor:ts-auth';
const HOST = 'nqn.2026-12.io.nodestor:ts-auth-host';

/** A DH-HMAC-CHAP secret from `length` bytes made from `seed`. */
const secret = (hash: 0 | 1 | 2 | 3, seed: number, length: 32 | 48 | 64) =>
  formatDhchapSecret(Buffer.from(Array.from({ length }, (_, i) => (seed * 31 + i * 7) & 0xff)), hash);

describe('DH-HMAC-CHAP through the API', () => {
  it('authenticates one way and both ways; refuses wrong and missing keys without showing them', { timeout: 60_000 }, async () => {
    await withEngine({}, async (engine) => {
      const local = await engine.createBdev('malloc:///m0?size_mb=8&blk_size=4096');
      const hostKey = secret(1, 1, 32);
      const ctrlKey = secret(2, 2, 48);
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN });
      await sub.addNamespace('m0');
      await sub.addHost(HOST, { dhchapKey: hostKey, dhchapCtrlrKey: ctrlKey });
      const { port } = await sub.addListener({ port: 0 });
      const base = `nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${HOST}&ctrl_loss_timeout_ms=0`;

      for (const [name, extra] of [
        ['one-way', `&dhchap_key=${hostKey}&dhchap_dhgroups=ffdhe3072`],
        ['both-ways', `&dhchap_key=${hostKey}&dhchap_ctrlr_key=${ctrlKey}&dhchap_digests=sha512`],
      ] as const) {
        const remote = await engine.createBdev(`${base}&name=${name}${extra}`);
        const data = patternBytes(64 * 1024, name.length);
        await remote.write(0, data);
        expect((await local.read(0, data.length)).equals(data)).toBe(true);
        await remote.destroy();
      }

      const wrong = secret(1, 9, 32);
      const refused = await rejection(engine.createBdev(`${base}&name=w&dhchap_key=${wrong}`));
      expect(refused.code).toBe('EACCES');
      expect(refused.message).toMatch(/DH-HMAC-CHAP reply: the controller refused: the response did not match/);
      const missing = await rejection(engine.createBdev(`${base}&name=m`));
      expect(missing.code).toBe('EACCES');
      expect(missing.message).toMatch(/requires DH-HMAC-CHAP authentication and no dhchap_key was given/);
      const impostor = await rejection(engine.createBdev(`${base}&name=i&dhchap_key=${hostKey}&dhchap_ctrlr_key=${secret(2, 3, 48)}`));
      expect(impostor.code).toBe('EACCES');
      expect(impostor.message).toMatch(/controller's response does not match the controller key/);
      // No key in a message, a resource, or what the subsystem tells.
      const body = (s: string) => s.slice(10, 30);
      for (const e of [refused, missing, impostor]) {
        for (const k of [hostKey, ctrlKey, wrong]) {
          expect(e.message).not.toContain(body(k));
          expect(String(e.resource)).not.toContain(body(k));
        }
      }
      expect(refused.resource).toContain('dhchap_key=(secret)');
      const info = JSON.stringify(await sub.info());
      for (const k of [hostKey, ctrlKey]) expect(info).not.toContain(body(k));
      expect(engine.listBdevs().map((b) => b.name).sort()).toEqual(['m0']);

      // A malformed key is refused, names the field, and adds no host.
      const other = 'nqn.2026-12.io.nodestor:ts-auth-other';
      const bad = await rejection(sub.addHost(other, { dhchapKey: `${hostKey.slice(0, 20)}A${hostKey.slice(21)}` }));
      expect(bad.code).toBe('EINVAL');
      expect(bad.message).toMatch(/dhchapKey: DH-HMAC-CHAP secret fails its CRC-32 check/);
      expect((await sub.info()).hosts).toEqual([HOST]);
      await expect(sub.addHost(other, { dhchapCtrlrKey: ctrlKey })).rejects.toThrow(TypeError);
      expect(await codeOf(sub.setDhchapPolicy({ digests: ['md5' as 'sha256'] }))).toBe('EINVAL');

      // The subsystem allows only SHA-256 with ffdhe2048: a host offering only others is refused.
      await sub.setDhchapPolicy({ digests: ['sha256'], dhgroups: ['ffdhe2048'] });
      const noHash = await rejection(engine.createBdev(`${base}&name=h&dhchap_key=${hostKey}&dhchap_digests=sha384`));
      expect(noHash.code).toBe('EACCES');
      expect(noHash.message).toMatch(/no usable hash function/);
      const ok = await engine.createBdev(`${base}&name=sha256&dhchap_key=${hostKey}`);
      await ok.destroy();

      // Keys taken away: the host connects without (and a host key alone still works).
      await sub.setHostKeys(HOST, {});
      const plain = await engine.createBdev(`${base}&name=plain`);
      const data = patternBytes(4096, 9);
      await plain.write(8192, data);
      expect((await local.read(8192, 4096)).equals(data)).toBe(true);
      await plain.destroy();
    });
  });
});
