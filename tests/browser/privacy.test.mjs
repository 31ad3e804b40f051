// Privacy in Chromium: once the bytes are handed over, the whole API, on the page and in a
// worker, makes no request: JS traps on fetch, XMLHttpRequest, sendBeacon, WebSocket,
// EventSource and worker creation, and every request the browser itself sees (which covers
// dynamic import() and requests from workers) is recorded. On the cpu backend, and on the gpu
// backend (WebGPU on SwiftShader, with --enable-unsafe-webgpu).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer } from '../support/serve.mjs';
import { launchOptions } from './chromium.mjs';

const { server, origin } = await startServer({
  routes: { '/dist/': 'dist/', '/models/': 'models/', '/samples/': 'crates/tamis-cli/samples/', '/tests/browser/': 'tests/browser/' },
});
const browser = await chromium.launch(launchOptions);
const withWebGpu = await chromium.launch({ ...launchOptions, args: [...launchOptions.args, '--enable-unsafe-webgpu'] });
after(async () => {
  await Promise.all([browser.close(), withWebGpu.close()]);
  server.close();
});

for (const [backend, host] of [['auto', browser], ['gpu', withWebGpu]]) {
  test(`no request once the model bytes are handed over, on the page or in a worker (backend ${backend})`, async () => {
    const context = await host.newContext();
    const page = await context.newPage();
    const afterHandover = [];
    context.on('request', async (request) => {
      if (await page.evaluate(() => window.armed === true).catch(() => false)) afterHandover.push(request.url());
    });
    await page.goto(`${origin}/tests/browser/privacy.html`);
    await page.waitForFunction(() => window.ready === true);
    const trapped = await page.evaluate((b) => window.run(b), backend);
    assert.deepEqual(trapped, []);
    assert.deepEqual(afterHandover, []);
    await context.close();
  });
}
