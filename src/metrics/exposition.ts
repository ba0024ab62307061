// The Prometheus text format written directly, for families with thousands of samples
// (every bdev's iostat): prom-client hashes and formats each sample as an object, which
// for 1,000 bdevs costs more than the whole of the rest of a scrape.
const NEEDS_ESCAPE = /[\\"\n]/;

export function escapeLabelValue(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** A family's HELP and TYPE lines. */
export function familyHeader(name: string, help: string, type: 'counter' | 'gauge'): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}
