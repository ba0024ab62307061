// The soak's timeline as SVG: one row per kind of fault, a bar from its injection to the
// moment every volume was Online again (dark: the fault held; light: the recovery), red
// when the checks after it failed.
export interface TimelineEntry {
  kind: string;
  startS: number;
  healedS: number;
  onlineS: number;
  ok: boolean;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function timelineSvg(title: string, entries: TimelineEntry[], totalS: number): string {
  const kinds = [...new Set(entries.map((e) => e.kind))].sort();
  const left = 190, right = 30, top = 50, row = 22, bottom = 40;
  const width = 1000, height = top + kinds.length * row + bottom;
  const plotW = width - left - right;
  const x = (s: number) => left + (Math.min(s, totalS) / Math.max(totalS, 1)) * plotW;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16">${escape(title)}</text>`,
  ];
  kinds.forEach((kind, i) => {
    const y = top + i * row;
    parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${escape(kind)}</text>`);
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y + row - 1}" y2="${y + row - 1}" stroke="#eee"/>`);
    for (const e of entries.filter((f) => f.kind === kind)) {
      const held = e.ok ? '#1f77b4' : '#d62728';
      const recovery = e.ok ? '#9ecae1' : '#f4a3a3';
      parts.push(`<rect x="${x(e.startS)}" y="${y + 4}" width="${Math.max(1, x(e.healedS) - x(e.startS))}" height="${row - 8}" fill="${held}"><title>${escape(kind)} at ${e.startS.toFixed(1)} s</title></rect>`);
      parts.push(`<rect x="${x(e.healedS)}" y="${y + 4}" width="${Math.max(1, x(e.onlineS) - x(e.healedS))}" height="${row - 8}" fill="${recovery}"><title>Online ${(e.onlineS - e.healedS).toFixed(1)} s after</title></rect>`);
    }
  });
  const axisY = top + kinds.length * row + 16;
  for (let i = 0; i <= 10; i++) {
    const s = (totalS * i) / 10;
    parts.push(`<text x="${x(s)}" y="${axisY}" text-anchor="middle">${Math.round(s)}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${axisY + 18}" text-anchor="middle">seconds into the run</text>`, '</svg>');
  return parts.join('\n');
}
