// Interoperation of our NVMe/TCP target's TLS with another TLS implementation: GnuTLS, the
// library under tlshd, which makes the Linux kernel host's NVMe/TCP TLS handshakes.
// `gnutls-cli` (Debian's gnutls-bin) connects to a TLS-required listener with the PSK
// identity and TLS PSK this file derives itself, from NVMe/TCP 3.6.1.3, with Node's HKDF:
// an independent derivation of what the engine computes. Over that channel the test speaks
// NVMe/TCP by hand: ICReq gets an ICResp, and a Connect for the NQNs of the identity
// succeeds, while a Connect for another host on the same channel is refused. A wrong key
// fails the handshake. Both identity versions: 0 (SPDK's) and 1, whose PSK digest and TLS
// PSK context follow libnvme (what `nvme tls-key --identity 1` gives the Linux host); a
// version 1 identity with a wrong digest fails too. GnuTLS 3.7 ties every external PSK to SHA-256, so the SHA-384 suite
// is not covered here (our own host covers it, nvmf-tls.test.ts).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTlsPsk } from '../../src/index.js';
import { withEngine } from '../helpers/engine.js';

const NQN = 'nqn.2026-12.io.nodestor:gnutls';
const HOST = 'nqn.2026-12.io.nodestor:gnutls-host';
const OTHER_HOST = 'nqn.2026-12.io.nodestor:gnutls-other';

