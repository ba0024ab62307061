// Lvols composed with the other parts: as nexus children, as NVMe-oF namespaces (a
// snapshot read-only), under an error bdev; what a claim on an lvol refuses; and the
// README's own lvol -> nexus -> publish -> host flow.
import { describe, expect, it } from 'vitest';
import { codeOf, patternBytes, rejection, withEngine } from '../helpers/engine.js';
import { scratchDir, sparseFile } from '../helpers/files.js';

const HOST = 'nqn.2026-12.io.nodestor:compose-host';

describe('lvols compose', () => {
  it('the README flow: two lvols mirrored by a nexus, published, written and read by a host', async () => {
    const { dir, cleanup } = scratchDir();
    try {
      await withEngine({}, async (engine) => {
        const pool = await engine.createPool({ name: 'p0', disk: `uring://${sparseFile(dir, 'disk', 256 << 20)}?blk_size=4096` });
        const r1 = await pool.createLvol({ name: 'r1', sizeBytes: 32 << 20 });
        const r2 = await pool.createLvol({ name: 'r2', sizeBytes: 32 << 20 });
        const nexus = await engine.createNexus({ name: 'v', children: ['bdev:///p0/r1', 'bdev:///p0/r2'] });
        expect(nexus.state).toBe('Online');
        const uri = await nexus.publish({ hosts: [HOST], port: 0 });
        const host = await engine.createBdev(`${uri}${uri.includes('?') ? '&' : '?'}hostnqn=${HOST}&name=hostv`);
        const data = patternBytes(1 << 20, 7);
        await host.write(4 << 20, data);
        expect((await host.read(4 << 20, data.length)).equals(data)).toBe(true);
        // Both replicas hold the mirrored data.
        expect((await r1.bdev.read(4 << 20, data.length)).equals(data)).toBe(true);
        expect((await r2.bdev.read(4 << 20, data.length)).equals(data)).toBe(true);
        await host.destroy();
        await nexus.destroy();
      });
    } finally {
      cleanup();
    }
  });

  it('a claimed lvol refuses destroy, shrinking and its pool export with EBUSY naming the claimer', async () => {
    await withEngine({}, async (engine) => {
      const pool = await engine.createPool({ name: 'p0', disk: 'malloc:///d0?size_mb=64&blk_size=4096' });
      const lvol = await pool.createLvol({ name: 'r1', sizeBytes: 16 << 20 });
      const nexus = await engine.createNexus({ name: 'v', children: ['bdev:///p0/r1'] });
      const destroyed = await rejection(lvol.destroy());
      expect(destroyed.code).toBe('EBUSY');
      expect(destroyed.message).toMatch(/claimed by nexus v/);
      const shrunk = await rejection(lvol.resize(8 << 20));
      expect(shrunk.code).toBe('EBUSY');
      expect(shrunk.message).toMatch(/claimed by nexus v.*shrunk/);
      await lvol.resize(24 << 20); // growing under a consumer is allowed
      expect(lvol.sizeBytes).toBe(24 << 20);
      const exported = await rejection(pool.export());
      expect(exported.code).toBe('EBUSY');
      expect(exported.message).toMatch(/r1 of pool p0 is claimed by nexus v/);
      // Nothing was lost: the lvol still works through the nexus and the pool is open.
      const data = patternBytes(8192, 3);
      await nexus.bdev.write(0, data);
      expect((await lvol.bdev.read(0, 8192)).equals(data)).toBe(true);
      expect(pool.status).toBe('open');
      // A second consumer is refused while the first holds it.
      expect(await codeOf(engine.createBdev('error:///e1?base=p0/r1'))).toBe('EBUSY');
      await nexus.destroy();
      // Released: an error bdev may claim it now, and the lvol is destroyed once that goes.
      const err = await engine.createBdev('error:///e1?base=p0/r1');
      expect((await err.read(0, 8192)).equals(data)).toBe(true);
      expect(await codeOf(lvol.destroy())).toBe('EBUSY');
      await err.destroy();
      await lvol.destroy();
      await pool.export();
    });
  });

  it('an lvol bdev is destroyed through lvol.destroy(), and the message says so', async () => {
    await withEngine({}, async (engine) => {
      const pool = await engine.createPool({ name: 'p0', disk: 'malloc:///d0?size_mb=64&blk_size=4096' });
      const lvol = await pool.createLvol({ name: 'r1', sizeBytes: 8 << 20 });
      const error = await rejection(lvol.bdev.destroy());
      expect(error.code).toBe('EBUSY');
      expect(error.message).toBe('bdev p0/r1 belongs to lvol store p0: destroy it with lvol.destroy()');
      expect(lvol.bdev.status).toBe('open');
      await lvol.destroy();
    });
  });

  it('a snapshot is a read-only namespace: remote writes get write-protected (EROFS), reads its data', async () => {
    await withEngine({}, async (engine) => {
      const pool = await engine.createPool({ name: 'p0', disk: 'malloc:///d0?size_mb=64&blk_size=4096' });
      const lvol = await pool.createLvol({ name: 'r1', sizeBytes: 8 << 20 });
      const data = patternBytes(16384, 11);
      await lvol.bdev.write(0, data);
      const snap = await lvol.snapshot('s1');
      const sub = await engine.nvmf.createSubsystem({ nqn: 'nqn.2026-12.io.nodestor:snap', hosts: [HOST] });
      await sub.addNamespace('p0/s1');
      const { port } = await sub.addListener({ port: 0 });
      const lvolSub = await engine.nvmf.createSubsystem({ nqn: 'nqn.2026-12.io.nodestor:lvol', hosts: [HOST] });
      expect(await lvolSub.addNamespace('p0/r1')).toBe(1); // an lvol is a namespace too
      await lvolSub.addListener({ port });
      const remote = await engine.createBdev(`nvmf://127.0.0.1:${port}/nqn.2026-12.io.nodestor:snap?hostnqn=${HOST}&name=rs`);
      expect((await remote.read(0, data.length)).equals(data)).toBe(true);
      expect(await codeOf(remote.write(0, patternBytes(4096, 1)))).toBe('EROFS');
      expect((await snap.bdev.read(0, data.length)).equals(data)).toBe(true);
      expect(remote.health).toEqual({ state: 'online', reason: null });
      const viaLvol = await engine.createBdev(`nvmf://127.0.0.1:${port}/nqn.2026-12.io.nodestor:lvol?hostnqn=${HOST}&name=rl`);
      const fresh = patternBytes(4096, 5);
      await viaLvol.write(8192, fresh);
      expect((await lvol.bdev.read(8192, 4096)).equals(fresh)).toBe(true);
      // The snapshot is claimed by its namespace, and still names what depends on it.
      const clone = await snap.clone('c1');
      const refused = await rejection(snap.destroy());
      expect(refused.code).toBe('EBUSY');
      expect(refused.message).toMatch(/^lvol s1 of pool p0 is claimed by .*nqn\.2026-12\.io\.nodestor:snap/);
      await remote.destroy();
      await viaLvol.destroy();
      await sub.destroy();
      await lvolSub.destroy();
      const parent = await rejection(snap.destroy());
      expect(parent.code).toBe('EBUSY');
      expect(parent.message).toBe('snapshot s1 is the parent of r1, c1: destroy them or decouple them from it first');
      await clone.destroy();
    });
  });

  it('errors users hit: a disk with a pool, listeners on a used port or a foreign address, hosts not allowed', async () => {
    const { dir, cleanup } = scratchDir();
    try {
      await withEngine({}, async (engine) => {
        const disk = `uring://${sparseFile(dir, 'disk', 64 << 20)}?blk_size=4096`;
        await engine.createPool({ name: 'p0', disk });
        const twice = await rejection(engine.createPool({ name: 'p1', disk }));
        expect(twice.code).toBe('EEXIST');
        expect(twice.message).toBe(`disk ${disk} already holds pool p0`);
        await engine.createBdev('malloc:///m0?size_mb=64&blk_size=4096');
        const named = await rejection(engine.createPool({ name: 'p2', disk: 'bdev:///m0' }).then(() => engine.createPool({ name: 'p3', disk: 'bdev:///m0' })));
        expect(named.code).toBe('EEXIST');
        expect(named.message).toBe('disk bdev:///m0 already holds pool p2');

        const sub = await engine.nvmf.createSubsystem({ nqn: 'nqn.2026-12.io.nodestor:errs', hosts: [HOST] });
        await engine.createBdev('malloc:///m1?size_mb=8');
        await sub.addNamespace('m1');
        const { port } = await sub.addListener({ port: 0 });
        const other = await engine.nvmf.createSubsystem({ nqn: 'nqn.2026-12.io.nodestor:errs2', allowAnyHost: true });
        const { createServer } = await import('node:net');
        const squatter = createServer();
        await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
        const taken = (squatter.address() as { port: number }).port;
        try {
          const inUse = await rejection(other.addListener({ address: '127.0.0.1', port: taken }));
          expect(inUse.code).toBe('EADDRINUSE');
          expect(inUse.message).toMatch(new RegExp(`cannot listen on 127.0.0.1:${taken}`));
        } finally {
          squatter.close();
        }
        // 192.0.2.0/24 is a documentation range: never an address of this machine (bind fails locally).
        const foreign = await rejection(other.addListener({ address: '192.0.2.1', port: 4420 }));
        expect(foreign.code).toBe('EADDRNOTAVAIL');
        const denied = await rejection(
          engine.createBdev(`nvmf://127.0.0.1:${port}/nqn.2026-12.io.nodestor:errs?hostnqn=nqn.2026-12.io.nodestor:stranger&name=x`),
        );
        expect(denied.code).toBe('EACCES');
        expect(denied.message).toMatch(/host nqn\.2026-12\.io\.nodestor:stranger is not allowed to connect/);
        expect((await engine.nvmf.listSubsystems()).length).toBe(2); // the engine kept running
      });
    } finally {
      cleanup();
    }
  });
});
