// A volume's target: the nexus on one node over the volume's replicas, the local replica
// as bdev:/// (unshared: a shared replica's bdev is claimed by its subsystem) and the
// others as nvmf:// with the target node's host NQN. Before a nexus uses a remote replica
// the replica is fenced: its allowlist becomes that host NQN alone, which ends every other
// host's connections, so an old nexus cut off behind a partition can no longer write.
import { REPLICA_NQN_PREFIX } from '../../rpc/methods/pools.js';
import { ControlError } from '../errors.js';
import { nodeErrorCode, type NodeClients } from '../registry/node-clients.js';
import type { Registry } from '../registry/registry.js';
import type { StoreNexusInfoStore } from '../store/nexus-info.js';
import { DEFAULTS, type ReplicaSpec, type VolumeSpec } from '../types.js';
import { localReplicaUri } from './volume-state.js';

/** nvmf:// child options: give up on a lost replica soon enough for the reconciler to act. */
const CHILD_OPTIONS = 'ctrl_loss_timeout_ms=3000&reconnect_delay_ms=250';

export class Targets {
  readonly #registry: Registry;
  readonly #clients: NodeClients;
  readonly #nexusInfo: StoreNexusInfoStore;

  readonly #childOptions: string;

  constructor(registry: Registry, clients: NodeClients, nexusInfo: StoreNexusInfoStore, options: { digests: boolean } = { digests: false }) {
    this.#registry = registry;
    this.#clients = clients;
    this.#nexusInfo = nexusInfo;
    this.#childOptions = options.digests ? `${CHILD_OPTIONS}&hdgst=1&ddgst=1` : CHILD_OPTIONS;
  }

  hostNqn(node: string): string {
    const view = this.#registry.node(node);
    if (!view) throw new ControlError('NotFound', `node ${node} is not registered`, { node });
    return view.spec.hostNqn;
  }

  /** Lets only `hostNqn` reach the replica, ending any other host's connections. */
  async fence(replica: ReplicaSpec, hostNqn: string): Promise<string> {
    const node = replica.node;
    const uri = await this.#clients.call<string>(node, 'replica_share', { uuid: replica.uuid!, allowed_hosts: [hostNqn] });
    const nqn = REPLICA_NQN_PREFIX + replica.uuid!;
    const [sub] = await this.#clients.call<{ hosts: { nqn: string }[]; allow_any_host: boolean }[]>(node, 'nvmf_get_subsystems', { nqn });
    const hosts = sub?.hosts.map((h) => h.nqn) ?? [];
    if (!hosts.includes(hostNqn)) await this.#clients.call(node, 'nvmf_subsystem_add_host', { nqn, host: hostNqn });
    if (sub?.allow_any_host !== false) await this.#clients.call(node, 'nvmf_subsystem_allow_any_host', { nqn, allow_any_host: false });
    for (const other of hosts.filter((h) => h !== hostNqn)) await this.#clients.call(node, 'nvmf_subsystem_remove_host', { nqn, host: other });
    return uri;
  }

  /** The URI the nexus on `targetNode` opens `replica` by, fencing a remote one first. */
  async childUri(replica: ReplicaSpec, targetNode: string): Promise<string> {
    if (replica.node === targetNode) {
      await this.#clients.call(replica.node, 'replica_unshare', { uuid: replica.uuid! });
      return localReplicaUri(replica);
    }
    const uri = await this.fence(replica, this.hostNqn(targetNode));
    return `${uri}?hostnqn=${encodeURIComponent(this.hostNqn(targetNode))}&${this.#childOptions}`;
  }

