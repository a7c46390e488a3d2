// soak-clients.mjs — the clients of bench/soak.sh: CLIENTS loops against
// coord serve for SECONDS, each request a mix of short and long, streamed
// and whole, some cancelled midway. Every greedy answer must be a prefix of
// the undisturbed text for its prompt (fetched first, alone): a text that is
// not counts as wrong. Prints one JSON line of counts at the end.
//   node bench/soak-clients.mjs PORT SECONDS CLIENTS
const [port, seconds, clients] = process.argv.slice(2).map(Number);
const base = `http://127.0.0.1:${port}/v1/completions`;
const PROMPTS = ['Once upon a time', 'The little dog was', 'Lily and Ben went to the park.'];
const LONG = 400;
const counts = { ok: 0, cancelled: 0, refused: 0, failed: 0, wrong: 0, tokens: 0 };
const failures = [];

async function post(body, signal) {
  return fetch(base, { method: 'POST', body: JSON.stringify(body), signal,
                       headers: { 'content-type': 'application/json' } });
}

// The text of a streamed answer, or an Error naming the error event.
async function streamText(r) {
  let text = '', buf = '';
  const dec = new TextDecoder();
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, at).replace(/^data: /, '');
      buf = buf.slice(at + 2);
      if (ev === '[DONE]') return text;
      const o = JSON.parse(ev);
      if (o.error) throw new Error(o.error.message);
      text += o.choices[0].text;
    }
  }
  throw new Error('the stream ended without [DONE]');
}

async function one(ref, rng) {
  const i = Math.floor(rng() * PROMPTS.length);
  const stream = rng() < 0.5, long = rng() < 0.3, cancel = rng() < 0.1;
  const body = { prompt: PROMPTS[i], max_tokens: long ? LONG : 16, temperature: 0, stream };
  const ac = new AbortController();
  const timer = cancel ? setTimeout(() => ac.abort(), 50 + rng() * 300) : null;
  try {
    const r = await post(body, ac.signal);
    if (r.status === 503) { counts.refused++; await r.text(); return; }
    if (r.status !== 200) throw new Error(`${r.status} ${await r.text()}`);
    const text = stream ? await streamText(r) : (await r.json()).choices[0].text;
    if (!ref[i].startsWith(text) || (!cancel && text.length === 0)) {
      counts.wrong++;
      failures.push(`wrong text for prompt ${i}: ${JSON.stringify(text.slice(0, 80))}`);
    } else {
      counts.ok++;
      counts.tokens += body.max_tokens;
    }
  } catch (e) {
    if (ac.signal.aborted) counts.cancelled++;
    else { counts.failed++; failures.push(String(e.message || e).slice(0, 200)); }
  } finally {
    clearTimeout(timer);
  }
}

function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const ref = [];
for (const p of PROMPTS) {
  const r = await post({ prompt: p, max_tokens: LONG, temperature: 0 });
  ref.push((await r.json()).choices[0].text);
}
const until = Date.now() + seconds * 1000;
await Promise.all(Array.from({ length: clients }, async (_, k) => {
  const rng = lcg(k + 1);
  while (Date.now() < until) await one(ref, rng);
}));
console.log(JSON.stringify({ ...counts, failures: failures.slice(0, 10) }));
process.exit(counts.wrong ? 1 : 0);
