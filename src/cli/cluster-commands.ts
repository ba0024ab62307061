// `nodestor up cluster.yaml` deploys a cluster on this machine from its variables file and
// runs its benchmark matrix; `nodestor down cluster.yaml` stops and removes all of it.
import type { Command } from 'commander';

const say = (line: string) => process.stderr.write(`${line}\n`);

export function registerClusterCommands(program: Command): void {
  program
    .command('up')
    .description('deploy a cluster on this machine from a variables file (nodes, pools, volumes), then run its benchmark matrix and write a report')
    .argument('<file>', 'the cluster file (YAML); see examples/cluster-3-node.yaml')
    .option('--no-bench', 'deploy only; skip the benchmark')
    .option('--report <dir>', 'where the report goes (default <workdir>/report)')
    .action(async (file: string, o: { bench: boolean; report?: string }) => {
      const { readClusterSpec } = await import('../cluster/spec.js');
      const { up } = await import('../cluster/deploy.js');
      const spec = readClusterSpec(file);
      const state = await up(spec, say);
      if (o.bench && spec.benchmark) {
        const { runMatrix } = await import('../cluster/benchmark.js');
        await runMatrix(spec, state, spec.benchmark, o.report ?? `${spec.workdir}/report`);
      }
      say(`cluster ${spec.name} is up (control plane ${state.control!.url}); nodestor down ${file} stops it and removes ${spec.workdir}`);
      process.stdout.write(`${JSON.stringify({ control: state.control!.url, volumes: state.volumes }, null, 2)}\n`);
    });
  program
    .command('down')
    .description('stop every process nodestor up started for this cluster and remove its files and sockets')
    .argument('<file>', 'the cluster file given to nodestor up')
    .action(async (file: string) => {
      const { readClusterSpec } = await import('../cluster/spec.js');
      const { down } = await import('../cluster/deploy.js');
      await down(readClusterSpec(file).workdir, say);
    });
}
