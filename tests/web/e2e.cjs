// End-to-end test of the web page in headless Debian chromium (playwright-core).
//
// Run through tests/web/run.sh, which builds dist/ and sets DIST and NODE_PATH; this script
// serves DIST itself on a free local port (tests/web/serve.py) so that it can cut the server
// for the offline check.
// Checks: the placeholder model starts; a batch of good and bad files is analysed one row per
// file; good rows have a class and probabilities summing to 1; bad rows say what is wrong; the
// overlay canvas is drawn; the CSV and JSON exports hold one record per file; bad weights are
// refused while the placeholder stays; and the page makes no request to another origin nor any
// request carrying a body. The main run forces the CPU backend (`?backend=cpu`); a second
// browser with WebGPU enabled (a software adapter, no GPU needed) runs a slice on WebGPU when
// it offers an adapter, then switches to the CPU from the page. Fine-tuning: labelled slices,
// a few epochs of module S, the kept model active, exported and still active after a reload.
// Default weights: without `?model=placeholder` a fresh browser starts with them, says they
// are demonstration weights and analyses a slice with lesions.

'use strict';

const fs = require('fs');
const zlib = require('zlib');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

const DIST = process.env.DIST || path.resolve(__dirname, '..', '..', 'dist');
const SCREENSHOT = process.env.SCREENSHOT || '/tmp/ct-mask-net-page.png';
const REPO = path.resolve(__dirname, '..', '..');
const SHARED = path.resolve(REPO, '..', 'shared');
const MODEL_TIMEOUT_MS = 5 * 60_000;
const BATCH_TIMEOUT_MS = 15 * 60_000;
// The oracle checkpoints (the authors' layout, ResNet-50, seeded random weights), when present.
const ORACLE_CHECKPOINTS = path.join(SHARED, 'oracle', 'checkpoints');
const TEST_CHECKPOINTS = process.env.WEB_TEST_CHECKPOINTS !== '0';
const WEBGPU_TIMEOUT_MS = 10 * 60_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

const failures = [];
let passed = 0;
function check(condition, message) {
  if (condition) {
    passed += 1;
    console.log(`  ok   ${message}`);
  } else {
    console.log(`  FAIL ${message}`);
    failures.push(message);
  }
}

/** The real slices to add when ../shared/data exists (a named one, else the first PNG). */
function realSlices() {
  const picks = [
    ['covid_ct_md_3class/png', 'CAP_cap001_050.png'],
    ['cncb_cp_sample/png', 'CP_0_3131_0140.png'],
    // A JPEG-Lossless DICOM slice: decoded, lung-windowed and analysed like the PNGs.
    ['covid_ct_md_3class/dicom', 'P001_074.dcm'],
  ];
  const found = [];
  for (const [dir, name] of picks) {
    const folder = path.join(SHARED, 'data', dir);
    if (!fs.existsSync(folder)) continue;
    const wanted = path.join(folder, name);
    if (fs.existsSync(wanted)) {
      found.push(wanted);
    } else {
      const first = fs.readdirSync(folder).filter((f) => /\.(png|dcm)$/.test(f)).sort()[0];
      if (first) found.push(path.join(folder, first));
    }
  }
  return found;
}

/** Bad inputs, written to a temporary folder. */
/** The bad-input corpus (tests/fixtures/bad-inputs, made by examples/make_bad_inputs.rs):
 * [{ file, usedAs: 'slice' | 'weights', words }], words being what its error must say. */
function badInputs() {
  const dir = path.join(REPO, 'tests/fixtures/bad-inputs');
  return fs.readFileSync(path.join(dir, 'expected.tsv'), 'utf8').trim().split('\n').slice(1)
    .map((line) => {
      const [name, usedAs, words] = line.split('\t');
      return { file: path.join(dir, name), usedAs, words };
    });
}

/** Fails the test on any request to another origin or with a body. */
function watchRequests(context, origin) {
  const log = [];
  context.on('request', (request) => {
    const url = request.url();
    const body = request.postDataBuffer();
    let requestOrigin;
    try {
      requestOrigin = new URL(url).origin;
    } catch {
      requestOrigin = 'unparsable';
    }
    // blob: URLs carry their creator's origin; data: URLs are inline and go nowhere.
    const local = url.startsWith('data:') || requestOrigin === origin;
    log.push({ url: url.slice(0, 120), method: request.method(), local, body: !!body });
  });
  return log;
}

