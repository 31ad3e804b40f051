// How the browser tests start Debian's Chromium (playwright's own download cannot work here).
import { mkdirSync } from 'node:fs';

export const launchOptions = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
};

/** Where tests leave their screenshots. */
export function outputPath(name) {
  const folder = new URL('../../test-output/', import.meta.url);
  mkdirSync(folder, { recursive: true });
  return new URL(name, folder).pathname;
}
