// `npm run bench -- <benchmark> [options]`
import { parseArgs } from 'node:util';
import { jsIo } from './js-io.js';

const usage = `usage: npm run bench -- js-io [--seconds N] [--qd 32,64,128] [--bs 4096] [--idle poll|adaptive] [--core N] [--out DIR]`;

const [name, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    seconds: { type: 'string', default: '5' },
    qd: { type: 'string', default: '32,64,128' },
    bs: { type: 'string', default: '4096' },
    idle: { type: 'string', default: 'poll' },
    core: { type: 'string', default: '0' },
    out: { type: 'string', default: 'bench/results' },
  },
});

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!(n > 0)) {
    console.error(`${what} must be a positive number, got '${text}'\n${usage}`);
    process.exit(2);
  }
  return n;
}

if (name === 'js-io') {
  const idle = values.idle === 'adaptive' ? 'adaptive' : 'poll';
  await jsIo({
    seconds: positive(values.seconds, '--seconds'),
    queueDepths: values.qd.split(',').map((q) => positive(q, '--qd')),
    blockSize: positive(values.bs, '--bs'),
    idle,
    core: Number(values.core),
    out: values.out,
  });
} else {
  console.error(usage);
  process.exit(2);
}