/** Starts tests/web/serve.py on DIST; resolves to { url, stop } once it prints its port. */
function startServer() {
  return new Promise((resolve, reject) => {
    const server = spawn('python3', [path.join(__dirname, 'serve.py'), DIST], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    server.on('error', reject);
    server.on('exit', (code) => reject(new Error(`the test server exited (${code})`)));
    server.stdout.on('data', (chunk) => {
      output += chunk;
      const port = output.split('\n')[0].trim();
      if (output.includes('\n') && /^\d+$/.test(port)) {
        resolve({
          url: `http://127.0.0.1:${port}/`,
          stop: () => new Promise((done) => {
            if (server.exitCode !== null || server.signalCode !== null) return done();
            server.removeAllListeners('exit');
            server.on('exit', () => done());
            server.kill();
          }),
        });
      }
    });
  });
}

/** Waits until every row of the batch is done or failed. */
async function waitForBatch(page, minRows) {
  await page.waitForFunction(
    (n) => {
      const rows = document.querySelectorAll('[data-testid="batch-row"]');
      return rows.length >= n &&
        [...rows].every((r) => r.dataset.status === 'done' || r.dataset.status === 'error');
    }, minRows, { timeout: BATCH_TIMEOUT_MS, polling: 500 });
}

/** Cuts the server, reloads the page from the service worker's cache and analyses a slice. */
async function offlinePhase(page, server, slice) {
  console.log('offline: cut the server, reload, analyse a slice');
  const cached = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    const names = await caches.keys();
    const files = [];
    for (const name of names) {
      for (const request of await (await caches.open(name)).keys()) files.push(request.url);
    }
    return { controlled: !!navigator.serviceWorker.controller, files };
  });
  check(cached.files.some((f) => f.endsWith('.wasm')) && cached.files.some((f) => f.endsWith('.js')),
    `the service worker cached the page (${cached.files.length} files, wasm included)`);
  await server.stop();
  let down = false;
  try {
    await fetch(BASE_URL);
  } catch {
    down = true;
  }
  check(down, 'the server is really down');

  const t = Date.now();
  await page.reload();
  await page.waitForSelector('[data-testid="weights-status"][data-state="placeholder"]', {
    timeout: MODEL_TIMEOUT_MS,
  });
  console.log(`  reloaded offline, placeholder ready after ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const backend = await page.textContent('[data-testid="backend"]');
  check(backend.includes('background worker'), `offline, the engine still runs in a worker ("${backend}")`);
  await page.setInputFiles('[data-testid="file-input"]', slice);
  await waitForBatch(page, 1);
  const row = await page.$eval('[data-testid="batch-row"]', (tr) => ({
    status: tr.dataset.status,
    cls: tr.querySelector('[data-testid="predicted-class"]')?.textContent,
  }));
  check(row.status === 'done' && ['normal', 'common pneumonia', 'COVID-19'].includes(row.cls),
    `offline analysis of ${path.basename(slice)}: "${row.cls}"`);
}

let BASE_URL;

const DEFAULT_WEIGHTS = path.join(REPO, 'weights', 'ct-mask-net-default.safetensors');

/** A fresh browser context (nothing saved) starts with the default weights. */
async function defaultPhase(browser, slice) {
  console.log('default weights:');
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const t = Date.now();
    await page.goto(`${BASE_URL}?backend=cpu&warmup=0`);
    await page.waitForSelector('[data-testid="weights-status"][data-state="default"]', {
      timeout: MODEL_TIMEOUT_MS,
    });
    console.log(`  default weights ready after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const note = await page.textContent('[data-testid="default-note"]');
    check(/not a diagnostic device/.test(note), 'the default weights are said to be a demonstration');
    const inUse = await page.textContent('[data-testid="weights-in-use"]');
    check(/Default demonstration weights/.test(inUse), `weights in use: "${inUse}"`);
    await page.setInputFiles('[data-testid="file-input"]', slice);
    await waitForBatch(page, 1);
    const row = await page.$eval('[data-testid="batch-row"]', (tr) => ({
      status: tr.dataset.status,
      cls: tr.querySelector('[data-testid="predicted-class"]')?.textContent,
    }));
    check(row.status === 'done' && ['normal', 'common pneumonia', 'COVID-19'].includes(row.cls),
      `${path.basename(slice)} analysed with the default weights: "${row.cls}"`);
    await page.click('[data-testid="use-placeholder"]');
    await page.waitForSelector('[data-testid="weights-status"][data-state="placeholder"]', {
      timeout: MODEL_TIMEOUT_MS,
    });
    await page.click('[data-testid="use-default"]');
    await page.waitForSelector('[data-testid="weights-status"][data-state="default"]', {
      timeout: MODEL_TIMEOUT_MS,
    });
    check(true, 'placeholder and back to the default weights from the page');
    const cached = await page.evaluate(async () => {
      for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) {
          if (request.url.endsWith('/ct-mask-net-default.safetensors')) return true;
        }
      }
      return false;
    });
    check(cached, 'the service worker keeps the default weights for offline use');
  } finally {
    await context.close();
  }

  // A damaged copy (here: cut in half on the way) fails the SHA-256 check: the page says so
  // and uses the placeholder. (Service workers blocked, so that the route sees the request.)
  const damaged = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const full = fs.readFileSync(DEFAULT_WEIGHTS);
    await damaged.route('**/ct-mask-net-default.safetensors', (route) =>
      route.fulfill({ status: 200, body: full.subarray(0, full.length >> 1) }));
    const page = await damaged.newPage();
    await page.goto(`${BASE_URL}?backend=cpu&warmup=0`);
    await page.waitForSelector('[data-testid="weights-status"][data-state="placeholder"]', {
      timeout: MODEL_TIMEOUT_MS,
    });
    const error = await page.textContent('[data-testid="weights-error"]');
    check(/damaged or is not the one this page was built with/.test(error),
      `damaged default weights are refused by their SHA-256: "${error.slice(0, 140)}"`);
  } finally {
    await damaged.close();
  }
}

/** A second browser with WebGPU exposed (TOOLCHAIN.md: `--enable-unsafe-webgpu`, and without
 * Playwright's default `--disable-gpu`): the engine must pick WebGPU, pass its self-test and
 * analyse `slice` like the CPU did (`cpuRow`); then the page switches itself to the CPU and
 * remembers it across a reload. */
