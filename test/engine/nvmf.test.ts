import { describe, expect, it } from 'vitest';
import { NodestorError } from '../../src/index.js';
import { codeOf, patternBytes, withEngine } from '../helpers/engine.js';

const NQN = 'nqn.2026-11.io.nodestor:ts';
const HOST = 'nqn.2026-11.io.nodestor:ts-host';
const OTHER = 'nqn.2026-11.io.nodestor:ts-other';

describe('NVMe-oF target and host', () => {
  it('serves a bdev over NVMe/TCP: data written remotely reads back locally and the other way', async () => {
    await withEngine({}, async (engine) => {
      const local = await engine.createBdev('malloc:///m0?size_mb=16&blk_size=4096');
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN, hosts: [HOST], serial: 'TS0001', model: 'nodestor test' });
      expect(await sub.addNamespace('m0')).toBe(1);
      const { address, port } = await sub.addListener({ address: '127.0.0.1', port: 0 });
      expect(port).toBeGreaterThan(0);
      const info = await sub.info();
      // The namespace UUID and NGUID default to the bdev's UUID.
      expect(info.namespaces).toEqual([{ nsid: 1, bdevName: 'm0', uuid: local.uuid, nguid: local.uuid }]);
      expect(info.listeners).toEqual([{ address, port, anaState: 'optimized', secureChannel: false }]);
      expect(info.hosts).toEqual([HOST]);

      for (const digests of ['', '&hdgst=1&ddgst=1']) {
        const name = digests ? 'r-digest' : 'r-plain';
        const remote = await engine.createBdev(`nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${HOST}&name=${name}${digests}`);
        expect(remote.module).toBe('nvmf');
        expect([remote.blockSize, remote.numBlocks, remote.uuid]).toEqual([local.blockSize, local.numBlocks, local.uuid]);
        expect(remote.health).toEqual({ state: 'online', reason: null });
        // Our host's controller (its I/O queues connect as threads do I/O).
        expect((await sub.info()).controllerList).toEqual([{ cntlid: expect.any(Number), hostNqn: HOST, address: '127.0.0.1', port, ioQueues: expect.any(Array) }]);
        const a = patternBytes(128 * 1024, digests ? 1 : 2);
        await remote.write(0, a);
        expect((await local.read(0, a.length)).equals(a)).toBe(true);
        const b = patternBytes(4096, digests ? 3 : 4);
        await local.write(1 << 20, b);
        expect((await remote.read(1 << 20, 4096)).equals(b)).toBe(true);
        await remote.destroy();
      }
      expect((await sub.info()).controllers).toBe(0);
      expect((await sub.info()).controllerList).toEqual([]);
    });
  });

  it('refuses hosts off the allowlist, unknown subsystems and bad input with coded errors', async () => {
    await withEngine({}, async (engine) => {
      await engine.createBdev('malloc:///m0?size_mb=8');
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN, hosts: [HOST] });
      await sub.addNamespace('m0');
      const { port } = await sub.addListener({ port: 0 });
      const base = `nvmf://127.0.0.1:${port}`;
      expect(await codeOf(engine.createBdev(`${base}/${NQN}?hostnqn=${OTHER}&name=x`))).toBe('EACCES');
      expect(await codeOf(engine.createBdev(`${base}/nqn.2026-11.io.nodestor:none?hostnqn=${HOST}&name=y`))).toBe('ENOENT');
      expect(await codeOf(engine.createBdev(`nvmf://127.0.0.1:1/${NQN}?name=z`))).toBe('ECONNREFUSED');
      expect(await codeOf(engine.createBdev(`${base}/${NQN}?hostnqn=${HOST}&mystery=1`))).toBe('EINVAL');
      expect(await codeOf(engine.nvmf.createSubsystem({ nqn: NQN }))).toBe('EEXIST');
      await expect(engine.nvmf.createSubsystem({ nqn: 'not-an-nqn' })).rejects.toThrow(RangeError);
      await expect(sub.addListener({ address: 'localhost' })).rejects.toThrow(RangeError);
      expect(await codeOf(sub.addNamespace('no-such-bdev'))).toBe('ENOENT');
      expect(await codeOf(sub.addNamespace('m0', { nsid: 2 }))).toBe('EBUSY'); // already exported: claimed
      expect(await codeOf(sub.removeNamespace(7))).toBe('ENOENT');
      expect(await codeOf(engine.nvmf.subsystem('nqn.2026-11.io.nodestor:gone').destroy())).toBe('ENOENT');
      // Adding the host lets it in.
      await sub.addHost(OTHER);
      const admitted = await engine.createBdev(`${base}/${NQN}?hostnqn=${OTHER}&name=x`);
      expect(admitted.health).toEqual({ state: 'online', reason: null });
      await admitted.destroy();
      // The engine kept running through all of it.
      expect((await engine.nvmf.listSubsystems()).map((s) => s.nqn)).toEqual([NQN]);
    });
  });

  it('discovery lists the subsystems a host may reach on that port', async () => {
    await withEngine({}, async (engine) => {
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN, hosts: [HOST] });
      const { port } = await sub.addListener({ port: 0 });
      const open = await engine.nvmf.createSubsystem({ nqn: `${NQN}-open`, allowAnyHost: true });
      await open.addListener({ port });
      const forHost = await engine.nvmf.discover({ address: '127.0.0.1', port, hostNqn: HOST });
      expect(forHost.map((e) => [e.subtype, e.nqn]).sort()).toEqual(
        [
          ['discovery-current', 'nqn.2014-08.org.nvmexpress.discovery'],
          ['nvme', NQN],
          ['nvme', `${NQN}-open`],
        ].sort(),
      );
      for (const e of forHost) expect([e.transport, e.address, e.port, e.addressFamily]).toEqual(['tcp', '127.0.0.1', String(port), 'ipv4']);
      const forStranger = await engine.nvmf.discover({ address: '127.0.0.1', port, hostNqn: OTHER });
      expect(forStranger.map((e) => e.nqn).sort()).toEqual(['nqn.2014-08.org.nvmexpress.discovery', `${NQN}-open`]);
      expect(await codeOf(engine.nvmf.discover({ address: '127.0.0.1', port: 1 }))).toBe('ECONNREFUSED');
    });
  });

  it('a removed namespace makes the connected host bdev gone; a destroyed subsystem frees its bdevs', async () => {
    await withEngine({}, async (engine) => {
      const local = await engine.createBdev('malloc:///m0?size_mb=8');
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      const nsid = await sub.addNamespace('m0');
      const { port } = await sub.addListener({ port: 0 });
      const remote = await engine.createBdev(`nvmf://127.0.0.1:${port}/${NQN}?name=r0`);
      await remote.write(0, patternBytes(4096, 5));
      await sub.removeNamespace(nsid);
      const deadline = Date.now() + 3000;
      while (!remote.gone && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(remote.health).toMatchObject({ state: 'gone', reason: expect.stringMatching(/^namespace 1 was removed/) });
      expect(await codeOf(remote.read(0, 4096))).toBe('ENODEV');
      // Released: the local bdev can be exposed again, then goes with the subsystem.
      await sub.addNamespace('m0');
      expect(await codeOf(local.destroy())).toBe('EBUSY');
      await sub.destroy();
      expect(await engine.nvmf.listSubsystems()).toEqual([]);
      await local.destroy();
      await remote.destroy();
    });
  });

  it('ANA state is reported and inaccessible paths refuse I/O', async () => {
    await withEngine({}, async (engine) => {
      await engine.createBdev('malloc:///m0?size_mb=8');
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      await sub.addNamespace('m0');
      const listener = await sub.addListener({ port: 0 });
      const remote = await engine.createBdev(`nvmf://127.0.0.1:${listener.port}/${NQN}?name=r0`);
      await sub.setAnaState(listener, 'inaccessible');
      expect((await sub.info()).listeners[0]!.anaState).toBe('inaccessible');
      expect(await codeOf(remote.read(0, 4096))).toBe('ENODEV');
      await sub.setAnaState(listener, 'optimized');
      expect((await remote.read(0, 4096)).length).toBe(4096);
      await remote.destroy();
    });
  });

  it('fencing: closing a subsystem to unlisted hosts, or removing a host, ends their live connections', async () => {
    await withEngine({}, async (engine) => {
      await engine.createBdev('malloc:///m0?size_mb=8');
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      await sub.addNamespace('m0');
      const { port } = await sub.addListener({ port: 0 });
      const quick = 'ctrl_loss_timeout_ms=500&reconnect_delay_ms=100';
      const kept = await engine.createBdev(`nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${HOST}&name=kept&${quick}`);
      const fenced = await engine.createBdev(`nvmf://127.0.0.1:${port}/${NQN}?hostnqn=${OTHER}&name=fenced&${quick}`);
      await kept.write(0, patternBytes(4096, 6));
      await fenced.write(4096, patternBytes(4096, 7));
      await sub.addHost(HOST);
      await sub.setAllowAnyHost(false); // OTHER is not listed: its controller is ended now
      const gone = async (bdev: typeof fenced) => {
        const deadline = Date.now() + 5000;
        while (!bdev.gone && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return bdev.gone;
      };
      expect(await gone(fenced)).toBe(true);
      expect(await codeOf(fenced.write(4096, patternBytes(4096, 8)))).toBe('ENODEV');
      expect((await kept.read(0, 4096)).equals(patternBytes(4096, 6))).toBe(true); // the listed host goes on
      expect((await sub.info()).controllerList.map((c) => c.hostNqn)).toEqual([HOST]);
      await sub.removeHost(HOST);
      expect(await gone(kept)).toBe(true);
      expect((await sub.info()).controllerList).toEqual([]);
      await kept.destroy();
      await fenced.destroy();
    });
  });
});
