// The npm package as a user meets it: `npm pack`ed, installed from the tarball into a fresh
// project outside the repository (a copy of tests/support/tarball-app, with the model bundle in
// its public/models/), then run by a Node script, its page type-checked by tsc under `strict`
// with lib ES2022 + DOM, and built by `vite build` into a page that `vite preview` serves to
// headless Chromium. Needs dist/ (`npm run build`) and the model bundle (scripts/setup.sh); tsc
// and vite are the repository's pinned devDependencies, so nothing is downloaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { launchOptions } from '../browser/chromium.mjs';
import { BUNDLE_DIR } from '../support/bundle.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const tool = (name) => join(repo, 'node_modules/.bin', name);
const scratch = mkdtempSync(join(tmpdir(), 'tamis-tarball-'));
const project = join(scratch, 'app');
const installed = join(project, 'node_modules/tamis');
const inputs = JSON.parse(readFileSync(new URL('../support/tarball-app/public/inputs.json', import.meta.url), 'utf8'));
let packed;

/** Runs `command` in the project; its output, or a failure that shows it. */
function inProject(command, args) {
  return execFileSync(command, args, { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

before(() => {
  [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: repo, encoding: 'utf8' }));
  cpSync(new URL('../support/tarball-app/', import.meta.url), project, { recursive: true });
  cpSync(new URL('../../crates/tamis-cli/samples/policy.json', import.meta.url), join(project, 'public/policy.json'));
  cpSync(BUNDLE_DIR, join(project, 'public/models/minilm-l6-int8'), { recursive: true });
  inProject('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(scratch, packed.filename)]);
});

after(() => rmSync(scratch, { recursive: true, force: true }));

test('the tarball holds every export and source maps that carry their sources', () => {
  const files = new Set(packed.files.map((file) => file.path));
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  const targets = Object.values(manifest.exports).flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target)));
  for (const target of targets) assert.ok(files.has(target.replace(/^\.\//, '')), `${target} is in the tarball`);
  for (const priors of ['minilm-l6-int8', 'e5-small-q4']) {
    assert.ok(files.has(`dist/priors/${priors}.priors`), `the priors of ${priors} are in the tarball`);
  }
  const maps = [...files].filter((path) => path.endsWith('.map'));
  assert.ok(maps.length > 0, 'the package ships source maps');
  for (const path of maps) {
    const map = JSON.parse(readFileSync(join(installed, path), 'utf8'));
    assert.equal(map.sourcesContent?.length, map.sources.length, `${path} carries its sources`);
    assert.ok(map.sourcesContent.every((source) => typeof source === 'string' && source.length > 0), path);
  }
});

test('the packed package.json says where the project lives, its command and its side effects', () => {
  const files = new Set(packed.files.map((file) => file.path));
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  assert.match(manifest.repository?.url ?? '', /^git\+https:\/\/\S+\.git$/, 'repository.url');
  assert.match(manifest.homepage ?? '', /^https:\/\//, 'homepage');
  assert.ok(Array.isArray(manifest.keywords) && manifest.keywords.length > 0, 'keywords');
  assert.ok(manifest.keywords.every((keyword) => typeof keyword === 'string' && keyword.length > 0), 'keywords');
  const commands = Object.values(manifest.bin ?? {});
  assert.ok(commands.length > 0, 'bin names a command');
  // sideEffects as a list (not false): bundlers then keep the modules that register on import.
  assert.ok(Array.isArray(manifest.sideEffects) && manifest.sideEffects.length > 0, 'sideEffects is a list');
  for (const path of [...commands, ...manifest.sideEffects]) {
    assert.ok(files.has(path.replace(/^\.\//, '')), `${path} is in the tarball`);
  }
});

test('the tamis command comes with the package and names the models it fetches', () => {
  assert.match(inProject(join(project, 'node_modules/.bin/tamis'), ['models', 'list']), /minilm-l6-int8/);
});

test('a Node ESM script classifies and fuses with the installed package', () => {
  const output = JSON.parse(inProject(process.execPath, ['node-check.mjs']));
  assert.equal(output.hasPriors, true, "the installed package's priors (dist/priors/) were loaded");
  assert.equal(output.spam.action, 'hide', JSON.stringify(output.spam));
  assert.deepEqual(output.spam.labels, ['spam']);
  assert.equal(output.calm.action, null, JSON.stringify(output.calm));
  assert.equal(output.calm.harmful, false);

  const listed = [...new Set(inputs.lists.flatMap((list) => list.items.map((item) => item.id)))].sort();
  for (const fused of [output.fused, output.byContent]) {
    assert.deepEqual(fused.map((candidate) => candidate.id).sort(), listed, 'a permutation of the listed ids');
    for (const candidate of fused) {
      const positions = inputs.lists.map((list) => {
        const index = list.items.findIndex((item) => item.id === candidate.id);
        return index < 0 ? null : index + 1;
      });
      assert.deepEqual(candidate.evidence.positions, positions, candidate.id);
      assert.equal(candidate.evidence.agreement, positions.filter((p) => p !== null).length);
    }
  }
  // d1 and d2 are in both lists: reciprocal rank fusion puts them first.
  assert.deepEqual(output.fused.slice(0, 2).map((c) => c.id).sort(), ['d1', 'd2']);
  assert.ok(output.byContent.every((candidate) => candidate.content !== null), 'content-aware fusion used the model');
  const contentOf = Object.fromEntries(output.byContent.map((c) => [c.id, c.content]));
  assert.ok(contentOf.d4 > contentOf.d3, 'planets are nearer to the night sky than bread');
});

test('tsc --strict type-checks a user file against the shipped .d.ts and refuses wrong calls', () => {
  inProject(tool('tsc'), ['-p', 'tsconfig.json']);
  const wrong = spawnSync(tool('tsc'), ['-p', 'tsconfig.wrong.json'], { cwd: project, encoding: 'utf8' });
  assert.notEqual(wrong.status, 0, 'the wrong calls type-check');
  const errors = wrong.stdout.split('\n').filter((line) => / error TS\d+:/.test(line));
  assert.deepEqual(
    errors.map((line) => line.match(/^(\S+)\((\d+),/)?.slice(1, 3).join(':')),
    ['type-errors/wrong-call.ts:6', 'type-errors/wrong-call.ts:7'],
    wrong.stdout,
  );
});

test('a Vite app builds with the package and its page shows verdicts from the main thread and a worker', async () => {
  const build = spawnSync(process.execPath, [join(repo, 'node_modules/vite/bin/vite.js'), 'build'], { cwd: project, encoding: 'utf8' });
  const printed = build.stdout + build.stderr;
  assert.equal(build.status, 0, printed);
  assert.doesNotMatch(printed, /warn/i, 'the package needs no workaround in a Vite build');

  const server = await preview({ root: project, logLevel: 'silent', preview: { host: '127.0.0.1', port: 0, strictPort: true } });
  const browser = await chromium.launch(launchOptions);
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('response', (response) => response.status() >= 400 && problems.push(`${response.status()} ${response.url()}`));
    await page.goto(server.resolvedUrls.local[0]);
    await page.waitForFunction(() => document.querySelector('#status').textContent !== 'loading', null, { timeout: 120_000 });
    assert.equal(await page.textContent('#status'), 'done', problems.join('\n'));
    const shown = JSON.parse(await page.textContent('#results'));
    for (const thread of ['main', 'worker']) {
      const [spam, calm] = shown[thread];
      assert.equal(spam.action, 'hide', `${thread}: ${JSON.stringify(spam)}`);
      assert.equal(calm.action, null, `${thread}: ${JSON.stringify(calm)}`);
    }
    assert.equal(shown.fused.length, 4);
    assert.deepEqual(shown.priors, { main: true, worker: true }, 'Vite emitted the priors and both loads fetched them');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