async function webgpuPhase(origin, slice, cpuRow) {
  console.log('WebGPU (software adapter in headless chromium):');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'],
    ignoreDefaultArgs: ['--disable-gpu'],
  });
  const errors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const log = watchRequests(context, origin);
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    // No warm-up pass: on the software adapter it costs as much as a slice (minutes).
    await page.goto(`${BASE_URL}?warmup=0&model=placeholder`);
    const adapter = await page.evaluate(async () =>
      !!(navigator.gpu && await navigator.gpu.requestAdapter()));
    if (!adapter) {
      console.log('  WebGPU: SKIPPED (this chromium offers no WebGPU adapter)');
      return;
    }
    let t = Date.now();
    const status = '[data-testid="weights-status"]';
    await page.waitForSelector(`${status}[data-state="placeholder"]`, { timeout: WEBGPU_TIMEOUT_MS });
    console.log(`  placeholder ready on WebGPU after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const backend = await page.textContent('[data-testid="backend"]');
    check(backend.startsWith('WebGPU'), `the engine chose WebGPU ("${backend}")`);
    const diagnostics = await page.inputValue('[data-testid="diagnostics-text"]');
    const selfTest = /self-test against the CPU: largest difference ([0-9.e+-]+)/.exec(diagnostics);
    check(selfTest && Number(selfTest[1]) < 1e-3,
      `WebGPU self-test against the CPU passed (${selfTest ? selfTest[1] : 'no self-test line'})`);
    check(/adapter: \S/.test(diagnostics) && /limits: max/.test(diagnostics),
      'diagnostics name the adapter and its limits');

    t = Date.now();
    await page.setInputFiles('[data-testid="file-input"]', slice);
    await page.waitForFunction(() => {
      const row = document.querySelector('[data-testid="batch-row"]');
      return row && (row.dataset.status === 'done' || row.dataset.status === 'error');
    }, null, { timeout: WEBGPU_TIMEOUT_MS, polling: 500 });
    const row = await page.$eval('[data-testid="batch-row"]', (tr) => ({
      status: tr.dataset.status,
      cls: tr.querySelector('[data-testid="predicted-class"]')?.textContent,
      probs: tr.querySelector('[data-testid="probabilities"]')?.textContent,
      time: tr.querySelector('[data-testid="row-time"]')?.textContent,
      error: tr.querySelector('[data-testid="row-error"]')?.textContent,
    }));
    const gpu = (row.probs || '').split('/').map(Number);
    const cpu = (cpuRow?.probs || '').split('/').map(Number);
    const diff = Math.max(...gpu.map((p, i) => Math.abs(p - cpu[i])));
    console.log(`  per-slice time (WebGPU, software adapter): ${row.time} (wall ${((Date.now() - t) / 1000).toFixed(1)} s)`);
    check(row.status === 'done' && row.cls === cpuRow?.cls,
      `${path.basename(slice)} on WebGPU: "${row.cls}" ${row.probs}, on the CPU "${cpuRow?.cls}" ${cpuRow?.probs}` +
        (row.error ? ` (${row.error})` : ''));
    check(gpu.length === 3 && diff < 0.05,
      `WebGPU and CPU probabilities agree (largest difference ${diff.toFixed(4)})`);
    const warm = /warm-up: (.*)/.exec(await page.inputValue('[data-testid="diagnostics-text"]'));
    console.log(`  warm-up on WebGPU: ${warm ? warm[1] : '?'}`);

    // Switch to the CPU from the page; the choice survives a reload.
    await page.click('[data-testid="backend-switch"]');
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="backend"]').textContent.startsWith('CPU'),
    null, { timeout: MODEL_TIMEOUT_MS });
    await page.waitForSelector(`${status}[data-state="placeholder"]`, { timeout: MODEL_TIMEOUT_MS });
    check(true, `switched to "${await page.textContent('[data-testid="backend"]')}" from the page`);
    await page.reload();
    await page.waitForSelector(`${status}[data-state="placeholder"]`, { timeout: MODEL_TIMEOUT_MS });
    const after = await page.textContent('[data-testid="backend"]');
    check(after.startsWith('CPU'), `the CPU choice is remembered after a reload ("${after}")`);
    const foreign = log.filter((r) => !r.local || r.body);
    check(foreign.length === 0, `privacy with WebGPU: ${log.length} requests, all local, none with a body`);
  } finally {
    check(errors.length === 0,
      `no errors in the WebGPU browser's console${errors.length ? ':\n    ' + errors.join('\n    ') : ''}`);
    await browser.close();
  }
}

/** Unpacks an oracle checkpoint (`.pth.gz`) into `dir`. */
function unpack(dir, name) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, zlib.gunzipSync(fs.readFileSync(path.join(ORACLE_CHECKPOINTS, `${name}.gz`))));
  return file;
}

/** Loads the authors'-layout checkpoints: the classifier alone, then the segmentation model
 * completes the pair; analyses one slice with them; goes back to the placeholder. */
