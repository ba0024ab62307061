// What the REST routes drive: the control plane's services, without the plane itself.
import type { Registry as MetricsRegistry } from 'prom-client';
import type { EventLog } from '../events.js';
import type { Registry } from '../registry/registry.js';
import type { Pools } from '../services/pools.js';
import type { Snapshots } from '../services/snapshots.js';
import type { Volumes } from '../services/volumes.js';
import type { StoreNexusInfoStore } from '../store/nexus-info.js';

export interface ApiServices {
  registry: Registry;
  pools: Pools;
  volumes: Volumes;
  snapshots: Snapshots;
  nexusInfo: StoreNexusInfoStore;
  /** Asks the reconcilers for a pass (a node came or went). */
  reconcileSoon(): void;
  events: EventLog;
  /** Prometheus metrics, computed on scrape. */
  metrics(): MetricsRegistry;
  status(): { leader: boolean; store: string; reconcile: { passes: number; lastMs: number; errors: number } };
}
