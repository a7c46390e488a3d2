// layerpool's page: a chat that streams its replies from
// /v1/chat/completions (Server-Sent Events), and a view of the pool polled
// from /v1/pool once a second. No framework, no build step.
'use strict';

const HISTORY_SECONDS = 300; // how much throughput the sparkline shows
const POLL_MS = 1000;

const $ = (id) => document.getElementById(id);

const state = {
  model: null,      // the id /v1/models lists first
  messages: [],     // the conversation so far, as the API takes it
  abort: null,      // the AbortController of the reply in flight
  samples: [],      // tok/s once a second, oldest first (null: no reading)
  cards: new Map(), // worker name -> its card element
  lastCompute: new Map(), // worker name -> {s: busy_s, t: ms} at the last poll
  polling: false,   // a poll of /v1/pool is in flight
};

// ---- talking to the server ------------------------------------------------

function headers(extra) {
  const h = Object.assign({}, extra);
  const key = $('api-key').value.trim();
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

// The message of an OpenAI-shaped error body, else the status and text.
async function errorText(r) {
  const text = await r.text();
  try {
    return JSON.parse(text).error.message;
  } catch (e) {
    return `${r.status} ${r.statusText} ${text}`.trim();
  }
}

async function getJSON(path) {
  const r = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (r.status === 401) throw new Error(`${path}: ${await errorText(r)} (enter the API key under Settings)`);
  if (!r.ok) throw new Error(`${path}: ${await errorText(r)}`);
  return r.json();
}

// Server-Sent Events: an event ends at a blank line, and its "data:" lines
// joined by newlines are its payload. Yields each payload as it arrives.
async function* sseData(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const blank = /\r?\n\r?\n/;
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let m;
    while ((m = blank.exec(buf))) {
      const event = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      const data = event.split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (data.length) yield data.join('\n');
    }
  }
}

// ---- chat -----------------------------------------------------------------

function addMessage(role, text) {
  const el = document.createElement('div');
  el.className = `message ${role}`;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  el.append(body);
  $('messages').append(el);
  scrollDown();
  return el;
}

function scrollDown() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

function setMeta(el, text) {
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = text;
  el.append(meta);
}

function setBusy(busy) {
  $('send').disabled = busy;
  $('stop').disabled = !busy;
}

function chatRequest() {
  const msgs = [];
  const system = $('system-prompt').value.trim();
  if (system) msgs.push({ role: 'system', content: system });
  const req = {
    messages: msgs.concat(state.messages),
    stream: true,
    max_tokens: Number($('max-tokens').value) || 128,
    temperature: Number($('temperature').value),
  };
  if (state.model) req.model = state.model;
  return req;
}

// Send the user's text and stream the reply into a new message. The
// message's data-state goes streaming -> done | stopped | error, and
// data-chunks counts the deltas received (tests read both).
async function send(text) {
  state.messages.push({ role: 'user', content: text });
  addMessage('user', text);
  const el = addMessage('assistant', '');
  const out = el.querySelector('.text');
  el.dataset.state = 'streaming';
  el.dataset.chunks = '0';
  const ctl = new AbortController();
  state.abort = ctl;
  setBusy(true);
  if (!state.model) await loadModel(); // the server may have been loading at first
  const t0 = performance.now();
  let reply = '';
  let chunks = 0;
  let finish = null;
  let firstMs = null;
  try {
    const r = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(chatRequest()),
      signal: ctl.signal,
    });
    if (!r.ok) throw new Error(await errorText(r));
    for await (const data of sseData(r.body)) {
      if (data === '[DONE]') break;
      const ev = JSON.parse(data);
      if (ev.error) throw new Error(ev.error.message || 'the server failed the request');
      const choice = ev.choices && ev.choices[0];
      if (!choice) continue;
      const delta = choice.delta && choice.delta.content;
      if (delta) {
        if (firstMs === null) firstMs = performance.now() - t0;
        reply += delta;
        chunks++;
        out.textContent = reply;
        el.dataset.chunks = String(chunks);
        scrollDown();
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    el.dataset.state = 'done';
  } catch (e) {
    if (e.name === 'AbortError') {
      el.dataset.state = 'stopped';
      finish = 'stopped';
    } else {
      el.dataset.state = 'error';
      el.classList.add('error');
      out.textContent = reply + (reply ? '\n' : '') + 'Error: ' + e.message;
    }
  } finally {
    state.abort = null;
    setBusy(false);
  }
  if (el.dataset.state === 'error' && !reply) {
    state.messages.pop(); // the question got no answer: leave it out of the context
  } else {
    state.messages.push({ role: 'assistant', content: reply });
    const secs = (performance.now() - t0) / 1000;
    const parts = [`${chunks} chunks in ${secs.toFixed(1)} s`];
    if (firstMs !== null) parts.push(`first after ${Math.round(firstMs)} ms`);
    if (finish) parts.push(`finish: ${finish}`);
    setMeta(el, parts.join(' · '));
  }
  scrollDown();
}