async function checkpointsPhase(page, workDir, slice) {
  console.log('checkpoint loading (authors\' layout, ResNet-50):');
  const status = '[data-testid="weights-status"]';
  const classifier = unpack(workDir, 'classification_resnet50_seed0.pth');
  const segmenter = unpack(workDir, 'segmentation_resnet50_seed0.pth');

  let t = Date.now();
  await page.setInputFiles('[data-testid="weights-input"]', classifier);
  await page.waitForSelector(`${status}[data-state="ready"]`, { timeout: MODEL_TIMEOUT_MS });
  let text = await page.textContent(status);
  console.log(`  classifier loaded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  check(/classification_resnet50_seed0\.pth/.test(text) && /no lesions/.test(text),
    `classifier alone: "${text}"`);
  check(!(await page.isVisible('[data-testid="placeholder-note"]')), 'placeholder warning gone');

  t = Date.now();
  await page.setInputFiles('[data-testid="weights-input"]', segmenter);
  await page.waitForFunction(
    () => /segmentation_resnet50/.test(document.querySelector('[data-testid="weights-status"]').textContent),
    null, { timeout: MODEL_TIMEOUT_MS });
  text = await page.textContent(status);
  console.log(`  segmentation model loaded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  check(/classification_resnet50_seed0\.pth \+ segmentation_resnet50_seed0\.pth/.test(text),
    `segmentation completes the pair: "${text}"`);

  const before = await page.locator('[data-testid="batch-row"]').count();
  t = Date.now();
  await page.setInputFiles('[data-testid="file-input"]', slice);
  const row = page.locator('[data-testid="batch-row"]').filter({ hasText: path.basename(slice) }).last();
  await waitForBatch(page, before + 1);
  const newest = await page.$$eval('[data-testid="batch-row"]', (trs) => {
    const tr = trs.reduce((a, b) => (Number(a.cells[0].textContent) > Number(b.cells[0].textContent) ? a : b));
    const text = (id) => tr.querySelector(`[data-testid="${id}"]`)?.textContent || '';
    return {
      cells: [...tr.cells].map((c) => c.textContent),
      cls: text('predicted-class'),
      probs: text('probabilities'),
      ggo: tr.querySelector('[data-testid="probabilities"]')?.nextElementSibling?.textContent || '',
      time: text('row-time'),
    };
  });
  const sum = newest.probs.split('/').map(Number).reduce((a, b) => a + b, 0);
  check(['normal', 'common pneumonia', 'COVID-19'].includes(newest.cls) && Math.abs(sum - 1) < 0.01 &&
    /^\d/.test(newest.ggo), `slice with the ResNet-50 pair: ${newest.cells.slice(1).join(' | ')}`);
  console.log(`  per-slice time (CPU backend, ResNet-50 pair): ${newest.time} (wall ${((Date.now() - t) / 1000).toFixed(1)} s)`);
  // Show that slice (the newest row) in the screenshot.
  await page.$$eval('[data-testid="batch-row"]', (trs) => trs.reduce((a, b) =>
    (Number(a.cells[0].textContent) > Number(b.cells[0].textContent) ? a : b)).click());
  await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-checkpoints.png'), fullPage: true });

  // The pair is kept in the browser: a reload starts with it.
  check(await page.isVisible('[data-testid="weights-saved"][data-state="saved"]'),
    'the loaded weights are saved in the browser');
  t = Date.now();
  await page.reload();
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="weights-status"]');
    return el && el.dataset.state === 'ready' && /segmentation_resnet50_seed0/.test(el.textContent);
  }, null, { timeout: MODEL_TIMEOUT_MS });
  text = await page.textContent(status);
  check(/classification_resnet50_seed0\.pth \+ segmentation_resnet50_seed0\.pth/.test(text),
    `after a reload the saved pair is active again in ${((Date.now() - t) / 1000).toFixed(1)} s: "${text}"`);

  await page.click('[data-testid="use-placeholder"]');
  await page.waitForSelector(`${status}[data-state="placeholder"]`, { timeout: MODEL_TIMEOUT_MS });
  check(true, 'back to the placeholder');
  await page.reload();
  await page.waitForSelector(`${status}[data-state="placeholder"]`, { timeout: MODEL_TIMEOUT_MS });
  check(true, 'after "Back to the placeholder" and a reload the placeholder is active');
}

/** Slices for fine-tuning, two per class, labelled by their names: real COVID-CT-MD slices
 * when ../shared/data is present, else copies of the synthetic fixture under labelled names. */
function labelledSlices(dir, fixture) {
  const folder = path.join(SHARED, 'data', 'covid_ct_md_3class', 'png');
  const out = [];
  for (const [prefix, fallback] of [['COVID-19_P001_', 'NCP_'], ['CAP_cap001_', 'CP_'], ['Normal_normal001_', 'Normal_']]) {
    const real = fs.existsSync(folder)
      ? fs.readdirSync(folder).filter((f) => f.startsWith(prefix)).sort().slice(4, 6)
      : [];
    if (real.length === 2) {
      out.push(...real.map((f) => path.join(folder, f)));
    } else {
      for (const k of [1, 2]) {
        const copy = path.join(dir, `${fallback}${k}.png`);
        fs.copyFileSync(fixture, copy);
        out.push(copy);
      }
    }
  }
  return out;
}

/** Labels from names, a few epochs of heads fine-tuning, the metrics, the kept model made
 * active, exported, still active after a reload; back to the placeholder. */
