// TLS through the daemon's RPC, with SPDK v24.01's names: nvmf_subsystem_add_listener with
// secure_channel (rpc.py's -k), nvmf_subsystem_add_host with psk naming a keyring key or a
// 0600 PSK file, bdev_nvme_attach_controller with psk on the host side. The daemon's own
// engine is the host, over loopback: with the PSK its I/O reaches the namespace, without
// it the TLS-required listener refuses it. framework_get_config keeps names and paths,
// never a key, and no log line holds one.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTlsPsk } from '../../src/index.js';
import { patternBytes } from '../helpers/engine.js';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';

afterAll(cleanup);

const NQN = 'nqn.2026-12.io.nodestor:rpc-tls';
const HOST = 'nqn.2026-12.io.nodestor:rpc-tls-host';
const OTHER = 'nqn.2026-12.io.nodestor:rpc-tls-other';
const psk = (seed: number, length: 32 | 48) => formatTlsPsk(Buffer.from(Array.from({ length }, (_, i) => (seed * 11 + i * 3) & 0xff)));

describe('TLS over the RPC', () => {
  it('secure-channel listeners, PSKs by keyring name or file, attach with psk', { timeout: 60_000 }, async () => {
    const s = await inProcessDaemon();
    const call = <T = unknown>(method: string, params?: Record<string, unknown>) => s.client.call<T>(method, params);
    const hostPsk = psk(1, 32), otherPsk = psk(2, 48);
    const hostFile = join(s.dir, 'host.psk'), otherFile = join(s.dir, 'other.psk'), openFile = join(s.dir, 'open.psk');
    writeFileSync(hostFile, `${hostPsk}\n`, { mode: 0o600 });
    writeFileSync(otherFile, otherPsk, { mode: 0o600 });
    writeFileSync(openFile, hostPsk);
    chmodSync(openFile, 0o644);
    expect(await call('keyring_file_add_key', { name: 'psk0', path: hostFile })).toBe(true);

    await call('bdev_malloc_create', { name: 'm0', num_blocks: 2048, block_size: 4096 });
    await call('nvmf_create_subsystem', { nqn: NQN });
    await call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'm0' } });
    expect(await call('nvmf_subsystem_add_host', { nqn: NQN, host: HOST, psk: 'psk0' })).toBe(true);
    await expect(call('nvmf_subsystem_add_host', { nqn: NQN, host: OTHER, psk: openFile })).rejects.toMatchObject({ data: { code: 'EPERM' } });
    expect(await call('nvmf_subsystem_add_host', { nqn: NQN, host: OTHER, psk: otherFile })).toBe(true);
    const listen = { trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: '0' };
    await call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: listen, secure_channel: true });
    const [sub] = await call<{ listen_addresses: { trsvcid: string }[] }[]>('nvmf_get_subsystems', { nqn: NQN });
    const port = String(sub!.listen_addresses[0]!.trsvcid);

    const attach = { trtype: 'TCP', traddr: '127.0.0.1', trsvcid: port, subnqn: NQN };
    await expect(call('bdev_nvme_attach_controller', { ...attach, name: 'Plain', hostnqn: HOST })).rejects.toMatchObject({ data: { code: 'EACCES' } });
    expect(await call('bdev_nvme_attach_controller', { ...attach, name: 'Tls', hostnqn: HOST, psk: 'psk0' })).toEqual(['Tlsn1']);
    expect(await call('bdev_nvme_attach_controller', { ...attach, name: 'Tls2', hostnqn: OTHER, psk: otherFile })).toEqual(['Tls2n1']);
    const engine = s.daemon.context.engine;
    for (const [name, seed] of [['Tlsn1', 1], ['Tls2n1', 2]] as const) {
      const data = patternBytes(128 * 1024, seed);
      await engine.getBdev(name)!.write(seed * 131072, data);
      expect((await engine.getBdev('m0')!.read(seed * 131072, data.length)).equals(data)).toBe(true);
    }

    const told = JSON.stringify([
      await call('bdev_nvme_get_controllers'),
      await call('framework_get_config', { name: 'nvmf' }),
      await call('framework_get_config', { name: 'bdev' }),
      await call('nvmf_get_subsystems'),
    ]);
    expect(told).toContain('"secure_channel":true');
    expect(told).toContain('"psk":"psk0"');
    expect(told).toContain(`"psk":"${otherFile}"`);
    const body = (k: string) => k.slice(16, 36);
    for (const k of [hostPsk, otherPsk]) {
      expect(told).not.toContain(body(k));
      expect(JSON.stringify(s.lines)).not.toContain(body(k));
    }
    await call('bdev_nvme_detach_controller', { name: 'Tls' });
    await call('bdev_nvme_detach_controller', { name: 'Tls2' });
  });
});