// HKDF-Expand-Label (RFC 8446 7.1) over HKDF-Extract with a zero salt, as 3.6.1.3 uses it.
function expandLabel(hash: 'sha256' | 'sha384', secret: Buffer, label: string, context: string, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`);
  const contextBytes = Buffer.from(context);
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, fullLabel.length]), fullLabel, Buffer.from([contextBytes.length]), contextBytes]);
  const saltLength = hash === 'sha256' ? 32 : 48;
  return Buffer.from(hkdfSync(hash, secret, Buffer.alloc(saltLength), info, length));
}

// Configured PSK (interchange hash 01: SHA-256) -> retained PSK -> identity and TLS PSK. In
// version 0 the TLS PSK's context is the identity; version 1 adds the PSK digest (base64 of
// HMAC(retained, "<host> <subsystem> NVMe-over-Fabrics")) and the context is "01 <digest>".
function derive(configured: Buffer, hostNqn: string, subNqn: string, version: 0 | 1 = 0): { identity: string; tlsPsk: Buffer } {
  const retained = expandLabel('sha256', configured, 'HostNQN', hostNqn, configured.length);
  if (version === 0) {
    const identity = `NVMe0R01 ${hostNqn} ${subNqn}`;
    return { identity, tlsPsk: expandLabel('sha256', retained, 'nvme-tls-psk', identity, 32) };
  }
  const digest = createHmac('sha256', retained).update(`${hostNqn} ${subNqn} NVMe-over-Fabrics`).digest('base64');
  return { identity: `NVMe1R01 ${hostNqn} ${subNqn} ${digest}`, tlsPsk: expandLabel('sha256', retained, 'nvme-tls-psk', `01 ${digest}`, 32) };
}

function icReq(): Buffer {
  const pdu = Buffer.alloc(128);
  pdu[0] = 0x00; // ICReq
  pdu[2] = 128; // HLEN
  pdu.writeUInt32LE(128, 4); // PLEN
  return pdu;
}

function connectCapsule(cid: number, hostNqn: string, subNqn: string): Buffer {
  const data = Buffer.alloc(1024);
  randomBytes(16).copy(data, 0); // HOSTID
  data.writeUInt16LE(0xffff, 16); // CNTLID: any
  data.write(subNqn, 256);
  data.write(hostNqn, 512);
  const header = Buffer.alloc(72);
  header[0] = 0x04; // CapsuleCmd
  header[2] = 72; // HLEN
  header[3] = 72; // PDO
  header.writeUInt32LE(72 + 1024, 4);
  const sqe = header.subarray(8);
  sqe[0] = 0x7f; // Fabrics
  sqe[1] = 0x40; // SGL
  sqe.writeUInt16LE(cid, 2);
  sqe[4] = 0x01; // Connect
  sqe.writeUInt32LE(1024, 32); // SGL length
  sqe[39] = 0x01; // data block, offset: in-capsule data
  sqe.writeUInt16LE(0, 42); // QID 0: admin queue
  sqe.writeUInt16LE(31, 44); // SQSIZE, 0's based
  sqe.writeUInt32LE(30_000, 48); // KATO
  return Buffer.concat([header, data]);
}

// One gnutls-cli session: bytes in on stdin, the peer's bytes collected from stdout.
class GnutlsClient {
  private readonly child: ChildProcess;
  private received = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  readonly exited: Promise<number | null>;
  private readonly logFile: string;

  // gnutls-cli's own messages go to a file: stdout carries only the peer's bytes.
  constructor(dir: string, name: string, port: number, identity: string, key: Buffer) {
    this.logFile = join(dir, `${name}.log`);
    this.child = spawn('gnutls-cli', [
      '-p', String(port), '--pskusername', identity, '--pskkey', key.toString('hex'),
      '--priority', 'NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK:-CIPHER-ALL:+AES-128-GCM',
      '--logfile', this.logFile, '127.0.0.1',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.waiter?.();
    });
    this.child.stderr!.resume();
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => { this.waiter?.(); resolve(code); }));
  }

  get log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  send(bytes: Buffer): void {
    this.child.stdin!.write(bytes);
  }

  async take(length: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < length) {
      if (this.child.exitCode !== null) throw new Error(`gnutls-cli exited ${this.child.exitCode} with ${this.received.length} bytes: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`timed out with ${this.received.length} of ${length} bytes: ${this.log}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
    const out = this.received.subarray(0, length);
    this.received = this.received.subarray(length);
    return out;
  }

  // End of input: gnutls-cli ends the session and exits, writing out its log.
  async close(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }

}

// A Connect response: the CQE's status field (bits 15:1 of its last word), 0 on success.
function connectStatus(pdu: Buffer): { sct: number; sc: number } {
  expect(pdu[0]).toBe(0x05); // CapsuleResp
  const status = pdu.readUInt16LE(8 + 14) >> 1;
  return { sct: (status >> 8) & 0x7, sc: status & 0xff };
}

describe('TLS with GnuTLS as the host', () => {
  it('gnutls-cli completes the handshake with the derived identity and key; NVMe/TCP works over it', { timeout: 60_000 }, async () => {
    const probe = spawnSync('gnutls-cli', ['--version']);
    expect(probe.status, 'gnutls-cli is missing: run `node scripts/setup.mjs --native-tests` (it installs gnutls-bin)').toBe(0);
    const configured = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff));
    const { identity, tlsPsk } = derive(configured, HOST, NQN);
    const dir = mkdtempSync(join(tmpdir(), 'nds-gnutls-'));
    try {
      await withGnutlsTarget(dir, configured, identity, tlsPsk);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function withGnutlsTarget(dir: string, configured: Buffer, identity: string, tlsPsk: Buffer): Promise<void> {
    await withEngine({}, async (engine) => {
      await engine.createBdev('malloc:///g0?size_mb=8&blk_size=4096');
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN });
      await sub.addNamespace('g0');
      await sub.addHost(HOST, { psk: formatTlsPsk(configured, 1) });
      await sub.addHost(OTHER_HOST);
      const { port } = await sub.addListener({ port: 0, secureChannel: true });

      const client = new GnutlsClient(dir, 'first', port, identity, tlsPsk);
      try {
        client.send(icReq());
        const icResp = await client.take(128);
        expect([icResp[0], icResp[2], icResp.readUInt32LE(4)]).toEqual([0x01, 128, 128]); // ICResp, HLEN, PLEN
        // Another host's NQN over this host's TLS channel: refused (Connect Invalid Host).
        client.send(connectCapsule(1, OTHER_HOST, NQN));
        expect(connectStatus(await client.take(24))).toEqual({ sct: 1, sc: 0x84 });
      } finally {
        await client.close();
      }
      expect(client.log).toMatch(/TLS1\.3/);
      expect(client.log).toMatch(/AES-128-GCM/);

      for (const [name, version] of [['second', 0], ['version1', 1]] as const) {
        const v = version === 0 ? { identity, tlsPsk } : derive(configured, HOST, NQN, 1);
        const session = new GnutlsClient(dir, name, port, v.identity, v.tlsPsk);
        try {
          session.send(icReq());
          await session.take(128);
          session.send(connectCapsule(1, HOST, NQN));
          const response = await session.take(24);
          expect(connectStatus(response), name).toEqual({ sct: 0, sc: 0 });
          expect(response.readUInt16LE(8)).toBeGreaterThan(0); // the controller ID in DW0
        } finally {
          await session.close();
        }
      }
      // A version 1 identity whose digest was made with another key: no PSK, no handshake.
      const forged = derive(Buffer.alloc(32, 0x11), HOST, NQN, 1);
      const wrongDigest = new GnutlsClient(dir, 'wrong-digest', port, forged.identity, derive(configured, HOST, NQN, 1).tlsPsk);
      try {
        expect(await wrongDigest.exited).not.toBe(0);
        expect(wrongDigest.log).toMatch(/Received alert/);
      } finally {
        await wrongDigest.close();
      }

      const wrong = new GnutlsClient(dir, 'wrong', port, identity, Buffer.alloc(32, 0x5a));
      try {
        expect(await wrong.exited).not.toBe(0);
        expect(wrong.log).toMatch(/Received alert/); // the target ended the handshake
      } finally {
        await wrong.close();
      }
    });
}
