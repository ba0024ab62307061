// `npm run bench -- <benchmark> [options]` and `nodestor bench <benchmark> [options]`. Each
// benchmark's module is loaded only when it runs.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const usage = `usage:
  npm run bench -- bdevperf [--bdev malloc|null|uring:/path|aio:/path] [--workload randread|randwrite|read|write|randrw|rw]
                            [--bs 4096] [--qd 128] [--seconds 10] [--cores 0[,1]] [--idle poll|adaptive] [--verify] [--suite]
  npm run bench -- js-io [--seconds 5] [--qd 32,64,128] [--bs 4096] [--idle poll|adaptive] [--core 0]
  npm run bench -- js-batch [--seconds 3] [--bs-batch 256] [--qd 1,2,4,8] [--core 0]   (--qd: batches in flight)
  npm run bench -- micro [--core 0]
  npm run bench -- lvol [--seconds 5] [--core 0]
  npm run bench -- uring-vs-fio [--file /var/tmp/nodestor-bench.img] [--size-mb 2048] [--seconds 10] [--qd 32] [--core 0]
  npm run bench -- nvmf [--seconds 3] [--trials 5] [--cores 0,1]   (target core, host core; a fresh target per trial)
  npm run bench -- nexus [--seconds 3] [--core 0]
  npm run bench -- replicated [--seconds 3] [--trials 3] [--cores 0,1] [--read-policy least-loaded|round-robin] [--replica-processes 1|2]
                            (replica core, volume core; 3-replica nexus vs one remote replica)
  npm run bench -- rpc [--calls 10000] [--cycles 1000] [--core 0]   (JSON-RPC calls/s to a daemon process, depth 1 and 32)
  npm run bench -- control [--trials 20] [--volumes 1000] [--core 0]   (create+publish latency, heal time, reconcile pass)
  npm run bench -- metrics [--bdevs 1000] [--scrapes 50] [--trials 5] [--seconds 3] [--core 0]
                            (scrape time of a daemon with that many bdevs; nexus reads with and without scrapes, --trials rounds each)
  npm run bench -- tls [--seconds 3] [--trials 3] [--connects 10] [--cores 0,1]   (4 KiB random read QD32 and 128 KiB read over TLS 1.3 with both suites, against plain text; connect time with and without TLS)
  npm run bench -- dhchap [--trials 20] [--core 0]   (connect time with DH-HMAC-CHAP per DH group, one way and both ways, against none)
  (results: JSON on stdout; JSON, SVG charts and an HTML report under --out, default bench/results)`;

/** A mistake in the benchmark's arguments: the usage is printed, exit code 2. */
export class BenchUsageError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

/** Runs benchmark `name` with its options (what follows the name on the command line). */
export async function runBench(name: string | undefined, rest: string[]): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: {
      bdev: { type: 'string', default: 'malloc' },
      workload: { type: 'string', default: 'randread' },
      seconds: { type: 'string' },
      qd: { type: 'string' },
      bs: { type: 'string', default: '4096' },
      cores: { type: 'string', default: '0' },
      core: { type: 'string', default: '0' },
      idle: { type: 'string', default: 'poll' },
      verify: { type: 'boolean', default: false },
      suite: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/results' },
      file: { type: 'string', default: '/var/tmp/nodestor-bench.img' },
      'bs-batch': { type: 'string', default: '256' },
      'size-mb': { type: 'string', default: '2048' },
      trials: { type: 'string' },
      'read-policy': { type: 'string', default: 'least-loaded' },
      'replica-processes': { type: 'string', default: '1' },
      calls: { type: 'string', default: '10000' },
      cycles: { type: 'string', default: '1000' },
      volumes: { type: 'string', default: '1000' },
      bdevs: { type: 'string', default: '1000' },
      scrapes: { type: 'string', default: '50' },
      connects: { type: 'string', default: '10' },
    },
  });

  function positive(text: string, what: string): number {
    const n = Number(text);
    if (!(n > 0)) throw new BenchUsageError(`${what} must be a positive number, got '${text}'`);
    return n;
  }

  const idle = values.idle === 'adaptive' ? 'adaptive' : 'poll';
  if (name === 'nvmf') {
    // --cores target,host (default 0,1: the --cores default '0' means "not given" here).
    const [targetCore = 0, hostCore = 1] = values.cores === '0' ? [] : values.cores.split(',').map(Number);
    await (await import('./nvmf.js')).nvmfBench({
      seconds: positive(values.seconds ?? '3', '--seconds'),
      trials: positive(values.trials ?? '5', '--trials'),
      targetCore,
      hostCore,
      out: values.out,
    });
  } else if (name === 'replicated') {
    const [replicaCore = 0, hostCore = 1] = values.cores === '0' ? [] : values.cores.split(',').map(Number);
    const policy = values['read-policy'];
    if (policy !== 'least-loaded' && policy !== 'round-robin') {
      throw new BenchUsageError('--read-policy must be least-loaded or round-robin');
    }
    await (await import('./replicated.js')).replicatedBench({
      seconds: positive(values.seconds ?? '3', '--seconds'),
      trials: positive(values.trials ?? '3', '--trials'),
      replicaCore,
      hostCore,
      readPolicy: policy,
      replicaProcesses: values['replica-processes'] === '2' ? 2 : 1,
      out: values.out,
    });
  } else if (name === 'control') {
    await (await import('./control.js')).controlBench({ trials: positive(values.trials ?? '20', '--trials'), volumes: positive(values.volumes, '--volumes'), core: Number(values.core), out: values.out });
  } else if (name === 'metrics') {
    await (await import('./metrics.js')).metricsBench({
      bdevs: positive(values.bdevs, '--bdevs'),
      scrapes: positive(values.scrapes, '--scrapes'),
      rounds: positive(values.trials ?? '5', '--trials'),
      seconds: positive(values.seconds ?? '3', '--seconds'),
      core: Number(values.core),
      out: values.out,
    });
  } else if (name === 'tls') {
    const [targetCore = 0, hostCore = 1] = values.cores === '0' ? [] : values.cores.split(',').map(Number);
    await (await import('./tls.js')).tlsBench({
      seconds: positive(values.seconds ?? '3', '--seconds'),
      trials: positive(values.trials ?? '3', '--trials'),
      connects: positive(values.connects, '--connects'),
      targetCore,
      hostCore,
      out: values.out,
    });
  } else if (name === 'dhchap') {
    await (await import('./dhchap.js')).dhchapBench({ trials: positive(values.trials ?? '20', '--trials'), core: Number(values.core), out: values.out });
  } else if (name === 'rpc') {
    await (await import('./rpc.js')).rpcBench({ calls: positive(values.calls, '--calls'), cycles: positive(values.cycles, '--cycles'), core: Number(values.core), out: values.out });
  } else if (name === 'nexus') {
    await (await import('./nexus.js')).nexusBench({ seconds: positive(values.seconds ?? '3', '--seconds'), core: Number(values.core), out: values.out });
  } else if (name === 'bdevperf') {
    const workloads = ['randread', 'randwrite', 'read', 'write', 'randrw', 'rw'] as const;
    const workload = workloads.find((w) => w === values.workload);
    if (!workload) {
      throw new BenchUsageError(`--workload must be one of ${workloads.join(', ')}`);
    }
    await (await import('./bdevperf.js')).bdevperf({
      bdev: values.bdev,
      workload,
      blockSize: positive(values.bs, '--bs'),
      queueDepth: positive(values.qd ?? '128', '--qd'),
      seconds: positive(values.seconds ?? (values.suite ? '2' : '10'), '--seconds'),
      cores: values.cores.split(',').map((c) => Number(c)),
      idle,
      verify: values.verify,
      suite: values.suite,
      out: values.out,
    });
  } else if (name === 'js-io') {
    await (await import('./js-io.js')).jsIo({
      seconds: positive(values.seconds ?? '5', '--seconds'),
      queueDepths: (values.qd ?? '32,64,128').split(',').map((q) => positive(q, '--qd')),
      blockSize: positive(values.bs, '--bs'),
      idle,
      core: Number(values.core),
      out: values.out,
    });
  } else if (name === 'uring-vs-fio') {
    await (await import('./uring-vs-fio.js')).uringVsFio({
      file: values.file,
      sizeMb: positive(values['size-mb'], '--size-mb'),
      seconds: positive(values.seconds ?? '10', '--seconds'),
      queueDepth: positive(values.qd ?? '32', '--qd'),
      core: Number(values.core),
      out: values.out,
    });
  } else if (name === 'js-batch') {
    await (await import('./js-batch.js')).jsBatch({
      seconds: positive(values.seconds ?? '3', '--seconds'),
      batchSize: positive(values['bs-batch'], '--bs-batch'),
      batchesInFlight: (values.qd ?? '1,2,4,8').split(',').map((q) => positive(q, '--qd')),
      core: Number(values.core),
      out: values.out,
    });
  } else if (name === 'lvol') {
    await (await import('./lvol.js')).lvolBench({ seconds: positive(values.seconds ?? '5', '--seconds'), core: Number(values.core), out: values.out });
  } else if (name === 'micro') {
    await (await import('./micro.js')).micro(values.out, Number(values.core));
  } else {
    throw new BenchUsageError(name ? `no benchmark '${name}'` : 'which benchmark?');
  }
}

// `npm run bench -- <name>` (node dist/bench/cli.js); `nodestor bench <name>` imports runBench.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [name, ...rest] = process.argv.slice(2);
  runBench(name, rest).catch((error: Error & { code?: string }) => {
    // A mistake in the arguments (the usage was printed) or a refusal: the message, no stack.
    const usageError = error instanceof RangeError || String(error.code).startsWith('ERR_PARSE_ARGS');
    console.error(usageError ? `${error.message}\n${usage}` : error.name === 'NodestorError' ? error.message : error.stack);
    process.exit(usageError ? 2 : 1);
  });
}
