// Our NVMe/TCP host's TLS against another TLS implementation's server: GnuTLS's
// `gnutls-serv` (Debian's gnutls-bin), given the PSK identities and TLS PSKs this file
// derives itself from NVMe/TCP 3.6.1.3 and libnvme's version-1 rules (with Node's HKDF and
// HMAC). gnutls-serv is an echo server, not an NVMe/TCP target, and echoes only whole lines:
// it never answers the host's ICReq. So what is checked is the TLS layer: the handshake
// completes (gnutls-serv reports the PSK identity it authenticated, TLS 1.3 and
// AES-128-GCM) and the host then waits for an ICResp until its connect timeout (ETIMEDOUT),
// where a failed handshake is EACCES at once. Both identity versions, and a wrong key.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHmac, hkdfSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTlsPsk } from '../../src/index.js';
import { withEngine } from '../helpers/engine.js';

const NQN = 'nqn.2026-12.io.nodestor:gnutls-serv';
const HOST = 'nqn.2026-12.io.nodestor:gnutls-serv-host';

function expandLabel(secret: Buffer, label: string, context: string, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`);
  const contextBytes = Buffer.from(context);
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, fullLabel.length]), fullLabel, Buffer.from([contextBytes.length]), contextBytes]);
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(32), info, length));
}

// SHA-256 throughout: GnuTLS 3.7 ties external PSKs to SHA-256 (see nvmf-tls-gnutls.test.ts).
function derive(configured: Buffer, version: 0 | 1): { identity: string; tlsPsk: Buffer } {
  const retained = expandLabel(configured, 'HostNQN', HOST, 32);
  if (version === 0) {
    const identity = `NVMe0R01 ${HOST} ${NQN}`;
    return { identity, tlsPsk: expandLabel(retained, 'nvme-tls-psk', identity, 32) };
  }
  const digest = createHmac('sha256', retained).update(`${HOST} ${NQN} NVMe-over-Fabrics`).digest('base64');
  return { identity: `NVMe1R01 ${HOST} ${NQN} ${digest}`, tlsPsk: expandLabel(retained, 'nvme-tls-psk', `01 ${digest}`, 32) };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

class GnutlsServer {
  output = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(port: number, pskFile: string) {
    this.child = spawn('gnutls-serv', [
      '-p', String(port), '--echo', '--pskpasswd', pskFile,
      '--priority', 'NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK:-CIPHER-ALL:+AES-128-GCM',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) stream.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  async listening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!/listening on IPv4/.test(this.output)) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`gnutls-serv did not start: ${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

describe('TLS with GnuTLS as the target', () => {
  it('our host completes the handshake with gnutls-serv for identity versions 0 and 1, and fails it with a wrong key', { timeout: 60_000 }, async () => {
    expect(spawnSync('gnutls-serv', ['--version']).status, 'gnutls-serv is missing: run `node scripts/setup.mjs --native-tests` (it installs gnutls-bin)').toBe(0);
    const configured = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 11 + 5) & 0xff));
    const v0 = derive(configured, 0);
    const v1 = derive(configured, 1);
    const dir = mkdtempSync(join(tmpdir(), 'nds-gnutls-serv-'));
    // gnutls-serv's PSK file: "user:hexkey", the user in hex after '#' (NQNs hold ':').
    const pskFile = join(dir, 'psk');
    writeFileSync(pskFile, [v0, v1].map((v) => `#${Buffer.from(v.identity).toString('hex')}:${v.tlsPsk.toString('hex')}\n`).join(''), { mode: 0o600 });
    const port = await freePort();
    const server = new GnutlsServer(port, pskFile);
    try {
      await server.listening();
      await withEngine({}, async (engine) => {
        const uri = (key: Buffer, extra = '') =>
          `nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${HOST}&ctrl_loss_timeout_ms=0&connect_timeout_ms=1000&psk=${encodeURIComponent(formatTlsPsk(key, 1))}${extra}`;
        for (const [version, expected] of [[0, v0], [1, v1]] as const) {
          const before = server.output.length;
          const error = await engine.createBdev(uri(configured, `&psk_identity_version=${version}`)).then(() => undefined, (e: NodeJS.ErrnoException) => e);
          expect(error?.code, String(error)).toBe('ETIMEDOUT'); // past the handshake, waiting for an ICResp
          expect(error?.message).toMatch(/no answer from the target within 1000 ms/);
          const session = server.output.slice(before);
          expect(session).toContain(`PSK authentication. Connected as '${expected.identity}'`);
          expect(session).toMatch(/Version: TLS1\.3/);
          expect(session).toMatch(/Cipher: AES-128-GCM/);
        }
        const wrong = await engine.createBdev(uri(Buffer.alloc(32, 0x5a))).then(() => undefined, (e: NodeJS.ErrnoException) => e);
        expect(wrong?.code, String(wrong)).toBe('EACCES');
        expect(wrong?.message).toMatch(/TLS handshake failed/);
        expect(engine.listBdevs()).toEqual([]);
      });
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
