// Daemons for tests: in this process (Daemon.start, with an RpcClient on its socket) or as
// real `nodestor daemon` processes. Everything started here is stopped, killed and removed
// by cleanup(), pass or fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Daemon, type DaemonOptions } from '../../../src/daemon/daemon.js';
import { RpcClient } from '../../../src/rpc/client.js';

const CLI = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));
const dirs: string[] = [];
const daemons: Daemon[] = [];
const clients: RpcClient[] = [];
const processes: ChildProcess[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodestor-daemon-'));
  dirs.push(dir);
  return dir;
}

/** A quiet logger that keeps its lines, for tests that look at them. */
export function memoryLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export async function inProcessDaemon(options: Partial<DaemonOptions> = {}): Promise<{ daemon: Daemon; client: RpcClient; dir: string; lines: Record<string, unknown>[] }> {
  const dir = tempDir();
  const { logger, lines } = memoryLogger();
  const daemon = await Daemon.start({
    node: 'test',
    memoryMb: 256,
    hugepages: 'off',
    idle: 'adaptive',
    rpcSocket: join(dir, 'rpc.sock'),
    dataDir: dir,
    replicaListener: { address: '127.0.0.1', port: 0 },
    logger,
    ...options,
  });
  daemons.push(daemon);
  const client = await connect(daemon.socketPath);
  return { daemon, client, dir, lines };
}

export async function connect(socketPath: string): Promise<RpcClient> {
  const client = await RpcClient.connect({ socketPath, timeoutMs: 30_000 });
  clients.push(client);
  return client;
}

export interface DaemonProcess {
  child: ChildProcess;
  socket: string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** A `nodestor daemon` process; resolves once it logs 'daemon ready' (or rejects with its stderr). */
export function spawnDaemon(node: string, dir: string, extra: string[] = []): Promise<DaemonProcess> {
  const socket = join(dir, `${node}.sock`);
  const child = spawn(
    process.execPath,
    [CLI, 'daemon', '--node', node, '--memory-mb', '160', '--hugepages', 'off', '--idle', 'adaptive', '--rpc', socket, '--data-dir', join(dir, node), ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  processes.push(child);
  let err = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon ${node} did not start in 20 s:\n${err}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('"msg":"daemon ready"')) {
        clearTimeout(timer);
        resolve({ child, socket, stderr: () => err, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`daemon ${node} exited (${code}) before it was ready:\n${err}`), { code, stderr: err }));
    });
  });
}

export async function cleanup(): Promise<void> {
  for (const client of clients.splice(0)) client.close();
  for (const daemon of daemons.splice(0)) await daemon.stop().catch(() => undefined);
  for (const child of processes.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
