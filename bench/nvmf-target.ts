// The target side of `npm run bench -- nvmf`, run as its own process: one engine on
// --core, a malloc namespace, a listener on a free loopback port (printed as JSON on
// stdout). It serves until stdin closes. With --tls-hosts nqn=pskfile,... (the TLS
// benchmark) those hosts connect over TLS with their PSK, and any other host in plain text.
import { parseArgs } from 'node:util';
import { Engine } from '../src/index.js';

const { values } = parseArgs({ options: { core: { type: 'string', default: '0' }, nqn: { type: 'string' }, 'tls-hosts': { type: 'string' } } });
const engine = await Engine.start({ cores: [Number(values.core)], memoryMb: 1024, hugepages: 'auto', idle: 'poll' });
await engine.createBdev('malloc:///bench?size_mb=512&blk_size=4096');
const sub = await engine.nvmf.createSubsystem({ nqn: values.nqn!, allowAnyHost: true });
await sub.addNamespace('bench');
for (const entry of values['tls-hosts']?.split(',') ?? []) {
  const [host, pskFile] = entry.split('=');
  await sub.addHost(host!, { psk: pskFile! });
}
const { port } = await sub.addListener({ address: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ port, hugepages: engine.info().memory.hugepages }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void engine.stop().then(() => process.exit(0));
});
