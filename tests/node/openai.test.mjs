// The official OpenAI client (the `openai` npm package) against the real
// `coord serve` on a local pool of two workers: list models, complete a
// chat, stream a chat (greedy: the same text), and be refused without the
// API key.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { assertCleanExit, READY_TIMEOUT_MS, startServer } from './serve.mjs';

const API_KEY = 'lp-node-test-key';
const REQUEST_TIMEOUT_MS = 180_000;
const CHAT = {
  messages: [{ role: 'user', content: 'Tell me a story about a little dog.' }],
  max_tokens: 48,
  temperature: 0,
};

let server;
let client;
let model;

before(async () => {
  server = await startServer({ apiKey: API_KEY });
  client = new OpenAI({
    baseURL: `${server.url}/v1`,
    apiKey: API_KEY,
    timeout: REQUEST_TIMEOUT_MS,
    maxRetries: 0, // a retry would hide a failure
  });
}, { timeout: READY_TIMEOUT_MS + 60_000 });

after(async () => {
  if (server) assertCleanExit(assert, await server.stop());
}, { timeout: 120_000 });

test('lists the served model', { timeout: REQUEST_TIMEOUT_MS }, async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.equal(ids.length, 1, `models: ${ids}`);
  assert.match(ids[0], /stories260K/);
  model = ids[0];
});

test('completes a chat, then streams the same chat to the same text', { timeout: 2 * REQUEST_TIMEOUT_MS }, async () => {
  const done = await client.chat.completions.create({ model, ...CHAT });
  assert.equal(done.object, 'chat.completion');
  assert.equal(done.choices.length, 1);
  const choice = done.choices[0];
  assert.equal(choice.message.role, 'assistant');
  const text = choice.message.content;
  assert.equal(typeof text, 'string');
  assert.ok(text.trim().length > 0, 'the reply is empty');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), `finish_reason ${choice.finish_reason}`);
  assert.ok(done.usage.prompt_tokens > 0, 'usage.prompt_tokens');
  assert.ok(done.usage.completion_tokens > 0 && done.usage.completion_tokens <= CHAT.max_tokens,
    `usage.completion_tokens ${done.usage.completion_tokens}`);
  assert.equal(done.usage.total_tokens, done.usage.prompt_tokens + done.usage.completion_tokens);
  if (choice.finish_reason === 'length') assert.equal(done.usage.completion_tokens, CHAT.max_tokens);

  const stream = await client.chat.completions.create({ model, ...CHAT, stream: true });
  const deltas = [];
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    const c = chunk.choices[0];
    if (!c) continue; // a usage-only chunk
    if (c.delta.content) deltas.push(c.delta.content);
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(deltas.length > 1, `the reply came in ${deltas.length} delta(s), not streamed`);
  assert.equal(deltas.join(''), text, 'greedy: the streamed text equals the completed one');
  assert.equal(finish, choice.finish_reason);
});

test('is refused without the API key', { timeout: REQUEST_TIMEOUT_MS }, async () => {
  const stranger = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'wrong-key', maxRetries: 0,
    timeout: REQUEST_TIMEOUT_MS });
  await assert.rejects(stranger.chat.completions.create({ model, ...CHAT }), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `${err.constructor.name}: ${err.message}`);
    assert.equal(err.status, 401);
    return true;
  });
});
