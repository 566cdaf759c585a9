// impasto serve's page: plain JavaScript, no framework. It talks to the JSON API (docs/serve.md):
// the token from GET /api/token goes with every request that changes something, progress comes
// as Server-Sent Events, and this tab's job ids are kept in sessionStorage so that a reload finds
// its results (and running jobs) again.
'use strict';

const $ = (id) => document.getElementById(id);
const SESSION_KEY = 'impasto-jobs';
let token = '';
let models = null;
let contentSize = null; // the photo's natural size, for fast's content-scale
let current = null;     // the job shown in the progress and result sections
let events = null;

function sessionJobs() {
  try { return JSON.parse(sessionStorage.getItem(SESSION_KEY) || '[]'); } catch (e) { return []; }
}
function saveSessionJobs(ids) { sessionStorage.setItem(SESSION_KEY, JSON.stringify(ids)); }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (options.method && options.method !== 'GET') headers['X-Impasto-Token'] = token;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await r.json(); } catch (e) { body = {}; }
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

function formatSeconds(s) {
  if (s == null || !isFinite(s)) return '';
  s = Math.round(s);
  return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
}

// ---- the form ----

function method() { return $('method').value; }

function updateMethod() {
  const m = method();
  $('style-drop').hidden = m === 'fast';
  $('network-box').hidden = m !== 'fast';
  for (const el of document.querySelectorAll('.slider')) el.hidden = !el.dataset.for.split(' ').includes(m);
}

function styleWeight() { return Math.round(Math.pow(10, Number($('style-weight').value))); }

function updateOutputs() {
  $('alpha-out').textContent = Number($('alpha').value).toFixed(2);
  $('style-weight-out').textContent = styleWeight();
  $('size-out').textContent = $('size').value + ' px';
  $('iterations-out').textContent = $('iterations').value;
}

function showPreview(input, img) {
  const file = input.files[0];
  if (!file) { img.hidden = true; return; }
  const url = URL.createObjectURL(file);
  img.onload = () => {
    if (input.id === 'content') contentSize = [img.naturalWidth, img.naturalHeight];
  };
  img.src = url;
  img.alt = file.name;
  img.hidden = false;
}

function setupDrop(zoneId, inputId, previewId) {
  const zone = $(zoneId), input = $(inputId), img = $(previewId);
  input.addEventListener('change', () => showPreview(input, img));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      showPreview(input, img);
    }
  });
}

function formData() {
  const m = method();
  const fd = new FormData();
  const content = $('content').files[0];
  if (!content) throw new Error('Choose a photo first.');
  fd.append('method', m);
  fd.append('content', content);
  const size = Number($('size').value);
  if (m === 'fast') {
    if (!$('network').value) throw new Error('No fast network is installed.');
    fd.append('network', $('network').value);
    if (contentSize) fd.append('content-scale', String(Math.max(1, Math.max(...contentSize) / size)));
  } else {
    const style = $('style').files[0];
    if (!style) throw new Error('Choose a painting first.');
    fd.append('style', style);
  }
  if (m === 'adain' || m === 'wct') {
    fd.append('alpha', $('alpha').value);
    fd.append('content-size', String(size));
    fd.append('style-size', String(size));
  }
  if (m === 'transfer') {
    fd.append('image-size', String(size));
    fd.append('num-iterations', $('iterations').value);
    fd.append('style-weight', String(styleWeight()));
    fd.append('init', 'image');
  }
  return fd;
}

async function submit(e) {
  e.preventDefault();
  $('form-error').textContent = '';
  let fd;
  try { fd = formData(); } catch (err) { $('form-error').textContent = err.message; return; }
  $('start').disabled = true;
  try {
    const job = await api('/api/jobs', { method: 'POST', body: fd });
    const ids = sessionJobs();
    ids.push(job.id);
    saveSessionJobs(ids);
    follow(job.id);
    await renderGallery();
  } catch (err) {
    $('form-error').textContent = err.message;
  } finally {
    $('start').disabled = false;
  }
}

// ---- progress ----

function showProgress(job) {
  $('run').hidden = false;
  const bar = $('bar');
  bar.value = job.progress || 0;
  let text = job.method + ': ' + job.state;
  if (job.state === 'running') {
    const pct = 100 * (job.progress || 0);
    text += ' — ' + pct.toFixed(pct < 10 ? 1 : 0) + '%';
    if (job.iterations) text += ' (' + job.iteration + ' / ' + job.iterations + ')';
    if (job.eta != null) text += ', about ' + formatSeconds(job.eta) + ' left';
  }
  if (job.state === 'failed' && job.error) text += ': ' + job.error;
  if (job.state === 'done') text += ' in ' + formatSeconds(job.seconds);
  $('status').textContent = text;
  $('cancel').hidden = !(job.state === 'queued' || job.state === 'running');
}

