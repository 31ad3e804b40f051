// The soak's memory curve as a small SVG: wasm memory and RSS against calls.
//
//   node scripts/soak-chart.mjs TABLE.md TITLE OUT.svg
//
// reads the markdown table scripts/soak.mjs prints; soak.mjs --svg draws it directly.
import { readFileSync, writeFileSync } from 'node:fs';

/** Rows {calls, wasm, rss} (bytes) from the table soak.mjs prints. */
export function parseTable(markdown) {
  return markdown.split('\n')
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))
    .filter((cells) => cells.length === 4 && /^\d+$/.test(cells[0]))
    .map(([calls, wasm, rss]) => ({ calls: Number(calls), wasm: Number(wasm) * 2 ** 20, rss: Number(rss) * 2 ** 20 }));
}

/** Wasm memory and RSS against calls, as a small SVG line chart. */
export function chart(rows, title) {
  const [width, height, pad] = [640, 320, 48];
  const maxCalls = rows.at(-1).calls;
  const maxMiB = Math.max(...rows.map((row) => row.rss)) / 2 ** 20 * 1.15;
  const x = (calls) => pad + (calls / maxCalls) * (width - 2 * pad);
  const y = (bytes) => height - pad - (bytes / 2 ** 20 / maxMiB) * (height - 2 * pad);
  const line = (key, colour) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${rows.map((row) => `${x(row.calls).toFixed(1)},${y(row[key]).toFixed(1)}`).join(' ')}"/>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const mib = Math.round(maxMiB * f);
    return `<text x="${pad - 6}" y="${y(mib * 2 ** 20) + 4}" text-anchor="end">${mib}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="20" text-anchor="middle">tamis soak, ${title}: memory (MiB) over ${maxCalls} classify calls</text>
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#888"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="#888"/>
${ticks.join('\n')}
<text x="${pad}" y="${height - pad + 18}">0</text>
<text x="${width - pad}" y="${height - pad + 18}" text-anchor="end">${maxCalls} calls</text>
${line('rss', '#c0392b')}
${line('wasm', '#2471a3')}
<text x="${width - pad}" y="${y(rows.at(-1).rss) - 6}" text-anchor="end" fill="#c0392b">RSS</text>
<text x="${width - pad}" y="${y(rows.at(-1).wasm) - 6}" text-anchor="end" fill="#2471a3">wasm memory</text>
</svg>
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [table, title, out] = process.argv.slice(2);
  writeFileSync(out, chart(parseTable(readFileSync(table, 'utf8')), title));
  console.log(`wrote ${out}`);
}
