#!/usr/bin/env node
// The `nodestor` command: `nodestor daemon` runs a node daemon; `nodestor rpc` calls one
// of its methods and prints the result as JSON, as SPDK's rpc.py does.
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { NexusInfoStore } from '../daemon/nexus-store.js';
import { RpcClient } from '../rpc/client.js';
import { isRequestId } from '../request-context.js';
import { RpcError } from '../rpc/protocol.js';
import { parseKeyValues, parseHostPort } from './args.js';
import { registerControlCommands } from './control-commands.js';
import { EXIT_CODES_HELP, reportAndExit } from './exit.js';
import { registerBenchCommand } from './bench-command.js';
import { registerClusterCommands } from './cluster-commands.js';
import { registerPerfCommand } from './perf.js';
import { packageVersion } from '../version.js';

const program = new Command('nodestor')
  .description('nodestor: a storage engine node and its tools')
  .version(packageVersion())
  .option('--debug', 'print the stack of an error')
  .addHelpText('after', EXIT_CODES_HELP)
  // Errors in the arguments throw (exit code 2) instead of exiting with commander's 1; set
  // before the subcommands are made so that they inherit it.
  .exitOverride()
  .showSuggestionAfterError();

const cores = (text: string) => {
  const list = text.split(',').map((c) => Number(c));
  if (list.some((c) => !Number.isInteger(c) || c < 0)) throw new InvalidArgumentError('a comma-separated list of core numbers');
  return list;
};
const positive = (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a positive whole number');
  return n;
};
const hostPort = (text: string) => {
  try {
    return parseHostPort(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

program
  .command('daemon')
  .description('run a node daemon: one engine, driven over JSON-RPC')
  .requiredOption('--node <name>', "this node's name")
  .option('--cores <list>', 'cores for the reactors', cores, [0])
  .option('--memory-mb <n>', 'DMA memory in MiB', positive)
  .option('--hugepages <mode>', 'auto | require | off', 'auto')
  .option('--idle <mode>', 'poll | adaptive', 'adaptive')
  .option('--rpc <path>', 'Unix socket (default /var/tmp/nodestor-<node>.sock)')
  .option('--rpc-tcp <host:port>', 'also serve RPC over TCP (needs --token-file off loopback)', hostPort)
  .option('--token-file <file>', 'the token TCP clients must send')
  .option('--tls-cert <file>', 'TLS certificate for --rpc-tcp')
  .option('--tls-key <file>', 'TLS key for --rpc-tcp')
  .option('--config <file>', 'an SPDK-format JSON config to apply at start')
  .option('--replica-listener <host:port>', 'where replicas are shared', hostPort, { host: '127.0.0.1', port: 8420 })
  .option('--advertise-replica-listener <host:port>', 'where peers reach the replica listener, if not where it listens (a proxy, a NAT)', hostPort)
  .option('--data-dir <dir>', 'where nexus info is kept (default /var/tmp/nodestor-<node>)')
  .option('--nexus-store <url>', 'keep nexus info in etcd (etcd://host:port[,host:port]) instead of files')
  .option('--control <url>', 'register with the control plane at this URL (comma-separated for several)')
  .option('--control-token-file <file>', "the control plane's API token")
  .option('--label <k=v>', 'a node label for placement (repeatable)', (text: string, previous: Record<string, string> = {}) => {
    const m = /^([^=]{1,63})=(.{0,63})$/.exec(text);
    if (!m) throw new InvalidArgumentError('labels are key=value');
    return { ...previous, [m[1]!]: m[2]! };
  })
  .option('--target-port <port>', 'where this node publishes volume targets', positive)
  .option('--metrics <host:port>', 'serve Prometheus metrics at http://host:port/metrics', hostPort)
  .option('--log-level <level>', 'trace | debug | info | warn | error', 'info')
  .action(async (o) => {
    if (!['auto', 'require', 'off'].includes(o.hugepages)) throw new InvalidArgumentError('--hugepages must be auto, require or off');
    if (!['poll', 'adaptive'].includes(o.idle)) throw new InvalidArgumentError('--idle must be poll or adaptive');
    if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new InvalidArgumentError('--tls-cert and --tls-key go together');
    let nexusStore: NexusInfoStore | undefined;
    if (o.nexusStore) {
      if (!String(o.nexusStore).startsWith('etcd://')) throw new InvalidArgumentError('--nexus-store takes etcd://host:port[,host:port]');
      // Loaded only when asked for: the etcd client (gRPC) is heavy for every other command.
      const { EtcdStore } = await import('../control/store/etcd.js');
      const { StoreNexusInfoStore } = await import('../control/store/nexus-info.js');
      nexusStore = new StoreNexusInfoStore(await EtcdStore.connect(String(o.nexusStore).slice('etcd://'.length).split(',')), o.node); // fenced as this node
    }
    // Loaded here, not at the top: the engine's addon is not needed for --help or the other commands.
    const { Daemon } = await import('../daemon/daemon.js');
    const daemon = await Daemon.start({
      ...(nexusStore ? { nexusStore } : {}),
      node: o.node,
      cores: o.cores,
      ...(o.memoryMb ? { memoryMb: o.memoryMb } : {}),
      hugepages: o.hugepages,
      idle: o.idle,
      ...(o.rpc ? { rpcSocket: o.rpc } : {}),
      ...(o.rpcTcp ? { rpcTcp: o.rpcTcp } : {}),
      ...(o.tokenFile ? { token: readFileSync(o.tokenFile, 'utf8').trim() } : {}),
      ...(o.tlsCert ? { tls: { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) } } : {}),
      ...(o.config ? { config: o.config } : {}),
      replicaListener: { address: o.replicaListener.host, port: o.replicaListener.port },
      ...(o.advertiseReplicaListener ? { advertisedReplicaListener: { address: o.advertiseReplicaListener.host, port: o.advertiseReplicaListener.port } } : {}),
      ...(o.dataDir ? { dataDir: o.dataDir } : {}),
      ...(o.control
        ? {
            control: {
              urls: String(o.control).split(','),
              ...(o.controlTokenFile ? { token: readFileSync(o.controlTokenFile, 'utf8').trim() } : {}),
              ...(o.label ? { labels: o.label } : {}),
              ...(o.targetPort ? { targetPort: o.targetPort } : {}),
            },
          }
        : {}),
      ...(o.metrics ? { metrics: { host: o.metrics.host, port: o.metrics.port } } : {}),
      logLevel: o.logLevel,
    });
    const onSignal = (signal: NodeJS.Signals) => {
      if (daemon.stopping) {
        daemon.log.warn({ signal }, 'already stopping; this signal changes nothing');
        return;
      }
      daemon.log.info({ signal }, 'stopping');
      daemon.stop().then(
        () => process.exit(0),
        (error) => {
          daemon.log.error({ error: (error as Error).message }, 'stop failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

program
  .command('rpc')
  .description("call a daemon method and print its result as JSON (like SPDK's rpc.py)")
  .argument('<method>', 'e.g. bdev_get_bdevs')
  .argument('[params...]', "a JSON object, or --key value pairs (values parsed as JSON when they are)")
  .option('-s, --socket <path>', 'Unix socket (default: the --node daemon\'s, or $NODESTOR_RPC_SOCKET)')
  .option('--node <name>', 'the daemon of this node: /var/tmp/nodestor-<name>.sock')
  .option('--tcp <host:port>', 'TCP instead of the Unix socket', hostPort)
  .option('--token-file <file>', 'the token for TCP')
  .option('--rpc-timeout <seconds>', 'give up after this long', positive, 60)
  .option('--request-id <id>', "the id the daemon logs this call under", (text: string) => {
    if (!isRequestId(text)) throw new InvalidArgumentError('1 to 128 letters, digits or ._:@/+=-');
    return text;
  })
  .allowUnknownOption(true)
  .action(async (method: string, rest: string[], o) => {
    const params = parseKeyValues(rest);
    const socketPath = o.socket ?? (o.node ? `/var/tmp/nodestor-${o.node}.sock` : process.env.NODESTOR_RPC_SOCKET);
    if (!o.tcp && !socketPath) throw new InvalidArgumentError('say which daemon: --node NAME, --socket PATH or --tcp HOST:PORT');
    const client = await RpcClient.connect({
      ...(o.tcp ? { tcp: o.tcp } : { socketPath }),
      ...(o.tokenFile ? { token: readFileSync(o.tokenFile, 'utf8').trim() } : {}),
      timeoutMs: o.rpcTimeout * 1000,
    });
    try {
      const result = await client.call(method, params, o.requestId ? { requestId: o.requestId } : {});
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } catch (error) {
      if (error instanceof RpcError) {
        process.stderr.write(`${JSON.stringify({ code: error.code, message: error.message, ...(error.data !== undefined ? { data: error.data } : {}) }, null, 2)}\n`);
        process.exitCode = 1;
      } else throw error;
    } finally {
      client.close();
    }
  });

program
  .command('control')
  .description('run a control plane: replicated volumes over the registered nodes, a REST API')
  .option('--store <store>', 'embedded:DIR or etcd://host:port[,host:port]', 'embedded:/var/lib/nodestor/control')
  .option('--listen <host:port>', 'the REST API', hostPort, { host: '127.0.0.1', port: 8080 })
  .option('--token-file <file>', 'require this Bearer token (needed to listen off loopback)')
  .option('--daemon-token-file <file>', "the token for daemons' RPC over TCP")
  .option('--node-ttl-ms <ms>', 'a node without a heartbeat this long is Offline', positive)
  .option('--reconcile-ms <ms>', 'how often the reconcilers run', positive)
  .option('--garbage-grace-ms <ms>', 'how long an unowned replica or nexus is left before it is destroyed', positive)
  .option('--child-digests', 'nexuses open remote replicas with NVMe/TCP header and data digests')
  .option('--election-ttl-ms <ms>', "on etcd: the leader's lease; a standby takes over within it", positive)
  .option('--log-level <level>', 'trace | debug | info | warn | error', 'info')
  .action(async (o) => {
    const { ControlPlane } = await import('../control/control-plane.js');
    const store = String(o.store);
    if (store.startsWith('embedded:')) (await import('node:fs')).mkdirSync(store.slice('embedded:'.length), { recursive: true });
    const plane = await ControlPlane.start({
      store,
      listen: o.listen,
      ...(o.tokenFile ? { token: readFileSync(o.tokenFile, 'utf8').trim() } : {}),
      ...(o.daemonTokenFile ? { daemonToken: readFileSync(o.daemonTokenFile, 'utf8').trim() } : {}),
      ...(o.nodeTtlMs ? { nodeTtlMs: o.nodeTtlMs } : {}),
      ...(o.reconcileMs ? { reconcileMs: o.reconcileMs } : {}),
      ...(o.garbageGraceMs ? { garbageGraceMs: o.garbageGraceMs } : {}),
      ...(o.electionTtlMs ? { electionTtlMs: o.electionTtlMs } : {}),
      ...(o.childDigests ? { childDigests: true } : {}),
      logLevel: o.logLevel,
    });
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return plane.log.warn({ signal }, 'already stopping; this signal changes nothing');
      stopping = true;
      plane.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

registerControlCommands(program);
registerPerfCommand(program);
registerBenchCommand(program);
registerClusterCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => reportAndExit(error, process.argv.includes('--debug')));
