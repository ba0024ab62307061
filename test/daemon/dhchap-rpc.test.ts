// DH-HMAC-CHAP keys through the daemon's RPC, with SPDK's names: keyring_file_add_key (a
// file readable by its owner only), nvmf_subsystem_add_host with dhchap_key and
// dhchap_ctrlr_key naming keys, bdev_nvme_attach_controller with the same names on the host
// side, keyring_get_keys and framework_get_config naming files,
// never holding keys. A host (the daemon's own engine, over loopback) authenticates with
// the right key and is refused with a wrong one; no log line holds a key.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDhchapSecret } from '../../src/index.js';
import { patternBytes } from '../helpers/engine.js';
import { cleanup, inProcessDaemon } from './helpers/daemon.js';

afterAll(cleanup);

const NQN = 'nqn.2026-12.io.nodestor:rpc-auth';
const HOST = 'nqn.2026-12.io.nodestor:rpc-auth-host';
const secret = (seed: number) => formatDhchapSecret(Buffer.from(Array.from({ length: 32 }, (_, i) => (seed * 17 + i * 5) & 0xff)));

describe('DH-HMAC-CHAP keys over the RPC', () => {
  it('keyring names in, keys never out; the host authenticates with the right key only', { timeout: 60_000 }, async () => {
    const s = await inProcessDaemon();
    const call = <T = unknown>(method: string, params?: Record<string, unknown>) => s.client.call<T>(method, params);
    const hostKey = secret(1), ctrlKey = secret(2);
    const hostFile = join(s.dir, 'host.key'), ctrlFile = join(s.dir, 'ctrl.key'), openFile = join(s.dir, 'open.key');
    writeFileSync(hostFile, `${hostKey}\n`, { mode: 0o600 });
    writeFileSync(ctrlFile, ctrlKey, { mode: 0o600 });
    writeFileSync(openFile, hostKey);
    chmodSync(openFile, 0o644);
    await expect(call('keyring_file_add_key', { name: 'open', path: openFile })).rejects.toMatchObject({ data: { code: 'EPERM' } });
    await expect(call('keyring_file_add_key', { name: 'rel', path: 'host.key' })).rejects.toMatchObject({ data: { code: 'EINVAL' } });
    expect(await call('keyring_file_add_key', { name: 'key0', path: hostFile })).toBe(true);
    expect(await call('keyring_file_add_key', { name: 'ckey0', path: ctrlFile })).toBe(true);
    await expect(call('keyring_file_add_key', { name: 'key0', path: ctrlFile })).rejects.toMatchObject({ data: { code: 'EEXIST' } });

    await call('bdev_malloc_create', { name: 'm0', num_blocks: 2048, block_size: 4096 });
    await call('nvmf_create_subsystem', { nqn: NQN });
    await call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'm0' } });
    await expect(call('nvmf_subsystem_add_host', { nqn: NQN, host: HOST, dhchap_key: 'nokey' })).rejects.toMatchObject({ data: { code: 'ENOENT' } });
    await expect(call('nvmf_subsystem_add_host', { nqn: NQN, host: HOST, psk: 'nopsk' })).rejects.toMatchObject({ data: { code: 'ENOENT' } });
    // A key pasted where a name belongs: refused, and the answer does not repeat it.
    const pasted = await call('nvmf_subsystem_add_host', { nqn: NQN, host: HOST, psk: `NVMeTLSkey;${hostKey.slice(7)}` }).then(() => undefined, (e: unknown) => e);
    expect(pasted).toMatchObject({ data: { code: 'ENOENT' } });
    expect(`${(pasted as Error).message} ${JSON.stringify(pasted)}`).not.toContain(hostKey.slice(10, 40));
    expect(await call('nvmf_subsystem_add_host', { nqn: NQN, host: HOST, dhchap_key: 'key0', dhchap_ctrlr_key: 'ckey0' })).toBe(true);
    const port = await (async () => {
      const listen = { trtype: 'TCP', adrfam: 'IPv4', traddr: '127.0.0.1', trsvcid: '0' };
      await call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: listen });
      const [sub] = await call<{ listen_addresses: { trsvcid: string }[] }[]>('nvmf_get_subsystems', { nqn: NQN });
      return Number(sub!.listen_addresses[0]!.trsvcid);
    })();

    const engine = s.daemon.context.engine;
    const base = `nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${HOST}&ctrl_loss_timeout_ms=0`;
    const remote = await engine.createBdev(`${base}&name=authed&dhchap_key=${hostKey}&dhchap_ctrlr_key=${ctrlKey}`);
    const data = patternBytes(16384, 5);
    await remote.write(0, data);
    expect((await engine.getBdev('m0')!.read(0, data.length)).equals(data)).toBe(true);
    await remote.destroy();
    await expect(engine.createBdev(`${base}&name=wrong&dhchap_key=${secret(3)}`)).rejects.toMatchObject({ code: 'EACCES' });

    // The host side by name too: bdev_nvme_attach_controller --dhchap-key key0 --dhchap-ctrlr-key ckey0.
    const attach = { name: 'Auth', trtype: 'TCP', traddr: '127.0.0.1', trsvcid: String(port), subnqn: NQN, hostnqn: HOST };
    await expect(call('bdev_nvme_attach_controller', attach)).rejects.toMatchObject({ data: { code: 'EACCES' } });
    expect(await call('bdev_nvme_attach_controller', { ...attach, dhchap_key: 'key0', dhchap_ctrlr_key: 'ckey0' })).toEqual(['Authn1']);
    const more = patternBytes(8192, 6);
    await engine.getBdev('Authn1')!.write(65536, more);
    expect((await engine.getBdev('m0')!.read(65536, more.length)).equals(more)).toBe(true);

    // What the daemon tells: names and files, never keys.
    const told = JSON.stringify([
      await call('bdev_nvme_get_controllers'),
      await call('framework_get_config', { name: 'bdev' }),
      await call('keyring_get_keys'),
      await call('framework_get_config', { name: 'keyring' }),
      await call('framework_get_config', { name: 'nvmf' }),
      await call('nvmf_get_subsystems'),
    ]);
    expect(told).toContain('"path":"' + hostFile + '"');
    expect(told).toContain('"dhchap_key":"key0"');
    expect(told).toContain('"dhchap_ctrlr_key":"ckey0"');
    const body = (k: string) => k.slice(10, 30);
    for (const k of [hostKey, ctrlKey]) {
      expect(told).not.toContain(body(k));
      expect(JSON.stringify(s.lines)).not.toContain(body(k));
    }
    await call('bdev_nvme_detach_controller', { name: 'Auth' });
    expect(await call('keyring_file_remove_key', { name: 'ckey0' })).toBe(true);
    expect((await call<{ name: string }[]>('keyring_get_keys')).map((k) => k.name)).toEqual(['key0']);
  });
});
