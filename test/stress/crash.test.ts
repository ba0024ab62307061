import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, type Pool } from '../../src/index.js';
import { scratchDir, sparseFile } from '../helpers/files.js';

// kill -9 at random moments during writes, thin allocation, snapshot, clone, resize and
// destroy; after each kill a fresh engine imports the pool and checks that every
// acknowledged write reads back, that every acknowledged snapshot, clone, resize and
// destroy took effect, and that no cluster is referenced twice (pool.check()).
const CYCLES = Number(process.env.NODESTOR_CRASH_CYCLES ?? 50);
const worker = fileURLToPath(new URL('../fixtures/crash-worker.mjs', import.meta.url));
const scratch = scratchDir();
afterAll(() => scratch.cleanup());

// Each write to a block with the moments (line numbers) it began and was acknowledged.
// Writes to one block may overlap (a burst picks blocks at random), and overlapping writes
// may land in either order, so the block may hold any write that no acknowledged write
// began after; a write acknowledged before another began is overwritten by it.
type Write = { tag: number; began: number; acked?: number };
type Block = { writes: Write[] };
type Model = Map<string, Map<number, Block>>; // lvol -> block -> the writes it may hold

const settled = (tag: number): Block => ({ writes: [{ tag, began: -1, acked: -1 }] });

/** The tags the block may hold now. */
function possible(block: Block): number[] {
  const latestBegin = Math.max(-1, ...block.writes.filter((w) => w.acked !== undefined).map((w) => w.began));
  return block.writes.filter((w) => w.acked === undefined || w.acked >= latestBegin).map((w) => w.tag);
}

function blockOf(model: Model, lvol: string, b: number): Block {
  let blocks = model.get(lvol);
  if (!blocks) model.set(lvol, (blocks = new Map()));
  let entry = blocks.get(b);
  if (!entry) blocks.set(b, (entry = settled(0)));
  return entry;
}

function copyOf(blocks: Map<number, Block> | undefined): Map<number, Block> {
  const out = new Map<number, Block>();
  for (const [b, e] of blocks ?? []) out.set(b, { writes: e.writes.map((w) => ({ ...w })) });
  return out;
}

/** Runs the worker until a random moment after it is ready, kills it, returns its stdout lines. */
function runAndKill(disk: string, cycle: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, disk, String(cycle), String(cycle * 7919 + 17)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killTimer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!killTimer && out.includes('READY\n')) killTimer = setTimeout(() => child.kill('SIGKILL'), 50 + ((cycle * 37) % 400));
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') return reject(new Error(`worker exited by itself (code ${code}): ${err}`));
      // A line cut by the kill is not an acknowledgement.
      const lines = out.split('\n');
      lines.pop();
      resolve(lines);
    });
  });
}

function apply(model: Model, lines: string[], sizes: Map<string, number>, existence: Map<string, 'yes' | 'no' | 'maybe'>) {
  lines.forEach((line, at) => {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'B') blockOf(model, a!, Number(b)).writes.push({ tag: Number(c), began: at });
    else if (kind === 'W' || kind === 'F') {
      const e = blockOf(model, a!, Number(b));
      const write = e.writes.find((w) => w.tag === Number(c))!;
      if (kind === 'F') e.writes.splice(e.writes.indexOf(write), 1); // ENOSPC: it never landed
      else write.acked = at;
      // Forget the writes that can no longer be what the block holds.
      const still = new Set(possible(e));
      e.writes = e.writes.filter((w) => still.has(w.tag));
    }
    else if (kind === 'SB') {
      model.set(a!, copyOf(model.get('data')));
      existence.set(a!, 'maybe');
      sizes.set(a!, sizes.get('data')!);
    } else if (kind === 'S') existence.set(a!, 'yes');
    else if (kind === 'CB') {
      model.set(a!, copyOf(model.get(b!)));
      existence.set(a!, 'maybe');
      sizes.set(a!, sizes.get(b!)!);
    } else if (kind === 'C') existence.set(a!, 'yes');
    else if (kind === 'DB') existence.set(a!, 'maybe');
    else if (kind === 'D') existence.set(a!, 'no');
    else if (kind === 'RB') sizes.set('data', -Number(a)); // negative: either size
    else if (kind === 'R') sizes.set('data', Number(a));
  });
}

async function verify(pool: Pool, model: Model, sizes: Map<string, number>, existence: Map<string, 'yes' | 'no' | 'maybe'>) {
  const lvols = new Map((await pool.listLvols()).map((l) => [l.name, l]));
  for (const [name, state] of existence) {
    if (state === 'yes') expect(lvols.has(name), `acknowledged ${name} exists`).toBe(true);
    if (state === 'no') expect(lvols.has(name), `destroyed ${name} is gone`).toBe(false);
    existence.set(name, lvols.has(name) ? 'yes' : 'no');
    if (!lvols.has(name)) model.delete(name);
  }
  for (const [name, lvol] of lvols) {
    const size = sizes.get(name) ?? lvol.sizeBytes;
    if (size < 0) expect([-size, -size - (1 << 20)]).toContain(lvol.sizeBytes);
    else expect(lvol.sizeBytes, `size of ${name}`).toBe(size);
    sizes.set(name, lvol.sizeBytes);
    const data = await lvol.bdev.read(0, lvol.sizeBytes);
    const blocks = model.get(name) ?? new Map<number, Block>();
    for (let b = 0; b < lvol.sizeBytes / 4096; b++) {
      const tag = data.readUInt32LE(b * 4096);
      const allowed = possible(blocks.get(b) ?? settled(0));
      if (!allowed.includes(tag)) throw new Error(`${name} block ${b} holds write ${tag}; it may hold only [${allowed}]`);
      blocks.set(b, settled(tag)); // what the crash decided
    }
    model.set(name, blocks);
  }
}

describe('crash safety (kill -9 / import cycles)', () => {
  it(`${CYCLES} cycles: every acknowledged operation survives, the pool stays consistent`, async () => {
    const disk = sparseFile(scratch.dir, 'crash.img', 320 << 20);
    const model: Model = new Map();
    const sizes = new Map<string, number>([['data', 16 << 20]]);
    const existence = new Map<string, 'yes' | 'no' | 'maybe'>();
    let writesChecked = 0;
    let dirtyImports = 0;
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const lines = await runAndKill(disk, cycle);
      apply(model, lines, sizes, existence);
      writesChecked += lines.filter((l) => l.startsWith('W ')).length;
      const engine = await Engine.start({ memoryMb: 64, hugepages: 'off' });
      try {
        const pool = await engine.importPool({ disk: `uring://${disk}?blk_size=4096` });
        if (pool.importedDirty) dirtyImports++;
        await pool.check();
        await verify(pool, model, sizes, existence);
        await pool.export();
      } finally {
        await engine.stop();
      }
    }
    expect(dirtyImports).toBe(CYCLES); // every kill left the pool dirty, and every import recovered it
    expect(writesChecked).toBeGreaterThan(CYCLES * 10);
  }, 600_000);
});
