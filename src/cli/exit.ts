// How the `nodestor` command ends on an error: one line saying what went wrong (the code
// first when there is one, so scripts can match it) and an exit code that means
// something. A stack trace only with --debug, or for an error nobody expected (a bug).
import { CommanderError, InvalidArgumentError } from 'commander';
import { RpcError } from '../rpc/protocol.js';

export const ExitCode = {
  ok: 0,
  /** The system refused or the operation failed (a ControlError, an RPC error, an engine error). */
  failed: 1,
  /** The command line or an input file is wrong. */
  usage: 2,
  /** The daemon or control plane could not be reached. */
  unreachable: 3,
  /** Not expected: a bug in nodestor (the stack is printed). */
  internal: 70,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0   success
  1   the operation failed or was refused (the error's code is printed first)
  2   bad arguments or input (see --help)
  3   the daemon or control plane could not be reached
  70  an internal error (a bug; the stack is printed)
Add --debug to any command to print the stack of an error.`;

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'EACCES']);

interface Classified {
  exitCode: number;
  line: string;
  expected: boolean;
}

export function classify(error: unknown): Classified {
  const e = error as Error & { code?: unknown; details?: Record<string, unknown>; cause?: { code?: unknown } };
  // Thrown by an action (commander prints the ones it raises itself, so those get no line).
  if (error instanceof InvalidArgumentError && error.code === 'commander.invalidArgument')
    return { exitCode: ExitCode.usage, line: error.message, expected: true };
  if (error instanceof CommanderError) return { exitCode: error.exitCode === 0 ? 0 : ExitCode.usage, line: '', expected: true };
  if (e?.name === 'ControlError') {
    const unreachable = e.code === 'NodeOffline' && Array.isArray(e.details?.urls);
    return { exitCode: e.code === 'InvalidArgument' ? ExitCode.usage : unreachable ? ExitCode.unreachable : ExitCode.failed, line: `${String(e.code)}: ${e.message}`, expected: true };
  }
  if (error instanceof RpcError) {
    const code = (error.data as { code?: string } | undefined)?.code;
    return { exitCode: error.code === -32602 ? ExitCode.usage : ExitCode.failed, line: `${code ?? error.code}: ${error.message}`, expected: true };
  }
  if (e?.name === 'NodestorError') return { exitCode: ExitCode.failed, line: `${String(e.code)}: ${e.message}`, expected: true };
  if (e?.name === 'ClusterError') return { exitCode: ExitCode.failed, line: e.message, expected: true };
  if (e?.name === 'ConfigError') return { exitCode: ExitCode.usage, line: e.message, expected: true };
  const sysCode = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  if (sysCode && UNREACHABLE.has(sysCode) && /connect|socket|fetch/i.test(`${e.message} ${(e as { syscall?: string }).syscall ?? ''}`))
    return { exitCode: ExitCode.unreachable, line: `${sysCode}: ${e.message}`, expected: true };
  if (sysCode && /^E[A-Z]+$/.test(sysCode)) return { exitCode: ExitCode.failed, line: `${sysCode}: ${e.message}`, expected: true }; // a file the user named, say
  if (error instanceof RangeError || error instanceof TypeError) return { exitCode: ExitCode.usage, line: e.message, expected: true };
  return { exitCode: ExitCode.internal, line: `internal error: ${e?.message ?? String(error)}`, expected: false };
}

/** Prints the error as the command's last words and sets the exit code. */
export function reportAndExit(error: unknown, debug: boolean): never {
  const { exitCode, line, expected } = classify(error);
  if (line) process.stderr.write(`nodestor: ${line}\n`);
  const requestId = (error as { details?: { requestId?: unknown } })?.details?.requestId;
  if (typeof requestId === 'string') process.stderr.write(`nodestor: the control plane logged this as request ${requestId}\n`);
  if ((debug || !expected) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else if (exitCode === ExitCode.usage && line) process.stderr.write("nodestor: see 'nodestor --help' or 'nodestor <command> --help'\n");
  process.exit(exitCode);
}
