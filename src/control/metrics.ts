// The control plane's Prometheus metrics, computed on scrape from the specs and the
// registry: each volume's state, replica counts desired and actual, its target node, the
// nodes' status, and the count and time of reconcile passes.
import { Counter, Gauge, Registry } from 'prom-client';
import type { ReconcileRunner } from './reconcilers/reconciler.js';
import type { Registry as NodeRegistry } from './registry/registry.js';
import type { Volumes } from './services/volumes.js';

const VOLUME_STATES = ['Online', 'Degraded', 'Faulted', 'Unknown'] as const;

export function controlMetrics(volumes: Volumes, nodes: NodeRegistry, runner: ReconcileRunner): Registry {
  const registry = new Registry();
  const list = () => volumes.list();
  new Gauge({
    name: 'nodestor_control_volume_state',
    help: 'A volume in this state (1), the others 0',
    labelNames: ['volume', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await list()) for (const state of VOLUME_STATES) this.set({ volume: v.spec.name, state }, v.state.status === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'nodestor_control_volume_replicas_desired',
    help: 'The replica count a volume should have',
    labelNames: ['volume'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await list()) this.set({ volume: v.spec.name }, v.spec.replicas);
    },
  });
  new Gauge({
    name: 'nodestor_control_volume_replicas_online',
    help: 'A volume’s replicas that are Online now',
    labelNames: ['volume'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await list()) this.set({ volume: v.spec.name }, v.state.replicas.filter((r) => r.status === 'Online').length);
    },
  });
  new Gauge({
    name: 'nodestor_control_volume_target',
    help: 'A published volume’s target node (1)',
    labelNames: ['volume', 'node'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await list()) if (v.spec.target) this.set({ volume: v.spec.name, node: v.spec.target.node }, 1);
    },
  });
  new Gauge({
    name: 'nodestor_control_node_online',
    help: 'Whether a registered node is Online (1) or Offline (0)',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of nodes.nodes()) this.set({ node: n.spec.name }, n.status === 'Online' ? 1 : 0);
    },
  });
  new Counter({
    name: 'nodestor_control_reconcile_passes_total',
    help: 'Reconcile passes run while leading',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(runner.stats.passes);
    },
  });
  new Counter({
    name: 'nodestor_control_reconcile_seconds_total',
    help: 'Time spent in reconcile passes',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(runner.stats.totalMs / 1000);
    },
  });
  new Gauge({
    name: 'nodestor_control_reconcile_last_pass_seconds',
    help: 'How long the last reconcile pass took',
    registers: [registry],
    collect() {
      this.set(runner.stats.lastMs / 1000);
    },
  });
  return registry;
}
