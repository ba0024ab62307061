// Engine processes on loopback for multi-process tests: each is a fixture script
// (fixtures/engine-node.mjs) with its own pool file in a scratch directory, driven over the
// IPC channel. Every process started here is killed and the directory removed by
// `Cluster.teardown()`, which a test calls in afterEach, so nothing outlives a failing test.
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir, sparseFile } from '../../helpers/files.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/engine-node.mjs');
const CALL_TIMEOUT_MS = 20_000;

export class NodeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** One engine process. */
export class EngineNode {
  readonly #child: ChildProcess;
  #nextId = 1;
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly diskPath: string,
    child: ChildProcess,
  ) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (msg: { id?: number; ok?: boolean; value?: unknown; error?: { message: string; code: string } }) => {
      const call = msg.id === undefined ? undefined : this.#calls.get(msg.id);
      if (!call) return;
      this.#calls.delete(msg.id!);
      clearTimeout(call.timer);
      if (msg.ok) call.resolve(msg.value);
      else call.reject(new NodeError(`${this.name}: ${msg.error!.message}`, msg.error!.code));
    });
    child.once('exit', (code, signal) => {
      for (const call of this.#calls.values()) {
        clearTimeout(call.timer);
        call.reject(new NodeError(`${this.name} exited (${signal ?? code})`, 'EXITED'));
      }
      this.#calls.clear();
    });
  }

  static async start(name: string, diskPath: string, core: number): Promise<EngineNode> {
    const child = fork(FIXTURE, [String(core)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const node = new EngineNode(name, diskPath, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start`)), CALL_TIMEOUT_MS);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited at start (${code})`));
      });
    });
    return node;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (!this.alive) return Promise.reject(new NodeError(`${this.name} is not running`, 'EXITED'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new Error(`${this.name}: ${op} took longer than ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#child.send({ id, op, args });
    });
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** A clean stop (engine.stop(): pools exported), then the process exits. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    await this.call('stop').catch(() => undefined);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** The processes and files of one test. */
export class Cluster {
  readonly #scratch = scratchDir();
  readonly #nodes: EngineNode[] = [];

  get dir(): string {
    return this.#scratch.dir;
  }

  /** A new process with a sparse pool file of its own (or the given one, for a restart). */
  async startNode(name: string, core: number, diskBytes = 128 << 20, diskPath?: string): Promise<EngineNode> {
    const disk = diskPath ?? sparseFile(this.#scratch.dir, `${name}.pool`, diskBytes);
    const node = await EngineNode.start(name, disk, core);
    this.#nodes.push(node);
    return node;
  }

  /** Kills every process still running and removes the scratch directory. */
  async teardown(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => node.kill()));
    this.#scratch.cleanup();
  }
}
