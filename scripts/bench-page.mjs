// The markdown page a benchmark writes with --docs (docs/speed-wasm.md, docs/speed-browser.md):
// its report headed by the command that wrote it, the date and the machine, so that a figure on
// the page says where it comes from and how to refresh it.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Writes `report` (lines of markdown) to `path` under `title`, headed by `command` (e.g. `npm run
 * bench --`, followed by this process's arguments) and the load average `loadAtStart`, since
 * other work on the machine slows every figure.
 */
export function writeBenchPage(path, { title, command, loadAtStart, report }) {
  const header = [
    `# ${title}`,
    '',
    `Written by \`${[command, ...process.argv.slice(2)].join(' ')}\` on ${new Date().toISOString().slice(0, 10)}, ` +
      `${process.arch}, ${availableParallelism()} cores, load average ${loadAtStart.toFixed(1)} at the start. ` +
      'Rerun it to refresh this page.',
    '',
  ];
  writeFileSync(path, [...header, ...report, ''].join('\n'));
}
