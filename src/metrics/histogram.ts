// A Prometheus histogram whose buckets come from the engine's own latency histogram (read
// on scrape): prom-client's Histogram counts observations itself, and nothing here is
// counted per I/O in JavaScript.
import type { MetricObjectWithValues, MetricValueWithName } from 'prom-client';
import { LATENCY_BOUNDS_SECONDS, type IoTypeStats } from '../bdev/stats.js';

export interface EngineHistogramSample {
  labels: Record<string, string>;
  stats: IoTypeStats;
}

export class EngineHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly samples: () => Promise<EngineHistogramSample[]>,
  ) {}

  async get(): Promise<Omit<MetricObjectWithValues<MetricValueWithName<string>>, 'collect'>> {
    const values: MetricValueWithName<string>[] = [];
    for (const { labels, stats } of await this.samples()) {
      LATENCY_BOUNDS_SECONDS.forEach((le, i) => values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: String(le) }, value: stats.latencyCumulative[i] ?? 0 }));
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: stats.ops });
      values.push({ metricName: `${this.name}_sum`, labels, value: stats.latencySumSeconds });
      values.push({ metricName: `${this.name}_count`, labels, value: stats.ops });
    }
    return { name: this.name, help: this.help, type: this.type as never, aggregator: this.aggregator, values };
  }

  // prom-client calls these on registered metrics.
  reset(): void {}
}
