// impasto serve's page in a real browser: Debian's chromium driven by playwright-core (no browser
// download: playwright-core only drives the one installed). Starts the server on a free loopback
// port, loads the page, uploads a photo and a painting, runs a fast network and an AdaIN job
// (watching the progress bar move), sees the results and the before/after slider, cancels a long
// transfer, reloads and finds the session's gallery again; saves screenshots. Prints "N passed, N failed".
//   node tests/browser/test_page.js IMPASTO NODE_MODULES WORKDIR SHOTDIR   (tests/cli/test_serve.sh runs it)
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const [impasto, nodeModules, work, shots] = process.argv.slice(2);
const { chromium } = require(path.resolve(nodeModules, 'playwright-core'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let passed = 0, failed = 0;

function check(name, cond, detail) {
  if (cond) { passed++; console.log('ok ' + name); } else { failed++; console.log('not ok ' + name + (detail !== undefined ? ' - ' + JSON.stringify(detail).slice(0, 300) : '')); }
  return cond;
}

function startServer() {
  return new Promise((resolve, reject) => {
    const p = spawn(impasto, ['serve', '--port', '0', '--data', path.join(work, 'data'), '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => reject(new Error('the server did not start: ' + err)), 60000);
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) { clearTimeout(timer); resolve({ p, url: m[1], stderr: () => err }); }
    });
  });
}

// Polls fn in the page until it returns true (or times out).
async function until(page, fn, arg, timeout = 120000) {
  try { await page.waitForFunction(fn, arg, { timeout, polling: 50 }); return true; } catch (e) { return false; }
}

// Records the progress bar's values from a click on Paint until the new job's status says
// doneText (the previous job's id is how the new one is told apart), polling in the page.
async function paintAndWatch(page, doneText, start, timeout = 120000) {
  const old = await page.evaluate(() => document.body.dataset.job || '');
  const seen = page.evaluate(([old, doneText, timeout]) => new Promise((resolve) => {
    const seen = [];
    const t0 = Date.now();
    const tick = () => {
      const fresh = (document.body.dataset.job || '') !== old;
      const v = Number(document.getElementById('bar').value);
      if (fresh && (!seen.length || seen[seen.length - 1] !== v)) seen.push(v);
      if ((fresh && document.getElementById('status').textContent.includes(doneText)) || Date.now() - t0 > timeout) resolve(seen);
      else setTimeout(tick, 10);
    };
    tick();
  }), [old, doneText, timeout]);
  await start();
  return seen;
}

async function setRange(page, id, presses, key) {
  await page.focus('#' + id);
  await page.keyboard.press('Home');
  for (let i = 0; i < presses; i++) await page.keyboard.press(key || 'ArrowRight');
}

async function main() {
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(shots, { recursive: true });
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await page.goto(server.url);
    check('page: loads and asks the server for its token and models', await until(page, () => document.body.dataset.ready === '1'));
    check('page: every method is offered', (await page.$$eval('#method option:not([disabled])', (o) => o.map((x) => x.value))).join() === 'fast,adain,wct,transfer');
    check('page: the fast networks are listed', (await page.$$eval('#network option', (o) => o.map((x) => x.value))).includes('candy'));

    // ---- two files ----
    await page.setInputFiles('#content', 'examples/images/horses.jpg');
    await page.setInputFiles('#style', 'examples/images/scream.jpg');
    check('upload: both pictures previewed', await until(page, () => document.getElementById('content-preview').naturalWidth > 0 &&
      document.getElementById('style-preview').naturalWidth > 0, null, 10000));

    // ---- a fast network, chosen and started with the keyboard ----
    await page.focus('#method');
    await page.selectOption('#method', 'fast');
    check('fast: the painting gives way to the network list', await page.isHidden('#style-drop') && await page.isVisible('#network-box'));
    await page.selectOption('#network', 'candy');
    await setRange(page, 'size', 4);  // 128 + 4 * 32 = 256 px
    check('keyboard: the size slider moves with the arrow keys', (await page.textContent('#size-out')) === '256 px');
    const fastBar = await paintAndWatch(page, 'done', async () => { await page.focus('#start'); await page.keyboard.press('Enter'); });
    check('fast: the job finishes and the bar is full', fastBar[fastBar.length - 1] === 1, fastBar);
    check('fast: the result is shown', await until(page, () => document.getElementById('after').naturalWidth === 256, null, 20000));

    // ---- AdaIN ----
    await page.selectOption('#method', 'adain');
    check('adain: the painting and the strength slider are back', await page.isVisible('#style-drop') && await page.isVisible('#alpha'));
    await setRange(page, 'alpha', 16);  // 0.8
    check('adain: strength 0.80', (await page.textContent('#alpha-out')) === '0.80');
    await setRange(page, 'size', 4);
    const adainBar = await paintAndWatch(page, 'done', () => page.click('#start'));
    check('adain: the progress bar moves through the passes', adainBar.some((v) => v > 0 && v < 1) && adainBar[adainBar.length - 1] === 1, adainBar);
    check('adain: the result is shown', await until(page, () => document.getElementById('after').naturalWidth === 256 &&
      document.getElementById('before').naturalWidth === 256, null, 20000));
    const clip0 = await page.$eval('#before', (e) => e.style.clipPath);
    await page.focus('#split');
    for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowLeft');
    const clip1 = await page.$eval('#before', (e) => e.style.clipPath);
    check('result: the before/after slider moves with the keyboard', clip0 !== clip1 && clip1.includes('70%'), [clip0, clip1]);
    await page.focus('#split');
    for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowRight');
    const href = await page.getAttribute('#download-png', 'href');
    const dl = await page.evaluate(async (h) => { const r = await fetch(h); return [r.status, r.headers.get('content-type')]; }, href);
    check('result: the download link gives the PNG', dl[0] === 200 && dl[1] === 'image/png', dl);
    await page.screenshot({ path: path.join(shots, 'serve-page.png'), fullPage: true });
    await page.screenshot({ path: path.join(shots, 'serve-page.jpg'), type: 'jpeg', quality: 75, fullPage: true });

    // ---- a long transfer, cancelled ----
    await page.selectOption('#method', 'transfer');
    await setRange(page, 'size', 0);      // 128 px
    await setRange(page, 'iterations', 99); // 1000
    const old = await page.evaluate(() => document.body.dataset.job);
    await page.click('#start');
    await until(page, (o) => document.body.dataset.job !== o, old, 20000);
    check('transfer: the bar starts moving', await until(page, () => { const v = Number(document.getElementById('bar').value); return v > 0.002 && v < 1; }, null, 180000));
    const before = Number(await page.$eval('#bar', (e) => e.value));
    await until(page, (b) => Number(document.getElementById('bar').value) > b, before, 60000);
    const after = Number(await page.$eval('#bar', (e) => e.value));
    check('transfer: and keeps moving', after > before, [before, after]);
    check('transfer: the old result is put away while it runs', await page.isHidden('#result'));
    await page.screenshot({ path: path.join(shots, 'serve-progress.jpg'), type: 'jpeg', quality: 75, clip: { x: 0, y: 0, width: 1100, height: 565 } });
    await page.click('#cancel');
    check('transfer: Cancel stops it', await until(page, () => document.getElementById('status').textContent.includes('cancelled'), null, 60000),
      await page.textContent('#status'));
    check('transfer: the bar stops short of the end', Number(await page.$eval('#bar', (e) => e.value)) < 1);

    // ---- the gallery survives a reload ----
    check('gallery: three jobs this session', (await page.$$('#gallery li')).length === 3);
    await page.reload();
    await until(page, () => document.body.dataset.ready === '1');
    check('gallery: still three after a reload', await until(page, () => document.querySelectorAll('#gallery li').length === 3, null, 10000));
    const states = await page.$$eval('#gallery li div', (d) => d.map((x) => x.textContent));
    check('gallery: done, done and cancelled', states.join('|') === 'transfer, cancelled|adain, done|fast candy, done', states);
    await page.keyboard.press('Tab');
    check('page: no script errors', errors.length === 0, errors);
  } catch (e) {
    check('browser test ran to the end', false, e.stack || String(e));
  } finally {
    await browser.close();
    server.p.kill('SIGTERM');
    const code = await new Promise((r) => server.p.on('exit', r));
    check('server: exits 0 on SIGTERM', code === 0, server.stderr());
  }
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
}

main();