async function finetunePhase(page, workDir, fixture) {
  console.log('fine-tuning module S in the page:');
  const status = '[data-testid="weights-status"]';
  const files = labelledSlices(workDir, fixture);
  const before = await page.locator('[data-testid="batch-row"]').count();
  await page.setInputFiles('[data-testid="file-input"]', files);
  await waitForBatch(page, before + files.length);
  const labels = await page.$$eval('[data-testid="batch-row"]', (trs) => trs.map((tr) => [
    tr.cells[1].textContent, tr.querySelector('[data-testid="row-label"]').value]));
  const expected = { 'COVID-19': '2', NCP: '2', CAP: '1', CP: '1', Normal: '0' };
  const named = labels.filter(([name]) => files.some((f) => path.basename(f) === name));
  check(named.length === files.length &&
    named.every(([name, value]) => expected[name.split('_')[0]] === value),
  `rows are labelled from their names (${named.map(([n, v]) => `${n}=${v}`).join(', ')})`);
  const splits = await page.$$eval('[data-testid="row-split"]', (b) => b.map((x) => x.textContent));
  check(splits.includes('validation') && splits.includes('train'),
    `a seeded split is shown (${splits.filter((s) => s === 'validation').length} of ${splits.length} for validation)`);

  await page.fill('[data-testid="ft-epochs"]', '3');
  await page.press('[data-testid="ft-epochs"]', 'Tab');
  await page.fill('[data-testid="ft-lr"]', '0.0001');
  await page.press('[data-testid="ft-lr"]', 'Tab');
  const t = Date.now();
  await page.click('[data-testid="ft-start"]');
  await page.waitForFunction(() => /Epoch 3 of 3/.test(
    document.querySelector('[data-testid="ft-progress-text"]')?.textContent || ''), null, { timeout: 120_000 });
  await page.waitForFunction(() => !document.querySelector('[data-testid="ft-apply"]').disabled, null, { timeout: 30_000 });
  const progress = await page.textContent('[data-testid="ft-progress-text"]');
  console.log(`  3 epochs in ${((Date.now() - t) / 1000).toFixed(1)} s: ${progress}`);
  check(/kept: epoch \d/.test(progress) && /s per epoch/.test(progress), `progress: "${progress}"`);
  check(await page.isVisible('[data-testid="loss-curves"]'), 'loss curves are drawn');
  const accuracy = await page.textContent('[data-testid="metrics"] [data-testid="metrics-accuracy"]');
  check(/%$/.test(accuracy), `validation metrics of the kept epoch (accuracy ${accuracy})`);

  await page.click('[data-testid="evaluate-labelled"]');
  const evaluated = await page.locator('[data-testid="metrics"]').last().textContent();
  check(/on \d+ slices/.test(evaluated), `the active model evaluated on the labelled slices (${evaluated.slice(0, 90)})`);

  // The speed figure of the issue: heads mode on 300 cached slices, this browser's CPU backend.
  await page.click('[data-testid="time-finetune"]');
  await page.waitForFunction(() => /per epoch|failed/.test(
    document.querySelector('[data-testid="finetune-timing"]').textContent), null, { timeout: 300_000 });
  const timing = await page.textContent('[data-testid="finetune-timing"]');
  console.log(`  ${timing}`);
  check(/300 slices: [\d.]+ s per epoch/.test(timing), `fine-tuning speed measured: "${timing}"`);

  await page.click('[data-testid="ft-apply"]');
  await page.waitForFunction(() => /fine-tuned-classifier\.safetensors/.test(
    document.querySelector('[data-testid="weights-status"]').textContent), null, { timeout: MODEL_TIMEOUT_MS });
  let text = await page.textContent(status);
  check(/placeholder lesions/.test(text), `the fine-tuned model is active: "${text}"`);
  await page.waitForSelector('[data-testid="weights-saved"][data-state="saved"]', { timeout: 60_000 });
  check(true, 'the fine-tuned model is saved in the browser');

  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 60_000 }),
    page.click('[data-testid="ft-export"]'),
  ]);
  const exported = fs.readFileSync(await download.path());
  const headerLength = Number(exported.readBigUInt64LE(0));
  const header = JSON.parse(exported.subarray(8, 8 + headerLength).toString());
  check(download.suggestedFilename() === 'fine-tuned-classifier.safetensors' &&
    header['s2new.fc_scores.weight'] && header.__metadata__?.finetuned_mode === 'heads',
  `exported ${download.suggestedFilename()} (${(exported.length / 1e6).toFixed(1)} MB, safetensors with S)`);

  await page.reload();
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="weights-status"]');
    return el && el.dataset.state === 'ready' && /fine-tuned-classifier/.test(el.textContent);
  }, null, { timeout: MODEL_TIMEOUT_MS });
  text = await page.textContent(status);
  check(/placeholder lesions/.test(text), `after a reload the fine-tuned model is still active: "${text}"`);

  await page.click('[data-testid="use-placeholder"]');
  await page.waitForSelector(`${status}[data-state="placeholder"]`, { timeout: MODEL_TIMEOUT_MS });
  check(true, 'reset: back to the placeholder');
}

/** A folder of slices picked with the folder button: a real DICOM series (three slices of
 * one patient, when ../shared/data exists), three PNGs named as one COVIDx-CT scan, and a text
 * file; the slices are grouped per study, head first, rolled up, navigated and exported. */
