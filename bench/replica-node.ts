// A replica node of `npm run bench -- replicated`, as its own process: one engine on
// --core with --replicas pools on RAM disks, one thick lvol each, each lvol shared over
// NVMe/TCP as nqn.2019-05.io.nodestor:<lvol uuid> on one free loopback port (the URIs are
// printed as JSON on stdout). It serves until stdin closes.
import { parseArgs } from 'node:util';
import { Engine } from '../src/index.js';

const { values } = parseArgs({
  options: {
    core: { type: 'string', default: '0' },
    idle: { type: 'string', default: 'adaptive' },
    'size-mb': { type: 'string', default: '512' },
    replicas: { type: 'string', default: '1' },
  },
});
const sizeMb = Number(values['size-mb']);
const count = Number(values.replicas);
const engine = await Engine.start({
  cores: [Number(values.core)],
  memoryMb: count * (sizeMb + 64) + 256,
  hugepages: 'auto',
  idle: values.idle === 'poll' ? 'poll' : 'adaptive',
});
let port = 0;
const uris: string[] = [];
for (let i = 0; i < count; i++) {
  const pool = await engine.createPool({ name: `bench${i}`, disk: `malloc:///disk${i}?size_mb=${sizeMb + 64}&blk_size=4096` });
  const lvol = await pool.createLvol({ name: 'replica', sizeBytes: sizeMb << 20 });
  const nqn = `nqn.2019-05.io.nodestor:${lvol.uuid}`;
  const sub = await engine.nvmf.createSubsystem({ nqn, allowAnyHost: true, model: 'nodestor replica' });
  await sub.addNamespace(lvol.bdev.name, { uuid: lvol.uuid });
  port = (await sub.addListener({ address: '127.0.0.1', port })).port;
  uris.push(`nvmf://127.0.0.1:${port}/${nqn}`);
}
process.stdout.write(JSON.stringify({ uris, hugepages: engine.info().memory.hugepages }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void engine.stop().then(() => process.exit(0));
});
