// Native binding types for one area: js_nvmf.cc (target and discovery).
import type { NativeEngine } from './engine.js';

/** Public as SubsystemInfo; NativeSubsystemInfo is the binding's name for it. */
export interface SubsystemInfo {
  nqn: string;
  serial: string;
  model: string;
  allowAnyHost: boolean;
  maxNamespaces: number;
  hosts: string[];
  listeners: { address: string; port: number; anaState: 'optimized' | 'non_optimized' | 'inaccessible'; secureChannel: boolean }[];
  namespaces: { nsid: number; bdevName: string; uuid: string; nguid: string }[];
  controllers: number;
  /** The controllers hosts have made, with the listener each came in through. */
  controllerList: { cntlid: number; hostNqn: string; address: string; port: number; ioQueues: number[] }[];
}

/** Public as DiscoveryEntry; NativeDiscoveryEntry is the binding's name for it. */
export interface DiscoveryEntry {
  transport: string;
  addressFamily: string;
  subtype: string;
  address: string;
  port: string;
  nqn: string;
  portId: number;
}

/** What ended target connections (by cause) or refused a host, since the engine started. */
export interface NvmfErrorCounts {
  /** A malformed PDU or one out of sequence: the connection ended with a C2HTermReq. */
  protocol: number;
  headerDigest: number;
  dataDigest: number;
  /** Connect refused: the host is not on the subsystem's list. */
  hostRefused: number;
}

/** The functions of js_nvmf.cc. */
export interface NativeNvmfFunctions {
  /** NVMe-oF target (js_nvmf.cc); arguments validated by src/nvmf-target/. */
  nvmfCreateSubsystem(
    engine: NativeEngine,
    nqn: string,
    serial: string,
    model: string,
    allowAnyHost: boolean,
    hosts: string[],
    maxNamespaces: number,
  ): Promise<void>;
  nvmfDestroySubsystem(engine: NativeEngine, nqn: string): Promise<void>;
  nvmfAddNamespace(engine: NativeEngine, nqn: string, bdevName: string, nsid: number, uuid: string | null, nguid: string | null): Promise<number>;
  nvmfRemoveNamespace(engine: NativeEngine, nqn: string, nsid: number): Promise<void>;
  nvmfAddListener(engine: NativeEngine, nqn: string, address: string, port: number, secureChannel: boolean): Promise<number>;
  nvmfRemoveListener(engine: NativeEngine, nqn: string, address: string, port: number): Promise<void>;
  nvmfAddHost(engine: NativeEngine, nqn: string, host: string): Promise<void>;
  nvmfSetAllowAnyHost(engine: NativeEngine, nqn: string, allow: boolean): Promise<void>;
  nvmfRemoveHost(engine: NativeEngine, nqn: string, host: string): Promise<void>;
  nvmfSetHostKeys(engine: NativeEngine, nqn: string, host: string, dhchapKey: string | null, dhchapCtrlrKey: string | null): Promise<void>;
  nvmfSetHostPsk(engine: NativeEngine, nqn: string, host: string, psk: string | null): Promise<void>;
  nvmfSetDhchapPolicy(engine: NativeEngine, nqn: string, digests: string[], dhgroups: string[]): Promise<void>;
  nvmfSetAnaState(engine: NativeEngine, nqn: string, address: string, port: number, state: number): Promise<void>;
  nvmfList(engine: NativeEngine): Promise<NativeSubsystemInfo[]>;
  nvmfDiscover(engine: NativeEngine, address: string, port: number, hostNqn: string): Promise<NativeDiscoveryEntry[]>;
  nvmfHostNqn(): string;
  nvmfErrorCounts(engine: NativeEngine): Promise<NvmfErrorCounts>;
  /** ListNamespaces: a subsystem's active NSIDs (a controller connects, identifies, goes). */
  nvmfListNamespaces(engine: NativeEngine, address: string, port: number, subnqn: string, hostNqn: string, dhchapKey?: string | null, dhchapCtrlrKey?: string | null, psk?: string | null): Promise<number[]>;
  keyringAddKey(engine: NativeEngine, name: string, path: string): Promise<void>;
  keyringRemoveKey(engine: NativeEngine, name: string): Promise<void>;
  keyringListKeys(engine: NativeEngine): { name: string; path: string }[];
}
export type NativeSubsystemInfo = SubsystemInfo;
export type NativeDiscoveryEntry = DiscoveryEntry;