async function studiesPhase(page, workDir, fixture) {
  console.log('studies from a folder:');
  const folder = path.join(workDir, 'study-folder');
  fs.mkdirSync(path.join(folder, 'series'), { recursive: true });
  const dicomDir = path.join(SHARED, 'data', 'covid_ct_md_3class', 'dicom');
  const dicom = fs.existsSync(dicomDir)
    ? fs.readdirSync(dicomDir).filter((f) => /^P001_\d+\.dcm$/.test(f)).sort()
    : [];
  // Names that do not give the order away: the headers must.
  dicom.forEach((f, i) => fs.copyFileSync(path.join(dicomDir, f), path.join(folder, 'series', `IM${9 - i}`)));
  for (const n of ['0030', '0010', '0020']) fs.copyFileSync(fixture, path.join(folder, `NCP_9_500_${n}.png`));
  fs.writeFileSync(path.join(folder, 'notes.txt'), 'not a slice');
  const expectedRows = dicom.length + 3;
  const before = await page.locator('[data-testid="batch-row"]').count();
  await page.setInputFiles('[data-testid="folder-input"]', folder);
  await waitForBatch(page, before + expectedRows);
  const added = (await page.locator('[data-testid="batch-row"]').count()) - before;
  check(added === expectedRows, `the folder's ${expectedRows} slices became rows (${added})`);
  const skipped = await page.textContent('[data-testid="skipped-files"]');
  check(/^1 file in the folder is not a slice/.test(skipped), `the text file was skipped: "${skipped}"`);

  const places = await page.$$eval('[data-testid="batch-row"]', (trs) => trs.map((tr) => [
    tr.querySelector('.file-name').textContent,
    tr.querySelector('[data-testid="row-slice"]')?.textContent || '']));
  const place = (name) => (places.find(([n]) => n === name) || [])[1];
  check(place('NCP_9_500_0010.png') === '1/3' && place('NCP_9_500_0020.png') === '2/3' &&
    place('NCP_9_500_0030.png') === '3/3', 'named slices are numbered within their scan');
  if (dicom.length === 3) {
    // IM9 is the apex (P001_061), IM7 the lowest (P001_098).
    check(place('IM9') === '1/3' && place('IM8') === '2/3' && place('IM7') === '3/3',
      `the DICOM series is ordered head first by its headers (${['IM9', 'IM8', 'IM7'].map(place)})`);
  }
  const cards = await page.$$eval('[data-testid="study-card"]', (cs) => cs.map((c) => ({
    title: c.querySelector('h3').textContent,
    cls: c.querySelector('[data-testid="study-class"]')?.textContent,
    bars: c.querySelectorAll('[data-testid="study-burden"] .burden-bar').length,
  })));
  // Rows of earlier phases may form studies of their own: look at this folder's.
  const ours = cards.filter((c) => c.title === 'NCP patient 9, scan 500' ||
    c.title.startsWith('patient 98C14734-ASSH'));
  check(ours.length === (dicom.length ? 2 : 1) &&
    ours.every((c) => ['normal', 'common pneumonia', 'COVID-19'].includes(c.cls) && c.bars === 3),
  `one study card per scan with its answer and lesion chart (${JSON.stringify(ours)})`);

  await page.click('[data-testid="batch-row"]:has-text("NCP_9_500_0010.png")');
  check(/^Slice 1 of 3 in NCP patient 9, scan 500$/.test(await page.textContent('[data-testid="study-position"]')) &&
    await page.isDisabled('[data-testid="study-prev"]'), 'the navigator shows the first slice');
  await page.click('[data-testid="study-next"]');
  const drawn = await page.getAttribute('[data-testid="overlay"]', 'data-drawn');
  check(drawn === 'NCP_9_500_0020.png' &&
    /^Slice 2 of 3/.test(await page.textContent('[data-testid="study-position"]')),
  `"Next" selects and draws the next slice (${drawn})`);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('[data-testid="export-studies"]'),
  ]);
  const studies = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  const named = studies.find((s) => s.study === 'NCP patient 9, scan 500');
  check(named && JSON.stringify(named.files) ===
    JSON.stringify(['NCP_9_500_0010.png', 'NCP_9_500_0020.png', 'NCP_9_500_0030.png']) &&
    named.summary.slices === 3 && named.summary.lesion_burden.length === 3,
  `studies export: ${studies.length} studies, files head first, roll-up of 3 slices`);
}