  /**
   * Makes and publishes the nexus on `node` (or finds it there). Only replicas the nexus
   * info records healthy are opened when there is a record: the rest are stale until
   * rebuilt, and the child reconciler adds them back with a rebuild.
   */
  async publish(spec: VolumeSpec, node: string, options: { port?: number | undefined; hosts?: string[] | undefined }): Promise<string> {
    if (!this.#registry.online(node)) throw new ControlError('NodeOffline', `node ${node} is offline`, { node });
    const existing = this.#registry.nexus(node, spec.uuid);
    if (existing?.device_uri) return existing.device_uri;
    if (!existing) {
      const usable = spec.replicaSet.filter((r) => r.uuid && this.#registry.online(r.node));
      const info = await this.#nexusInfo.load(spec.uuid);
      let trusted = usable;
      if (info) {
        const healthy = info.children.filter((c) => c.healthy);
        trusted = usable.filter((r) => healthy.some((c) => c.replica === r.uuid || c.uri.includes(r.uuid!) || c.uri === localReplicaUri(r)));
      }
      if (trusted.length === 0)
        throw new ControlError('Conflict', `volume ${spec.name}: no replica is known healthy and reachable; refusing to pick a stale one`, {
          volume: spec.name,
          replicas: spec.replicaSet.map((r) => ({ name: r.name, node: r.node, online: this.#registry.online(r.node) })),
        });
      // From here on only this node's nexus may write the record: an old one is fenced.
      await this.#nexusInfo.setOwner(spec.uuid, node);
      const children: string[] = [];
      for (const r of trusted) children.push(await this.childUri(r, node));
      try {
        await this.#clients.call(node, 'nexus_create', {
          name: spec.uuid,
          uuid: spec.uuid,
          size_bytes: spec.sizeBytes,
          children,
          ...(spec.ioTimeoutMs !== undefined ? { io_timeout_ms: spec.ioTimeoutMs } : {}),
        });
      } catch (error) {
        if (nodeErrorCode(error) !== 'EEXIST') throw error;
      }
    }
    const listener = this.#registry.node(node)!.spec;
    let uri: string;
    try {
      uri = await this.#clients.call<string>(node, 'nexus_publish', {
        name: spec.uuid,
        address: listener.replicaListener.address,
        port: options.port ?? listener.targetPort ?? DEFAULTS.targetPort,
        ...(options.hosts ? { allowed_hosts: options.hosts } : {}),
      });
    } catch (error) {
      if (nodeErrorCode(error) !== 'EEXIST') throw error;
      await this.#registry.refreshNode(node);
      uri = this.#registry.nexus(node, spec.uuid)?.device_uri ?? '';
    }
    await this.#registry.refreshNode(node);
    return uri;
  }

  /** Shuts the nexus down (clean flag persisted); nothing to do when it is gone already. */
  async destroy(spec: VolumeSpec, node: string): Promise<void> {
    if (!this.#registry.online(node)) return;
    try {
      await this.#clients.call(node, 'nexus_destroy', { name: spec.uuid });
    } catch (error) {
      if (nodeErrorCode(error) !== 'ENOENT') throw error;
    }
    await this.#registry.refreshNode(node);
  }

  /** A deleted volume's nexus record and owner go too. */
  async forget(spec: VolumeSpec): Promise<void> {
    await this.#nexusInfo.removeAs(spec.uuid, undefined);
    await this.#nexusInfo.clearOwner(spec.uuid);
  }

  async addChild(spec: VolumeSpec, replica: ReplicaSpec): Promise<void> {
    const node = spec.target!.node;
    const uri = await this.childUri(replica, node);
    try {
      await this.#clients.call(node, 'nexus_add_child', { name: spec.uuid, uri });
    } catch (error) {
      if (nodeErrorCode(error) !== 'EEXIST') throw error;
    }
  }

  async removeChild(spec: VolumeSpec, childUri: string): Promise<void> {
    try {
      await this.#clients.call(spec.target!.node, 'nexus_remove_child', { name: spec.uuid, uri: childUri });
    } catch (error) {
      if (nodeErrorCode(error) !== 'ENOENT') throw error;
    }
  }

  async onlineChild(spec: VolumeSpec, childUri: string): Promise<void> {
    await this.#clients.call(spec.target!.node, 'nexus_online_child', { name: spec.uuid, uri: childUri });
  }
}