function follow(id) {
  if (events) events.close();
  current = id;
  document.body.dataset.job = id;
  $('result').hidden = true;
  $('run').hidden = false;
  $('bar').value = 0;
  $('status').textContent = 'queued';
  $('cancel').hidden = false;
  events = new EventSource('/api/jobs/' + id + '/events');
  const update = (ev) => {
    const job = JSON.parse(ev.data);
    if (current !== id) return;
    showProgress(job);
    if (ev.type === 'end') {
      events.close();
      events = null;
      if (job.result) showResult(job);
      renderGallery();
    }
  };
  events.addEventListener('progress', update);
  events.addEventListener('end', update);
}

async function cancel() {
  if (!current) return;
  try { await api('/api/jobs/' + current, { method: 'DELETE' }); } catch (err) { $('status').textContent = err.message; }
}

// ---- the result and the gallery ----

function showResult(job) {
  $('result').hidden = false;
  const base = '/api/jobs/' + job.id;
  const stamp = '?v=' + encodeURIComponent(job.seconds);
  $('after').src = base + '/result.png' + stamp;
  $('before').src = base + '/content.jpg' + stamp;
  $('download-png').href = base + '/result.png';
  $('download-png').setAttribute('download', 'impasto-' + job.id.slice(0, 8) + '.png');
  $('download-jpg').href = base + '/result.jpg';
  $('download-jpg').setAttribute('download', 'impasto-' + job.id.slice(0, 8) + '.jpg');
  updateSplit();
  for (const li of document.querySelectorAll('#gallery li')) li.classList.toggle('current', li.dataset.id === job.id);
}

function updateSplit() {
  const v = Number($('split').value);
  $('before').style.clipPath = 'inset(0 ' + (100 - v) + '% 0 0)';
}

async function renderGallery() {
  const ids = sessionJobs();
  const list = $('gallery');
  const jobs = [];
  for (const id of ids) {
    try { jobs.push(await api('/api/jobs/' + id)); } catch (e) { /* deleted elsewhere */ }
  }
  saveSessionJobs(jobs.map((j) => j.id));
  list.replaceChildren();
  $('gallery-empty').hidden = jobs.length > 0;
  for (const job of jobs.slice().reverse()) {
    const li = document.createElement('li');
    li.dataset.id = job.id;
    li.classList.toggle('current', job.id === current);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'thumb';
    const label = job.method + (job.network ? ' ' + job.network : '') + ', ' + job.state;
    b.setAttribute('aria-label', 'show ' + label);
    if (job.result) {
      const img = document.createElement('img');
      img.src = job.result + '?v=' + encodeURIComponent(job.seconds);
      img.alt = '';
      b.appendChild(img);
    } else {
      b.textContent = job.state;
    }
    b.addEventListener('click', () => {
      current = job.id;
      showProgress(job);
      if (job.result) showResult(job);
      if (job.state === 'queued' || job.state === 'running') follow(job.id);
    });
    const caption = document.createElement('div');
    caption.textContent = label;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.textContent = job.state === 'queued' || job.state === 'running' ? 'Cancel' : 'Delete';
    remove.setAttribute('aria-label', remove.textContent + ' ' + label);
    remove.addEventListener('click', async () => {
      try { await api('/api/jobs/' + job.id, { method: 'DELETE' }); } catch (e) { /* already gone */ }
      if (current === job.id && remove.textContent === 'Delete') { $('result').hidden = true; $('run').hidden = true; }
      renderGallery();
    });
    li.append(b, caption, remove);
    list.appendChild(li);
  }
  return jobs;
}

async function init() {
  token = (await api('/api/token')).token;
  models = await api('/api/models');
  for (const m of models.methods) {
    const opt = $('method').querySelector('option[value="' + m.name + '"]');
    if (opt && !m.available) { opt.disabled = true; opt.textContent += ' — ' + m.why; }
  }
  for (const n of models.networks) {
    const o = document.createElement('option');
    o.value = n;
    o.textContent = n;
    $('network').appendChild(o);
  }
  setupDrop('content-drop', 'content', 'content-preview');
  setupDrop('style-drop', 'style', 'style-preview');
  $('method').addEventListener('change', updateMethod);
  for (const id of ['alpha', 'style-weight', 'size', 'iterations']) $(id).addEventListener('input', updateOutputs);
  $('split').addEventListener('input', updateSplit);
  $('job').addEventListener('submit', submit);
  $('cancel').addEventListener('click', cancel);
  updateMethod();
  updateOutputs();
  // After a reload: follow this tab's job that is still going, else show its latest result.
  const jobs = await renderGallery();
  const going = jobs.filter((j) => j.state === 'queued' || j.state === 'running');
  if (going.length) follow(going[going.length - 1].id);
  else if (jobs.length && jobs[jobs.length - 1].result) { current = jobs[jobs.length - 1].id; showProgress(jobs[jobs.length - 1]); showResult(jobs[jobs.length - 1]); }
  document.body.dataset.ready = '1';
}

init().catch((err) => { $('form-error').textContent = 'Cannot reach the server: ' + err.message; });
