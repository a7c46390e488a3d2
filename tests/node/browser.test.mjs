// The web page at / in a real browser: Debian's headless Chromium driven by
// playwright-core against the real `coord serve` (two local workers). The
// page loads its files from the binary, shows one card per worker, streams
// a chat reply (greedy: the same text the API gives), keeps the
// conversation, and shows the throughput. Saves a screenshot to
// $LP_BIN/artifacts/serve-page.png.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { assertCleanExit, READY_TIMEOUT_MS, startServer } from './serve.mjs';

const CHROMIUM = process.env.LP_CHROMIUM || '/usr/bin/chromium';
// As root in a closed network: no sandbox, and none of Chromium's own
// connections (which this machine refuses, many at a time).
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STEP_MS = 180_000; // one wait on a loaded machine
const SKIP = existsSync(CHROMIUM) ? false
  : `no Chromium at ${CHROMIUM}: scripts/deps.sh installs Debian's chromium (or set LP_CHROMIUM)`;

let server;

before(async () => {
  server = await startServer();
}, { timeout: READY_TIMEOUT_MS + 60_000 });

after(async () => {
  if (server) assertCleanExit(assert, await server.stop());
}, { timeout: 120_000 });

test('serves the page and its files with their MIME types', { timeout: STEP_MS }, async () => {
  const want = {
    '/': 'text/html',
    '/index.html': 'text/html',
    '/assets/app.js': 'text/javascript',
    '/assets/style.css': 'text/css',
  };
  for (const [p, mime] of Object.entries(want)) {
    const r = await fetch(server.url + p);
    assert.equal(r.status, 200, `GET ${p}`);
    assert.match(r.headers.get('content-type') || '', new RegExp(`^${mime}`), `GET ${p}`);
    assert.ok((await r.text()).length > 100, `GET ${p} is nearly empty`);
  }
  assert.equal((await fetch(`${server.url}/assets/nothing.js`)).status, 404);
});

async function settings(page, maxTokens, temperature) {
  await page.click('#settings summary');
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#temperature', String(temperature));
}

// Send a message and wait for its streamed reply; returns its text and the
// number of deltas the page received.
async function chat(page, text) {
  const n = await page.locator('.message.assistant').count();
  await page.fill('#chat-input', text);
  await page.click('#send');
  const reply = page.locator('.message.assistant').nth(n);
  await reply.waitFor({ timeout: STEP_MS });
  await page.waitForFunction((i) => {
    const el = document.querySelectorAll('.message.assistant')[i];
    return el && el.dataset.state !== 'streaming';
  }, n, { timeout: STEP_MS });
  assert.equal(await reply.getAttribute('data-state'), 'done',
    `the reply ended as: ${await reply.textContent()}`);
  return {
    text: await reply.locator('.text').textContent(),
    chunks: Number(await reply.getAttribute('data-chunks')),
  };
}

test('chats with streamed replies and shows the pool', { skip: SKIP, timeout: 6 * STEP_MS }, async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    timeout: STEP_MS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(STEP_MS);
    const errors = [];
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
    const chatBodies = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/chat/completions')) chatBodies.push(JSON.parse(r.postData()));
    });

    const res = await page.goto(`${server.url}/`);
    assert.equal(res.status(), 200);

    // One card per worker, each alive and holding its layers.
    await page.waitForFunction(() => document.querySelectorAll('.worker-card[data-state="alive"]').length === 2);
    const pool = await (await fetch(`${server.url}/v1/pool`)).json();
    const names = await page.locator('.worker-card .name').allTextContents();
    assert.deepEqual(names, pool.workers.map((w) => w.name));
    for (const layers of await page.locator('.worker-card .layers').allTextContents()) {
      assert.match(layers, /^\d+–\d+ \(\d+ of \d+\)$/, `a card's layers: ${layers}`);
    }
    // No API key: the workers' addresses are not shown to anyone.
    const routes = await page.locator('.worker-card .route').allTextContents();
    assert.deepEqual(routes, ['shown with an API key', 'shown with an API key']);
    assert.equal(pool.workers[1].result_endpoint, undefined);
    await page.waitForFunction(() => document.querySelector('#model').textContent.includes('stories260K'));

    // A greedy reply, streamed: the same text the API answers in one piece.
    await settings(page, 40, 0);
    const first = await chat(page, 'Once upon a time');
    assert.ok(first.text.trim().length > 0, 'the reply is empty');
    assert.ok(first.chunks > 1, `the reply came in ${first.chunks} delta(s), not streamed`);
    const direct = await (await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...chatBodies[0], stream: false }),
    })).json();
    assert.equal(first.text, direct.choices[0].message.content);

    // The second turn carries the first.
    await chat(page, 'And then?');
    assert.equal(chatBodies.length, 2);
    assert.deepEqual(chatBodies[1].messages.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.equal(chatBodies[1].messages[1].content, first.text);

    // The tokens just generated show in the throughput.
    await page.waitForFunction(() => Number(document.querySelector('#tokps-peak').textContent) > 0);

    // Every control has a label.
    const unlabelled = await page.$$eval('input, textarea', (els) =>
      els.filter((e) => e.labels.length === 0).map((e) => e.id));
    assert.deepEqual(unlabelled, []);

    const dir = path.join(process.env.LP_BIN, 'artifacts');
    mkdirSync(dir, { recursive: true });
    const shot = path.join(dir, 'serve-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
