// The benchmark matrix of `nodestor up`: workload × block size × queue depth, each run for
// the given seconds from a host engine in this process against every published volume,
// like a fio job file. The report (JSON, SVG charts, HTML) compares the cases.
import { lineChart, type Series } from '../../bench/svg.js';
import { machine, progressBar, publish, type Charts } from '../../bench/report.js';
import type { BenchResult } from '../bench.js';
import type { ClusterState } from './deploy.js';
import type { BenchmarkMatrix, ClusterSpec } from './spec.js';

export interface BenchCase {
  volume: string;
  workload: string;
  blockSize: number;
  queueDepth: number;
  iops: number;
  mibps: number;
  latencyUs: BenchResult['latencyUs'];
  errors: number;
}

export async function runMatrix(spec: ClusterSpec, state: ClusterState, matrix: BenchmarkMatrix, outDir: string): Promise<{ base: string; cases: BenchCase[] }> {
  const { Engine } = await import('../engine.js');
  const host = await Engine.start({ cores: matrix.hostCores, memoryMb: 512, hugepages: 'auto', idle: 'poll' });
  const cases: BenchCase[] = [];
  try {
    const combos = matrix.workloads.flatMap((workload) => matrix.blockSizes.flatMap((blockSize) => matrix.queueDepths.map((queueDepth) => ({ workload, blockSize, queueDepth }))));
    const bar = progressBar(combos.length * state.volumes.length, 'benchmark');
    for (const volume of state.volumes) {
      const bdev = await host.createBdev(`${volume.uri}${volume.uri.includes('?') ? '&' : '?'}name=bench-${volume.name}`);
      try {
        for (const c of combos) {
          const r = await host.bench({ bdev, ...c, seconds: matrix.seconds, cores: matrix.hostCores, ...(c.workload === 'randrw' || c.workload === 'rw' ? { rwmixread: matrix.rwmixread } : {}) });
          cases.push({ volume: volume.name, ...c, iops: Math.round(r.iops), mibps: Math.round(r.mibps * 100) / 100, latencyUs: r.latencyUs, errors: r.errors });
          bar.step(`${volume.name} ${c.workload} ${c.blockSize} B QD ${c.queueDepth}: ${Math.round(r.iops).toLocaleString('en')} IOPS`);
        }
      } finally {
        await bdev.destroy();
      }
    }
    bar.stop();
  } finally {
    await host.stop();
  }
  const output = {
    benchmark: `cluster-${spec.name}`,
    setup: {
      nodes: spec.nodes.map((n) => `${n.name}: cores ${n.cores.join(',')}, ${n.memoryMb} MiB, idle adaptive`),
      pools: spec.pools.map((p) => `${p.node}/${p.name}: ${p.file ? `file ${p.file.path}, ${p.file.sizeMb} MiB (uring)` : `device ${p.device} (uring)`}`),
      volumes: spec.volumes.map((v) => `${v.name}: ${v.sizeBytes} bytes, ${v.replicas} replica(s)${v.thin ? ', thin' : ''}`),
      host: `an engine in the nodestor up process on cores ${matrix.hostCores.join(',')} (poll), NVMe/TCP over loopback`,
      matrix,
    },
    machine: machine(),
    date: new Date().toISOString(),
    cases,
  };
  // A chart per workload and block size: IOPS against queue depth, one line per volume.
  const charts: Charts = {};
  for (const workload of matrix.workloads)
    for (const blockSize of matrix.blockSizes) {
      const series: Series[] = state.volumes.map((v) => ({
        name: v.name,
        points: cases.filter((c) => c.volume === v.name && c.workload === workload && c.blockSize === blockSize).map((c) => [c.queueDepth, c.iops] as [number, number]),
      }));
      charts[`${workload}-${blockSize}`] = lineChart(`${spec.name}: ${workload}, ${blockSize} B`, 'queue depth', 'IOPS', series, `${matrix.seconds} s per case`);
    }
  return { base: publish(outDir, `cluster-${spec.name}`, output, charts, { json: false }), cases };
}
