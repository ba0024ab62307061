// Reconcilers: each concern is one poller that compares the specs with what the nodes
// report and makes one step towards the spec. The runner runs them in turn on a timer and
// when an event asks for a pass, only while this control plane leads (a standby only
// refreshes its view), and counts the passes and their time.
import type { Logger } from 'pino';
import { newRequestId, withRequestId } from '../../request-context.js';
import type { SpecStore } from '../specs/spec-store.js';

/**
 * What one pass shares: the volume specs, listed once. A reconciler reads a volume again
 * under its lock before changing it, so a list a few steps old only decides what to look
 * at; the garbage reconciler, which destroys, lists afresh.
 */
export class PassView {
  #volumes: ReturnType<SpecStore['listVolumes']> | undefined;
  constructor(private readonly specs: SpecStore) {}
  volumes(): ReturnType<SpecStore['listVolumes']> {
    return (this.#volumes ??= this.specs.listVolumes());
  }
}

export interface Reconciler {
  readonly name: string;
  /** Only reads (the registry's view of the nodes): a standby runs it too, for its API. */
  readonly observeOnly?: boolean;
  run(now: number, pass: PassView): Promise<void>;
}

export interface PassStats {
  passes: number;
  lastMs: number;
  totalMs: number;
  errors: number;
}

export class ReconcileRunner {
  readonly #reconcilers: Reconciler[];
  readonly #log: Logger;
  readonly #periodMs: number;
  readonly #isLeader: () => boolean;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  readonly stats: PassStats = { passes: 0, lastMs: 0, totalMs: 0, errors: 0 };

  readonly #specs: SpecStore;

  constructor(reconcilers: Reconciler[], options: { specs: SpecStore; log: Logger; periodMs: number; isLeader: () => boolean }) {
    this.#reconcilers = reconcilers;
    this.#specs = options.specs;
    this.#log = options.log;
    this.#periodMs = options.periodMs;
    this.#isLeader = options.isLeader;
  }

  start(): void {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.trigger(), this.#periodMs);
    this.#timer.unref();
  }

  /** Runs a pass now (or right after the one running); resolves when it is done. */
  trigger(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    clearTimeout(this.#timer);
    // A pass is one request: the RPCs it makes, and their lines on the nodes, share an id.
    this.#running = withRequestId(newRequestId('reconcile'), () => this.#pass()).finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        void this.trigger();
      } else this.#schedule();
    });
    return this.#running;
  }

  async #pass(): Promise<void> {
    const leading = this.#isLeader();
    const started = performance.now();
    const pass = new PassView(this.#specs);
    for (const reconciler of this.#reconcilers) {
      if (this.#stopped) break;
      if (!reconciler.observeOnly && !(leading && this.#isLeader())) continue;
      try {
        await reconciler.run(Date.now(), pass);
      } catch (error) {
        this.stats.errors++;
        this.#log.warn({ reconciler: reconciler.name, error: (error as Error).message }, 'reconcile step failed; the next pass tries again');
      }
    }
    if (!leading) return; // a standby's view refresh is not a reconcile pass
    const ms = performance.now() - started;
    this.stats.passes++;
    this.stats.lastMs = ms;
    this.stats.totalMs += ms;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
