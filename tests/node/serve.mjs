// serve.mjs — start the real `coord serve` ($LP_BIN/coord) for the Node
// tests: a local pool of two workers serving stories260K on a free port;
// and stop it, with its workers, however the test ends.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const MODEL_FILE = 'stories260K.gguf';

// Generous: on a loaded two-core machine (or under ASan) loading and the
// first replies take many times longer than on an idle one.
export const READY_TIMEOUT_MS = 240_000;
const STOP_TIMEOUT_MS = 60_000;

function sharedDir() {
  return process.env.LP_SHARED || path.resolve('..', 'shared');
}

function coordPath() {
  const bin = process.env.LP_BIN;
  if (!bin) throw new Error('LP_BIN (the build folder holding coord) is not set: run this through ctest');
  return path.join(bin, 'coord');
}

// The last lines coord printed, for failure messages.
function tail(text, lines = 30) {
  return text.split('\n').slice(-lines).join('\n');
}

function writeConfig(dir, apiKey) {
  const file = path.join(dir, 'local-2.ini');
  const lines = [
    '[model]',
    `path = ${path.resolve(sharedDir(), 'models', MODEL_FILE)}`,
    'ctx = 512',
    'sessions = 4',
    'threads = 1',
    '',
    '[local]',
    'workers = 2',
    'mem = 1G',
  ];
  if (apiKey) lines.push('', '[server]', `api_key = ${apiKey}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

// Start coord serve; resolves once it printed its "ready" line, to
// { url, port, stop(), stderr() }. stop() resolves to coord's exit
// { code, signal, stderr }.
export async function startServer({ apiKey } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lp-node-serve-'));
  const config = writeConfig(dir, apiKey);
  // Its own process group, so the workers it forks can be killed with it.
  const child = spawn(coordPath(), ['serve', '--config', config, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => {
    stderr += s;
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (err) => resolve({ code: null, signal: null, err }));
  });
  const killGroup = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  // Whatever happens to this test process, leave no server behind.
  const onExit = () => killGroup('SIGKILL');
  process.on('exit', onExit);

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, STOP_TIMEOUT_MS, 'timeout');
    });
    let end = await Promise.race([exited, late]);
    clearTimeout(timer); // or it would hold this process for the rest of the minute
    if (end === 'timeout') {
      killGroup('SIGKILL');
      end = { code: null, signal: 'SIGKILL (did not stop within 60 s of SIGTERM)' };
    }
    killGroup('SIGKILL'); // any worker that outlived it
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    return { ...end, stderr };
  };

  const ready = /coord serve: http:\/\/\S+ \(port (\d+)\) ready/;
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coord serve not ready within ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS);
    const check = () => {
      const m = ready.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', check);
    exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`coord serve exited (${e.err ? e.err.message : `code ${e.code}, signal ${e.signal}`})`));
    });
  }).catch(async (err) => {
    const end = await stop();
    throw new Error(`${err.message}; its stderr:\n${tail(end.stderr)}`);
  });
  return { url: `http://127.0.0.1:${port}`, port, stop, stderr: () => stderr };
}

// After stop(): coord must have ended cleanly on SIGTERM (exit 0: it shut
// its workers down, and under ASan it found no leak).
export function assertCleanExit(assert, end) {
  assert.ok(end.code === 0, `coord serve exit: code ${end.code}, signal ${end.signal}; its stderr:\n${tail(end.stderr)}`);
}
