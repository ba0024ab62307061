// The Prometheus text format written directly, for families with thousands of samples
// (every bdev's iostat): prom-client hashes and formats each sample as an object, which
// for 1,000 bdevs costs more than the whole of the rest of a scrape.
export type SampleLabels = readonly (readonly [name: string, value: string])[];

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A family's HELP, TYPE and sample lines. */
export function renderFamily(name: string, help: string, type: 'counter' | 'gauge', samples: Iterable<readonly [SampleLabels, number]>): string {
  const lines = [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}} ${value}`);
  return `${lines.join('\n')}\n`;
}
