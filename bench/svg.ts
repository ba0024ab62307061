// A small line-chart writer for benchmark results: no dependency, plain SVG.
export interface Series {
  name: string;
  points: [number, number][];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** X values are placed evenly by rank (queue depths 1, 2, 4 ... read best that way). */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], subtitle = ''): string {
  const width = 720, height = 420, left = 90, right = 160, top = 60, bottom = 60;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => p[1]))));
  const plotW = width - left - right, plotH = height - top - bottom;
  const xPos = (x: number) => left + (xs.length === 1 ? plotW / 2 : (xs.indexOf(x) / (xs.length - 1)) * plotW);
  const yPos = (y: number) => top + plotH - (y / yMax) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16">${escape(title)}</text>`,
    `<text x="${width / 2}" y="42" text-anchor="middle" fill="#555">${escape(subtitle)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${yPos(y)}" y2="${yPos(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 8}" y="${yPos(y) + 4}" text-anchor="end">${Math.round(y).toLocaleString('en')}</text>`);
  }
  for (const x of xs) {
    parts.push(`<text x="${xPos(x)}" y="${top + plotH + 18}" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${height - 16}" text-anchor="middle">${escape(xLabel)}</text>`);
  parts.push(
    `<text transform="translate(20 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const path = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${xPos(p[0]).toFixed(1)},${yPos(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const p of s.points) parts.push(`<circle cx="${xPos(p[0])}" cy="${yPos(p[1])}" r="3" fill="${colour}"/>`);
    parts.push(`<rect x="${left + plotW + 16}" y="${top + i * 20}" width="12" height="12" fill="${colour}"/>`);
    parts.push(`<text x="${left + plotW + 34}" y="${top + i * 20 + 10}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
