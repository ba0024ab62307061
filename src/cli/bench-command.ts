// `nodestor bench <name> [options]`: the benchmarks of `npm run bench`, from the installed
// package (dist/bench ships with it). Each writes JSON, its SVG charts and an HTML report
// under --out (default ./nodestor-bench-results) and ends with a table of its figures.
import type { Command } from 'commander';
import { runBench, usage } from '../../bench/cli.js';

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run a benchmark: bdevperf, nvmf, nexus, replicated, control, metrics and more (see --help)')
    .argument('<name>', 'the benchmark')
    .argument('[options...]', "the benchmark's options, as listed below")
    .allowUnknownOption(true)
    .addHelpText('after', `\n${usage.replaceAll('npm run bench --', 'nodestor bench').replace('default bench/results', 'default ./nodestor-bench-results')}`)
    .action(async (name: string, options: string[]) => {
      // Results go beside the user, not into the installed package.
      const out = options.includes('--out') ? [] : ['--out', 'nodestor-bench-results'];
      await runBench(name, [...options, ...out]);
    });
}
