// Leader election: exactly one candidate leads; when the leader resigns a standby takes
// over at once, and when the leader's process is killed -9, within the lease TTL.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Election } from '../../src/control/store/election.js';
import { EtcdStore } from '../../src/control/store/etcd.js';
import { startEtcd, type EtcdServer } from './helpers/etcd.js';

let etcd: EtcdServer;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

const until = async (what: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return what();
};

describe('leader election on etcd', () => {
  it('one leader at a time; a resign hands over at once', async () => {
    const a = await EtcdStore.connect([etcd.endpoint]);
    const b = await EtcdStore.connect([etcd.endpoint]);
    try {
      const ea = await Election.campaign(a, 'resign', 'cp-a', 2000);
      const eb = await Election.campaign(b, 'resign', 'cp-b', 2000);
      expect([ea.isLeader, eb.isLeader]).toEqual([true, false]);
      expect(await eb.leader()).toBe('cp-a');
      await new Promise((r) => setTimeout(r, 300));
      expect(eb.isLeader).toBe(false);
      await ea.resign();
      expect(await until(() => eb.isLeader, 2000)).toBe(true);
      expect(await eb.leader()).toBe('cp-b');
      await eb.resign();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a standby takes over within the TTL when the leader is killed -9', async () => {
    const ttlMs = 2000;
    const child = fork(fileURLToPath(new URL('./fixtures/candidate.mjs', import.meta.url)), [etcd.endpoint, 'kill', 'cp-dead', String(ttlMs)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const store = await EtcdStore.connect([etcd.endpoint]);
    try {
      expect(await until(() => out.includes('LEADER'), 10_000)).toBe(true);
      const standby = await Election.campaign(store, 'kill', 'cp-standby', ttlMs);
      expect(standby.isLeader).toBe(false);
      const killedAt = Date.now();
      child.kill('SIGKILL');
      expect(await until(() => standby.isLeader, ttlMs + 3000)).toBe(true);
      const tookOver = Date.now() - killedAt;
      // etcd expires a lease between TTL and TTL plus its own check interval.
      expect(tookOver).toBeLessThan(ttlMs + 2500);
      expect(await standby.leader()).toBe('cp-standby');
      await standby.resign();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await store.close();
    }
  });
});