function setupChat() {
  const input = $('chat-input');
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || state.abort) return;
    input.value = '';
    send(text);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('chat-form').requestSubmit();
    }
  });
  $('stop').addEventListener('click', () => state.abort && state.abort.abort());
  $('clear').addEventListener('click', () => {
    if (state.abort) state.abort.abort();
    state.messages = [];
    $('messages').replaceChildren();
    input.focus();
  });
  $('api-key').addEventListener('change', loadModel);
}

async function loadModel() {
  try {
    const list = await getJSON('/v1/models');
    state.model = list.data && list.data.length ? list.data[0].id : null;
    $('model').textContent = 'model: ' + (state.model || '(none listed)');
  } catch (e) {
    $('model').textContent = 'model: ' + e.message;
  }
}

// ---- pool -----------------------------------------------------------------

function formatBytes(n) {
  if (typeof n !== 'number') return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
}

function createCard(name) {
  const card = document.createElement('article');
  card.className = 'worker-card';
  card.dataset.worker = name;
  card.innerHTML = `
    <h3><span class="name"></span><span class="state"></span></h3>
    <div class="layer-bar" role="img"><div class="span"></div></div>
    <dl>
      <dt>layers</dt><dd class="layers"></dd>
      <dt>memory</dt><dd><meter class="mem" min="0"></meter> <span class="mem-text"></span></dd>
      <dt>compute</dt><dd class="speed"></dd>
      <dt>sessions</dt><dd class="sessions"></dd>
      <dt>endpoint</dt><dd class="endpoint"></dd>
      <dt>sends to</dt><dd class="route"></dd>
    </dl>`;
  card.querySelector('.name').textContent = name;
  return card;
}

// The share of the last interval the worker spent computing, from the
// growth of busy_s, its own compute time (a batch counts once; compute_s
// counts it in every member's result). null on the first poll.
function busyShare(w, now) {
  const prev = state.lastCompute.get(w.name);
  state.lastCompute.set(w.name, { s: w.busy_s, t: now });
  if (!prev || typeof w.busy_s !== 'number' || now <= prev.t) return null;
  return Math.min(1, Math.max(0, (w.busy_s - prev.s) / ((now - prev.t) / 1000)));
}

// One worker of /v1/pool: layers first_layer..last_layer (inclusive) of
// the model's nLayers; memory: its KV cache within its budget (mem_limit).
function updateCard(card, w, nLayers, now) {
  const q = (sel) => card.querySelector(sel);
  card.dataset.state = w.state;
  q('.state').textContent = w.state;
  const held = w.last_layer - w.first_layer + 1;
  const layerText = held > 0 ? `${w.first_layer}–${w.last_layer} (${held} of ${nLayers})` : 'none';
  q('.layers').textContent = layerText;
  q('.layer-bar').setAttribute('aria-label', `layers ${layerText}`);
  const span = q('.layer-bar .span');
  span.style.left = held > 0 && nLayers ? `${(100 * w.first_layer) / nLayers}%` : '0';
  span.style.width = held > 0 && nLayers ? `${(100 * held) / nLayers}%` : '0';

  const used = typeof w.mem_used === 'number' ? w.mem_used : w.kv_bytes_reserved;
  const meter = q('.mem');
  meter.max = w.mem_limit || 1;
  meter.value = Math.min(used || 0, meter.max);
  meter.high = 0.9 * meter.max;
  q('.mem-text').textContent = typeof w.mem_used === 'number'
    ? `${formatBytes(w.mem_used)} of ${formatBytes(w.mem_limit)}`
    : `KV ${formatBytes(w.kv_bytes_used)} used, ${formatBytes(w.kv_bytes_reserved)} reserved; budget ${formatBytes(w.mem_limit)}`;

  const speed = [];
  if (typeof w.tokens_per_second === 'number') speed.push(`${w.tokens_per_second.toFixed(1)} tok/s`);
  if (w.steps > 0) speed.push(`${w.compute_ms_per_step.toFixed(2)} ms/step over ${w.steps} steps`);
  const busy = busyShare(w, now);
  if (busy !== null && w.steps > 0) speed.push(`busy ${Math.round(100 * busy)}%`);
  q('.speed').textContent = speed.join(' · ') || 'no steps yet';
  q('.sessions').textContent = String(w.sessions_open ?? '?');
  // Addresses come only to a client that showed the API key.
  const hidden = w.endpoint === undefined ? 'shown with an API key' : '?';
  q('.endpoint').textContent = w.reached_from
    ? `${w.endpoint || '?'} (from ${w.reached_from})` : (w.endpoint || hidden);
  // Where its hidden states go, or, on the last worker, its results.
  q('.route').textContent = w.sends_to || w.result_endpoint || hidden;
}

