// Leader election on a state store, as etcd's election works: the leader holds one key
// attached to its lease. Standbys watch that key and try again when it goes, which is
// when the leader resigns or its lease expires (the leader died: within the TTL).
import type { Lease, StateStore, Watch } from './store.js';

export class Election {
  readonly key: string;
  readonly candidate: string;
  #store: StateStore;
  #ttlMs: number;
  #lease: Lease | undefined;
  #watch: Watch | undefined;
  #leader = false;
  #stopped = false;
  #listeners: ((leader: boolean) => void)[] = [];
  #attempt: Promise<void> = Promise.resolve();

  private constructor(store: StateStore, name: string, candidate: string, ttlMs: number) {
    this.#store = store;
    this.key = `election/${name}`;
    this.candidate = candidate;
    this.#ttlMs = ttlMs;
  }

  /** Joins the election; resolves once this candidate either leads or stands by. */
  static async campaign(store: StateStore, name: string, candidate: string, ttlMs: number): Promise<Election> {
    const election = new Election(store, name, candidate, ttlMs);
    election.#watch = await store.watch(election.key, (event) => {
      if (event.type === 'delete' && event.kv.key === election.key) election.#retry();
    });
    await election.#try();
    return election;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Called with true when this candidate becomes leader, false when it stops leading. */
  onChange(listener: (leader: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** The candidate that leads now, if any. */
  async leader(): Promise<string | undefined> {
    return (await this.#store.get(this.key))?.value;
  }

  /** Steps down (a standby takes over at once) and leaves the election. */
  async resign(): Promise<void> {
    this.#stopped = true;
    await this.#watch?.close();
    await this.#attempt;
    const lease = this.#lease;
    this.#lease = undefined;
    this.#set(false);
    await lease?.revoke();
  }

  #retry(): void {
    this.#attempt = this.#attempt.then(() => this.#try()).catch(() => undefined);
  }

  async #try(): Promise<void> {
    if (this.#stopped || this.#leader) return;
    if (!this.#lease) {
      const lease = await this.#store.grantLease(this.#ttlMs);
      lease.onLost(() => {
        if (this.#lease !== lease) return;
        this.#lease = undefined;
        this.#set(false);
        this.#retry();
      });
      this.#lease = lease;
    }
    const won = await this.#store.txn([{ key: this.key, modRevision: 0 }], [{ put: { key: this.key, value: this.candidate, lease: this.#lease.id } }]);
    if (won.succeeded) this.#set(true);
  }

  #set(leader: boolean): void {
    if (this.#leader === leader) return;
    this.#leader = leader;
    for (const listener of this.#listeners) listener(leader);
  }
}
