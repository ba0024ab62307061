// The bdevs a nexus creates from child URIs are visible like any other (listBdevs, getBdev,
// stats), claimed by the nexus; they go when the child goes; and onlineChild of a remote
// child whose bdev is gone connects it again from its URI and copies only what it missed.
import { describe, expect, it } from 'vitest';
import type { Engine, Nexus } from '../../src/index.js';
import { codeOf, patternBytes, withEngine } from '../helpers/engine.js';

const MiB = 1 << 20;
const NQN = 'nqn.2026-12.io.nodestor:owned';

/** Serves bdev `far` on NQN (again, on the same port when given); resolves with the subsystem and port. */
async function serveFar(engine: Engine, port = 0) {
  const sub = await engine.nvmf.createSubsystem({ nqn: NQN, allowAnyHost: true });
  await sub.addNamespace('far');
  return { sub, port: (await sub.addListener({ port })).port };
}

/** A nexus 'v' over a local malloc and the remote 'far' (both `mb` MiB) with the given URI options. */
async function mixedNexus(engine: Engine, mb: number, options: string) {
  await engine.createBdev(`malloc:///local?size_mb=${mb}&blk_size=4096`);
  await engine.createBdev(`malloc:///far?size_mb=${mb}&blk_size=4096`);
  const { sub, port } = await serveFar(engine);
  const remoteUri = `nvmf://127.0.0.1:${port}/${NQN}?name=farchild${options}`;
  const nexus = await engine.createNexus({ name: 'v', children: ['bdev:///local', remoteUri] });
  return { sub, port, remoteUri, nexus };
}

async function untilOnline(nexus: Nexus): Promise<void> {
  const end = Date.now() + 10_000;
  while (nexus.state !== 'Online' && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(nexus.state).toBe('Online');
}

describe('bdevs a nexus creates for its children', () => {
  it('appear in listBdevs, getBdev and stats, claimed by the nexus, and go with the child', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const { remoteUri, nexus } = await mixedNexus(engine, 8, '');
      const child = engine.getBdev('farchild');
      expect(child?.module).toBe('nvmf');
      expect(engine.getNexus('v')).toBe(nexus);
      expect(engine.listNexuses()).toEqual([nexus]);
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
      expect(engine.getNexus('v')).toBeUndefined();
      expect(engine.listNexuses()).toEqual([]);
    });
  });

  it('onlineChild connects a gone remote child again and rebuilds only the segments it missed', async () => {
    await withEngine({ memoryMb: 256 }, async (engine) => {
      const { sub, port, remoteUri, nexus } = await mixedNexus(engine, 16, '&ctrl_loss_timeout_ms=300&reconnect_delay_ms=50');
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
      await serveFar(engine, port);
      await nexus.onlineChild(remoteUri);
      await untilOnline(nexus);
      expect([remote().state, remote().syncState]).toEqual(['Open', 'Synced']);
      const rebuild = (await nexus.rebuildHistory()).filter((r) => r.childUri === remoteUri).at(-1)!;
      expect(rebuild).toMatchObject({ state: 'Completed', partial: true, bytesRebuilt: 4 * MiB });
      // The old bdev went, a new one stands in its place, and the child is whole again.
      expect(stale.status).toBe('closed');
      const fresh = engine.getBdev('farchild')!;
      expect(fresh).not.toBe(stale);
      expect(fresh.health).toEqual({ state: 'online', reason: null });
      const everything = await nexus.bdev.read(0, 16 * MiB);
      expect((await engine.getBdev('far')!.read(0, 16 * MiB)).equals(everything)).toBe(true);
      expect((await engine.getBdev('local')!.read(0, 16 * MiB)).equals(everything)).toBe(true);
      await nexus.destroy();
    });
  });

  it('onlineChild of a gone child says why when the target is still away, and keeps the log', async () => {
    await withEngine({ memoryMb: 128 }, async (engine) => {
      const { sub, port, remoteUri, nexus } = await mixedNexus(engine, 8, '&ctrl_loss_timeout_ms=200&reconnect_delay_ms=50');
      await sub.destroy();
      await nexus.bdev.write(3 * MiB, patternBytes(4096, 3));
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await codeOf(nexus.onlineChild(remoteUri))).toBe('ECONNREFUSED');
      expect(engine.getBdev('farchild')).toBeUndefined(); // the gone bdev was let go
      expect(nexus.state).toBe('Degraded');
      await serveFar(engine, port);
      await nexus.onlineChild(remoteUri);
      await untilOnline(nexus);
      const rebuild = (await nexus.rebuildHistory()).at(-1)!;
      expect(rebuild).toMatchObject({ state: 'Completed', partial: true, bytesRebuilt: MiB });
      await nexus.destroy();
    });
  });
});
