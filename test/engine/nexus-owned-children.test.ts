// The bdevs a nexus creates from child URIs are visible like any other (listBdevs, getBdev,
// stats), claimed by the nexus; they go when the child goes; and onlineChild of a remote
// child whose bdev is gone connects it again from its URI and copies only what it missed.
import { describe, expect, it } from 'vitest';
import { codeOf, patternBytes, withEngine } from '../helpers/engine.js';

const MiB = 1 << 20;
const NQN = 'nqn.2026-12.io.nodestor:owned';

describe('bdevs a nexus creates for its children', () => {
  it('appear in listBdevs, getBdev and stats, claimed by the nexus, and go with the child', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      await engine.createBdev('malloc:///local?size_mb=8&blk_size=4096');
      await engine.createBdev('malloc:///far?size_mb=8&blk_size=4096');
      const sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      await sub.addNamespace('far');
      const { port } = await sub.addListener({ port: 0 });
      const remoteUri = `nvmf://127.0.0.1:${port}/${NQN}?name=farchild`;
      const nexus = await engine.createNexus({ name: 'v', children: ['bdev:///local', remoteUri] });
      const child = engine.getBdev('farchild');
      expect(child?.module).toBe('nvmf');
      expect(engine.listBdevs().map((b) => b.name).sort()).toEqual(['far', 'farchild', 'local', 'v']);
      const data = patternBytes(64 * 1024, 9);
      await nexus.bdev.write(0, data);
      expect(engine.stats().farchild!.writeOps).toBeGreaterThanOrEqual(1);
      expect((await child!.read(0, data.length)).equals(data)).toBe(true); // reads are allowed
      expect(await codeOf(child!.write(0, data))).toBe('EPERM'); // the nexus is its only writer
      const refused = await child!.destroy().then(() => undefined, (e: Error) => e);
      expect(refused?.message).toMatch(/claimed by nexus v/);
      expect(child!.status).toBe('open');

      await nexus.removeChild(remoteUri);
      expect(engine.getBdev('farchild')).toBeUndefined();
      expect(child!.status).toBe('closed');
      expect(Object.keys(engine.stats()).sort()).toEqual(['far', 'local', 'v']);
      // Added again, it is shown again; destroying the nexus takes it away.
      await nexus.addChild(remoteUri);
      expect(engine.getBdev('farchild')?.status).toBe('open');
      await nexus.destroy();
      expect(engine.getBdev('farchild')).toBeUndefined();
    });
  });

  it('onlineChild connects a gone remote child again and rebuilds only the segments it missed', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      await engine.createBdev('malloc:///local?size_mb=16&blk_size=4096');
      await engine.createBdev('malloc:///far?size_mb=16&blk_size=4096');
      let sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      await sub.addNamespace('far');
      const { port } = await sub.addListener({ port: 0 });
      const remoteUri = `nvmf://127.0.0.1:${port}/${NQN}?name=farchild&ctrl_loss_timeout_ms=300&reconnect_delay_ms=50`;
      const nexus = await engine.createNexus({ name: 'v', children: ['bdev:///local', remoteUri] });
      const first = patternBytes(16 * MiB, 1);
      await nexus.bdev.write(0, first);

      await sub.destroy(); // the replica's target goes away
      const missed = [2, 5, 11];
      for (const segment of missed) await nexus.bdev.write(segment * MiB + 8192, patternBytes(4096, segment));
      const remote = () => nexus.children.find((c) => c.uri === remoteUri)!;
      expect([remote().state, remote().reason]).toEqual(['Faulted', 'Gone']);
      await new Promise((resolve) => setTimeout(resolve, 500)); // well past ctrl_loss_timeout
      expect(engine.getBdev('farchild')?.gone).toBe(true);
      // Away that long, its log still says what it missed; a write now is noted too.
      await nexus.bdev.write(13 * MiB, patternBytes(4096, 13));
      const stale = engine.getBdev('farchild')!;

      // The target serves the same NQN on the same port again; onlineChild reconnects.
      sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      await sub.addNamespace('far');
      await sub.addListener({ port });
      await nexus.onlineChild(remoteUri);
      const end = Date.now() + 10_000;
      while (nexus.state !== 'Online' && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(nexus.state).toBe('Online');
      expect([remote().state, remote().syncState]).toEqual(['Open', 'Synced']);
      const rebuild = (await nexus.rebuildHistory()).filter((r) => r.childUri === remoteUri).at(-1)!;
      expect(rebuild).toMatchObject({ state: 'Completed', partial: true, bytesRebuilt: 4 * MiB });
      // The old bdev went, a new one stands in its place, and the child is whole again.
      expect(stale.status).toBe('closed');
      const fresh = engine.getBdev('farchild')!;
      expect(fresh).not.toBe(stale);
      expect(fresh.health).toBe('online');
      const everything = await nexus.bdev.read(0, 16 * MiB);
      expect((await engine.getBdev('far')!.read(0, 16 * MiB)).equals(everything)).toBe(true);
      expect((await engine.getBdev('local')!.read(0, 16 * MiB)).equals(everything)).toBe(true);
      await nexus.destroy();
    });
  });

  it('onlineChild of a gone child says why when the target is still away, and keeps the log', async () => {
    await withEngine({ memoryMb: 128 }, async (engine) => {
      await engine.createBdev('malloc:///local?size_mb=8&blk_size=4096');
      await engine.createBdev('malloc:///far?size_mb=8&blk_size=4096');
      let sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      await sub.addNamespace('far');
      const { port } = await sub.addListener({ port: 0 });
      const remoteUri = `nvmf://127.0.0.1:${port}/${NQN}?name=farchild&ctrl_loss_timeout_ms=200&reconnect_delay_ms=50`;
      const nexus = await engine.createNexus({ name: 'v', children: ['bdev:///local', remoteUri] });
      await sub.destroy();
      await nexus.bdev.write(3 * MiB, patternBytes(4096, 3));
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await codeOf(nexus.onlineChild(remoteUri))).toBe('ECONNREFUSED');
      expect(engine.getBdev('farchild')).toBeUndefined(); // the gone bdev was let go
      expect(nexus.state).toBe('Degraded');
      sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
      await sub.addNamespace('far');
      await sub.addListener({ port });
      await nexus.onlineChild(remoteUri);
      const end = Date.now() + 10_000;
      while (nexus.state !== 'Online' && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
      const rebuild = (await nexus.rebuildHistory()).at(-1)!;
      expect(rebuild).toMatchObject({ state: 'Completed', partial: true, bytesRebuilt: MiB });
      await nexus.destroy();
    });
  });
});