function renderPool(pool) {
  const now = performance.now();
  const box = $('workers');
  const seen = new Set();
  for (const w of pool.workers || []) {
    let card = state.cards.get(w.name);
    if (!card) {
      card = createCard(w.name);
      state.cards.set(w.name, card);
    }
    box.append(card); // keeps the pool's order
    updateCard(card, w, pool.n_layers, now);
    seen.add(w.name);
  }
  for (const [name, card] of state.cards) {
    if (!seen.has(name)) {
      card.remove();
      state.cards.delete(name);
    }
  }
  const rq = pool.requests || {};
  const tk = pool.tokens || {};
  $('pool-totals').textContent = `${rq.total} requests (${rq.failed} failed, ${rq.refused} refused)`
    + ` · ${rq.running} running, ${rq.queued} queued · tokens: ${tk.prompt} in, ${tk.generated} out`;
}

function record(rate) {
  state.samples.push(rate);
  if (state.samples.length > HISTORY_SECONDS) state.samples.shift();
  const known = state.samples.filter((v) => typeof v === 'number');
  $('tokps-now').textContent = typeof rate === 'number' ? rate.toFixed(1) : '–';
  $('tokps-peak').textContent = Math.max(0, ...known).toFixed(1);
  drawSparkline();
}

function drawSparkline() {
  const canvas = $('sparkline');
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, w, h);
  const peak = Math.max(1, ...state.samples.filter((v) => typeof v === 'number'));
  const x = (i) => w - ((state.samples.length - 1 - i) * w) / (HISTORY_SECONDS - 1);
  const y = (v) => h - 2 * dpr - (v / peak) * (h - 4 * dpr);
  ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--layers');
  ctx.lineWidth = 2 * dpr;
  ctx.beginPath();
  let pen = false; // lift the pen over gaps (polls that failed)
  state.samples.forEach((v, i) => {
    if (typeof v !== 'number') {
      pen = false;
      return;
    }
    if (pen) ctx.lineTo(x(i), y(v));
    else ctx.moveTo(x(i), y(v));
    pen = true;
  });
  ctx.stroke();
}

async function pollHealth() {
  const badge = $('health');
  try {
    const r = await fetch('/health', { cache: 'no-store' });
    const h = await r.json().catch(() => ({}));
    // ok, loading, degraded (a worker lost: requests wait, then are replayed), down
    const text = { ok: 'ready', loading: 'loading shards…', degraded: 'recovering…', down: 'down' };
    badge.dataset.state = r.ok ? 'ready' : h.status === 'degraded' ? 'loading' : h.status || 'loading';
    badge.textContent = text[h.status] || (r.ok ? 'ready' : 'loading shards…');
    badge.title = h.reason || '';
  } catch (e) {
    badge.dataset.state = 'down';
    badge.textContent = 'server unreachable';
  }
}

async function pollPool() {
  if (state.polling) return; // the last poll is still waiting on the server
  state.polling = true;
  const err = $('pool-error');
  let rate = null;
  try {
    const pool = await getJSON('/v1/pool');
    renderPool(pool);
    rate = pool.tokens_per_second;
    err.hidden = true;
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
  }
  record(rate);
  await pollHealth();
  state.polling = false;
}

function start() {
  setupChat();
  loadModel();
  pollPool();
  setInterval(pollPool, POLL_MS);
}

start();
