// Where a daemon keeps each nexus's child health and clean-shutdown flag, so a nexus made
// again after a crash opens only the children that were healthy. Pluggable: the default is
// one JSON file per nexus, written with fsync and an atomic rename; the control plane
// brings a shared store.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NexusPersistInfo } from '../nexus/nexus.js';

/**
 * What is kept: the nexus's record, each child also named by its replica's UUID when it
 * is a nodestor replica (a local lvol, or a replica shared as ...:<uuid>), so a nexus made
 * on another node, which reaches the same replicas by other URIs, knows which are healthy.
 */
export interface StoredNexusInfo extends Omit<NexusPersistInfo, 'children'> {
  children: { uri: string; healthy: boolean; replica?: string }[];
}

export interface NexusInfoStore {
  save(info: StoredNexusInfo): Promise<void>;
  load(uuid: string): Promise<StoredNexusInfo | undefined>;
  remove(uuid: string): Promise<void>;
}

const SHARED_REPLICA = /nqn\.2019-05\.io\.nodestor:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[?]|$)/;

/** The replica UUID a child URI reaches, if it is a nodestor replica; `localLvol` resolves bdev:///pool/name. */
export function replicaOf(uri: string, localLvol: (name: string) => string | undefined): string | undefined {
  const shared = SHARED_REPLICA.exec(uri);
  if (shared) return shared[1];
  return uri.startsWith('bdev:///') ? localLvol(decodeURIComponent(uri.slice('bdev:///'.length))) : undefined;
}

export class FileNexusInfoStore implements NexusInfoStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  #path(uuid: string): string {
    if (!/^[0-9a-f-]{36}$/i.test(uuid)) throw new RangeError(`not a nexus uuid: ${uuid}`);
    return join(this.dir, `${uuid}.json`);
  }

  async save(info: StoredNexusInfo): Promise<void> {
    const path = this.#path(info.uuid);
    const temp = `${path}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(info));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    const dirFd = openSync(this.dir, 'r'); // the rename itself must be durable
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  async load(uuid: string): Promise<StoredNexusInfo | undefined> {
    try {
      return JSON.parse(readFileSync(this.#path(uuid), 'utf8')) as StoredNexusInfo;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async remove(uuid: string): Promise<void> {
    rmSync(this.#path(uuid), { force: true });
  }
}