async function main() {
  const server = await startServer();
  BASE_URL = server.url;
  const origin = new URL(BASE_URL).origin;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-mask-net-web-'));
  const fixture = path.join(REPO, 'tests/fixtures/slices/synthetic_slice.png');
  const good = [fixture, ...realSlices()];
  const corpus = badInputs();
  const bad = corpus.filter((c) => c.usedAs === 'slice').map((c) => c.file);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
  });
  const requests = watchRequests(context, origin);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));

  try {
    console.log(`web test: ${BASE_URL}`);
    let t = Date.now();
    // The CPU backend, forced (this browser has no WebGPU adapter anyway), and the placeholder
    // model (the default weights have their own phase).
    await page.goto(`${BASE_URL}?backend=cpu&model=placeholder`);
    await page.waitForSelector('[data-testid="weights-status"][data-state="placeholder"]', {
      timeout: MODEL_TIMEOUT_MS,
    });
    console.log(`placeholder model ready after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const backend = await page.textContent('[data-testid="backend"]');
    check(backend.includes('CPU (WebAssembly') && backend.includes('background worker'),
      `backend indicator: "${backend}" (the engine runs in a worker)`);
    check(/GPU not used: the CPU backend was chosen/.test(
      await page.inputValue('[data-testid="diagnostics-text"]')),
    'diagnostics say the CPU was chosen');
    const windows = await page.$$eval('[data-testid="dicom-window"] option', (os) => os.map((o) => o.value));
    check(JSON.stringify(windows) === '["lung","mediastinum","file"]' &&
      (await page.inputValue('[data-testid="dicom-window"]')) === 'lung',
    `DICOM window choice offered, lung first (${windows})`);
    const note = await page.textContent('[data-testid="placeholder-note"]');
    check(/random seeded weights/.test(note) && /results mean nothing/.test(note),
      'the placeholder warning is shown');

    // Bad weights: refused, the placeholder stays.
    const notWeights = path.join(workDir, 'not_weights.pth');
    fs.writeFileSync(notWeights, 'not a checkpoint');
    await page.setInputFiles('[data-testid="weights-input"]', notWeights);
    await page.waitForSelector('[data-testid="weights-error"]', { timeout: 60_000 });
    const weightsError = await page.textContent('[data-testid="weights-error"]');
    check(/not a model checkpoint/.test(weightsError), `bad weights refused: "${weightsError}"`);
    check(await page.isVisible('[data-testid="weights-status"][data-state="placeholder"]'),
      'the placeholder stays active after bad weights');
    for (const c of corpus.filter((x) => x.usedAs === 'weights')) {
      const name = path.basename(c.file);
      await page.setInputFiles('[data-testid="weights-input"]', c.file);
      await page.waitForFunction((n) => {
        const e = document.querySelector('[data-testid="weights-error"]');
        return e && e.textContent.includes(n);
      }, name, { timeout: 60_000 });
      const message = await page.textContent('[data-testid="weights-error"]');
      check(message.toLowerCase().includes(c.words.toLowerCase()), `weights ${name}: "${message}"`);
    }
    check(await page.isVisible('[data-testid="weights-status"][data-state="placeholder"]'),
      'the placeholder stays active after the whole bad-weights corpus');

    // The batch.
    const files = [...good, ...bad];
    console.log(`adding ${files.length} files: ${files.map((f) => path.basename(f)).join(', ')}`);
    // The page's main thread must stay free while slices are analysed: record the longest gap
    // between 50 ms timer ticks.
    await page.evaluate(() => {
      window.__longestGap = 0;
      let last = performance.now();
      window.__gapTimer = setInterval(() => {
        const now = performance.now();
        window.__longestGap = Math.max(window.__longestGap, now - last);
        last = now;
      }, 50);
    });
    t = Date.now();
    await page.setInputFiles('[data-testid="file-input"]', files);
    const rowCount = await page.locator('[data-testid="batch-row"]').count();
    check(rowCount === files.length, `one row per file at once (${rowCount})`);
    let lastProgress = '';
    const progressSeen = new Set();
    const deadline = Date.now() + BATCH_TIMEOUT_MS;
    for (;;) {
      const pending = await page
        .locator('[data-testid="batch-row"][data-status="queued"], [data-testid="batch-row"][data-status="running"]')
        .count();
      const progress = await page.textContent('[data-testid="progress"]');
      progressSeen.add(progress);
      if (progress !== lastProgress) {
        console.log(`  progress: ${progress} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
        lastProgress = progress;
      }
      if (pending === 0) break;
      if (Date.now() > deadline) throw new Error('the batch did not finish in time');
      await page.waitForTimeout(250);
    }
    console.log(`batch done after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const longestGap = await page.evaluate(() => {
      clearInterval(window.__gapTimer);
      return window.__longestGap;
    });
    check(longestGap < 1000,
      `the page stayed responsive during the batch (longest main-thread stall ${longestGap.toFixed(0)} ms)`);
    check(progressSeen.size >= 3, `the progress indicator moved (${[...progressSeen].join(' | ')})`);
    check(new RegExp(`${files.length} of ${files.length}`).test(lastProgress),
      `progress ends at "${files.length} of ${files.length}"`);

    const rows = await page.$$eval('[data-testid="batch-row"]', (trs) =>
      trs.map((tr) => ({
        name: tr.querySelector('.file-name')?.textContent,
        status: tr.dataset.status,
        cls: tr.querySelector('[data-testid="predicted-class"]')?.textContent,
        probs: tr.querySelector('[data-testid="probabilities"]')?.textContent,
        time: tr.querySelector('[data-testid="row-time"]')?.textContent,
        error: tr.querySelector('[data-testid="row-error"]')?.textContent,
      })));
    for (const file of good) {
      const row = rows.find((r) => r.name === path.basename(file));
      const probs = (row?.probs || '').split('/').map(Number);
      const sum = probs.reduce((a, b) => a + b, 0);
      check(row?.status === 'done' && ['normal', 'common pneumonia', 'COVID-19'].includes(row.cls),
        `${path.basename(file)}: predicted class "${row?.cls}"`);
      check(probs.length === 3 && Math.abs(sum - 1) < 0.01,
        `${path.basename(file)}: probabilities ${row?.probs} sum to ${sum.toFixed(4)}`);
      console.log(`  per-slice time (CPU backend): ${path.basename(file)}: ${row?.time}`);
    }
    for (const c of corpus.filter((x) => x.usedAs === 'slice')) {
      const name = path.basename(c.file);
      const row = rows.find((r) => r.name === name);
      check(row?.status === 'error' && (row.error || '').toLowerCase().includes(c.words.toLowerCase()),
        `${name}: error "${row?.error}"`);
    }

    // The overlay of the selected (first good) row.
    const canvas = await page.$eval('[data-testid="overlay"]', (c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] > 0) lit++;
      return { width: c.width, height: c.height, drawn: c.dataset.drawn, lit };
    });
    check(canvas.width > 0 && canvas.height > 0 && canvas.lit > 0,
      `overlay canvas drawn (${canvas.width}x${canvas.height}, ${canvas.lit} non-black pixels, ${canvas.drawn})`);
    const canvasSum = () => page.$eval('[data-testid="overlay"]', (c) =>
      c.getContext('2d').getImageData(0, 0, c.width, c.height).data.reduce((a, b) => a + b, 0));
    const withGgo = await canvasSum();
    await page.uncheck('[data-testid="toggle-ggo"]');
    const withoutGgo = await canvasSum();
    await page.check('[data-testid="toggle-ggo"]');
    check(withGgo !== withoutGgo && (await canvasSum()) === withGgo,
      'the GGO toggle redraws the overlay without re-running the model');
    const why = await page.$$eval('.why-table tbody tr', (trs) => trs.length);
    check(why === 10, `why view lists the 10 best-ranked rows of S's input (${why})`);

    // Selecting another row and sorting.
    if (good.length > 1) {
      await page.click(`[data-testid="batch-row"]:has-text("${path.basename(good[1])}")`);
      const drawn = await page.getAttribute('[data-testid="overlay"]', 'data-drawn');
      check(drawn === path.basename(good[1]), `clicking a row selects and draws it (${drawn})`);
    }
    await page.click('th button.sort:has-text("File")');
    const sortedNames = await page.$$eval('[data-testid="batch-row"] .file-name', (tds) =>
      tds.map((td) => td.textContent));
    const expected = [...sortedNames].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    check(JSON.stringify(sortedNames) === JSON.stringify(expected), 'sorting by file name');

    // Exports.
    const [csvDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-testid="export-csv"]'),
    ]);
    const csv = fs.readFileSync(await csvDownload.path(), 'utf8').trim().split('\n');
    check(csv.length === files.length + 1 && csv[0].startsWith('file,predicted_class'),
      `CSV export: header + ${csv.length - 1} lines (${csvDownload.suggestedFilename()})`);
    const [jsonDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-testid="export-json"]'),
    ]);
    const json = JSON.parse(fs.readFileSync(await jsonDownload.path(), 'utf8'));
    check(json.length === files.length, `JSON export: ${json.length} records`);

    const diagnostics = await page.inputValue('[data-testid="diagnostics-text"]');
    check(/backbone\+FPN \d+ ms/.test(diagnostics), 'diagnostics list per-stage timings');
    console.log(diagnostics.split('\n').map((l) => `  | ${l}`).join('\n'));

    // Dropping a file on the drop zone queues it like the file input does.
    const rowsBefore = await page.locator('[data-testid="batch-row"]').count();
    await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([], 'dropped.png', { type: 'image/png' }));
      const zone = document.querySelector('.drop-zone');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    });
    const dropped = page.locator('[data-testid="batch-row"]', { hasText: 'dropped.png' });
    await dropped.locator('[data-testid="row-error"]').waitFor({ timeout: 60_000 });
    check((await page.locator('[data-testid="batch-row"]').count()) === rowsBefore + 1 &&
      /empty/.test(await dropped.textContent()), 'a dropped file is queued and analysed');

    // Switching the backend while a slice is being analysed restarts the engine: the slice
    // starts again on the new one instead of failing. (This browser has no WebGPU adapter, so
    // "WebGPU when available" restarts on the CPU, and the button then says WebGPU is not
    // available.)
    const beforeSwitch = await page.locator('[data-testid="batch-row"]').count();
    await page.setInputFiles('[data-testid="file-input"]', good[good.length - 1]);
    await page.waitForFunction((n) => {
      const rows = document.querySelectorAll('[data-testid="batch-row"]');
      return rows.length > n && [...rows].some((r) => r.dataset.status === 'running');
    }, beforeSwitch, { timeout: 60_000 });
    await page.click('[data-testid="backend-switch"]');
    await waitForBatch(page, beforeSwitch + 1);
    const switched = await page.$$eval('[data-testid="batch-row"]', (trs) => {
      const tr = trs.reduce((a, b) => (Number(a.cells[0].textContent) > Number(b.cells[0].textContent) ? a : b));
      return { status: tr.dataset.status, text: tr.textContent };
    });
    check(switched.status === 'done',
      `a slice interrupted by a backend switch is analysed again (${switched.status}: ${switched.text.slice(0, 80)})`);
    await page.waitForSelector('[data-testid="weights-status"][data-state="placeholder"]', { timeout: MODEL_TIMEOUT_MS });
    const button = await page.textContent('[data-testid="backend-switch"]');
    check(/not available/.test(button) && await page.isDisabled('[data-testid="backend-switch"]'),
      `without an adapter the switch says so: "${button}"`);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`screenshot: ${SCREENSHOT}`);

    if (process.env.WEB_TEST_FINETUNE !== '0') {
      await finetunePhase(page, workDir, fixture);
    } else {
      console.log('fine-tuning: SKIPPED (WEB_TEST_FINETUNE=0)');
    }

    await studiesPhase(page, workDir, fixture);

    if (TEST_CHECKPOINTS && fs.existsSync(ORACLE_CHECKPOINTS)) {
      await checkpointsPhase(page, workDir, good[1] || fixture);
    } else {
      console.log('checkpoint loading: SKIPPED (no ../shared/oracle/checkpoints or WEB_TEST_CHECKPOINTS=0)');
    }

    if (fs.existsSync(DEFAULT_WEIGHTS)) {
      await defaultPhase(browser, good[1] || fixture);
    } else {
      console.log('default weights: SKIPPED (weights/ct-mask-net-default.safetensors is not there yet)');
    }

    if (process.env.WEB_TEST_WEBGPU !== '0') {
      const cpuRow = rows.find((r) => r.name === path.basename(fixture));
      await webgpuPhase(origin, fixture, cpuRow);
    } else {
      console.log('WebGPU: SKIPPED (WEB_TEST_WEBGPU=0)');
    }

    await offlinePhase(page, server, fixture);
  } finally {
    const foreign = requests.filter((r) => !r.local || r.body);
    check(foreign.length === 0,
      `privacy: ${requests.length} requests, all to ${origin}, none with a body` +
        (foreign.length ? `; offending: ${JSON.stringify(foreign)}` : ''));
    const cspErrors = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
    check(cspErrors.length === 0, `no Content-Security-Policy violations ${cspErrors.join(' ')}`);
    check(consoleErrors.length === 0,
      `no errors in the browser console${consoleErrors.length ? ':\n    ' + consoleErrors.join('\n    ') : ''}`);
    await browser.close();
    await server.stop().catch(() => {});
    fs.rmSync(workDir, { recursive: true, force: true });
  }

  // The plain closing line CI counts.
  console.log(`web: ${passed} passed, ${failures.length} failed`);
  if (failures.length) {
    console.log(`web test: ${failures.length} check(s) failed: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log('web test: all checks passed');
}

main().catch((error) => {
  console.error(`web test: ${error.stack || error}`);
  console.log(`web: ${passed} passed, ${failures.length + 1} failed`);
  process.exit(1);
});
