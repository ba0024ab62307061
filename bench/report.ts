// What every benchmark does with its result: describe the machine, print the JSON on
// stdout, write it with its SVG charts and one self-contained HTML report (the charts
// inline, nothing to fetch) under the results folder, and end with a table of the figures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import cliProgress from 'cli-progress';

export function machine(): { cpus: number; model: string | undefined; node: string } {
  return { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
}

/** Charts by file suffix: '' is `<base>.svg`, 'iops' is `<base>-iops.svg`. */
export type Charts = Record<string, string>;

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The result's figures as [path, value] rows: numbers and short strings, arrays of scalars joined. */
export function figures(value: unknown, path = ''): [string, string][] {
  if (typeof value === 'number') return [[path, Number.isInteger(value) ? value.toLocaleString('en') : String(Math.round(value * 1000) / 1000)]];
  if (typeof value === 'boolean' || (typeof value === 'string' && value.length <= 80)) return path ? [[path, String(value)]] : [];
  if (Array.isArray(value)) {
    if (value.length <= 12 && value.every((v) => typeof v === 'number')) return [[path, value.join(', ')]];
    return value.flatMap((item, i) => figures(item, `${path}[${i}]`));
  }
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => figures(v, path ? `${path}.${k}` : k));
  return [];
}

function html(name: string, output: Record<string, unknown>, charts: Charts): string {
  const rows = figures(output)
    .filter(([path]) => !/^(machine|date|benchmark)\b/.test(path))
    .map(([path, value]) => `<tr><td>${escapeHtml(path)}</td><td>${escapeHtml(value)}</td></tr>`)
    .join('\n');
  const setup = typeof output.setup === 'string' ? output.setup : JSON.stringify(output.setup ?? '', null, 2);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nodestor bench ${escapeHtml(name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}td{padding:2px 10px;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
td:last-child{text-align:right}pre{background:#f6f6f6;padding:1em;overflow:auto}figure{margin:1em 0}</style></head>
<body><h1>nodestor bench: ${escapeHtml(name)}</h1>
<p>${escapeHtml(String(output.date ?? ''))} · ${escapeHtml(JSON.stringify(output.machine ?? {}))}</p>
<h2>Setup</h2><pre>${escapeHtml(setup)}</pre>
${Object.values(charts).map((svg) => `<figure>${svg}</figure>`).join('\n')}
<h2>Figures</h2><table>${rows}</table>
<details><summary>The whole result (JSON)</summary><pre>${escapeHtml(JSON.stringify(output, null, 2))}</pre></details>
</body></html>
`;
}

/**
 * Prints `output` as JSON on stdout and writes `<out>/<name>-<date>.json`, each chart, and
 * `<name>-<date>.html`; says on stderr which files it wrote, after a table of the figures.
 * Returns the path of the files without their endings.
 */
export function publish(out: string, name: string, output: { date: string }, charts: Charts = {}, options: { json?: boolean } = {}): string {
  if (options.json !== false) console.log(JSON.stringify(output, null, 2));
  mkdirSync(out, { recursive: true });
  const base = `${out}/${name}-${output.date.replace(/[:.]/g, '-')}`;
  const written = [`${base}.json`];
  writeFileSync(`${base}.json`, JSON.stringify(output, null, 2));
  for (const [suffix, svg] of Object.entries(charts)) {
    const file = `${base}${suffix ? `-${suffix}` : ''}.svg`;
    writeFileSync(file, svg);
    written.push(file);
  }
  writeFileSync(`${base}.html`, html(name, output as unknown as Record<string, unknown>, charts));
  written.push(`${base}.html`);
  const rows = figures(output).filter(([path]) => !/^(machine|date|benchmark|setup)\b/.test(path));
  const width = Math.min(60, Math.max(...rows.map(([p]) => p.length), 6));
  process.stderr.write(`\n${rows.map(([path, value]) => `${path.padEnd(width)}  ${value}`).join('\n')}\n\nwrote ${written.join(', ')}\n`);
  return base;
}

/** A progress bar on stderr (on a terminal; elsewhere a line every `every` steps). */
export function progressBar(total: number, what: string, options: { every?: number } = {}): { step(label: string): void; stop(): void } {
  if (!process.stderr.isTTY) {
    let done = 0;
    const every = options.every ?? 1;
    return {
      step: (label) => {
        if (++done % every === 0 || done === total) process.stderr.write(`[${done}/${total}] ${what}: ${label}\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar({ format: `${what} [{bar}] {value}/{total} {label}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { label: '' });
  return {
    step: (label) => bar.increment(1, { label }),
    stop: () => bar.stop(),
  };
}

/** Milliseconds summarised: count, median, p90 and max, to 0.1 ms. */
export function msStats(values: number[]): { n: number; medianMs: number; p90Ms: number; maxMs: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
  return { n: sorted.length, medianMs: at(0.5), p90Ms: at(0.9), maxMs: at(1) };
}
