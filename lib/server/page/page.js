// The page at `/`: pick, drop or paste an image (or a PDF, one page at a time), see its MSAC crop plan, ask and follow up in one
// conversation, watch each phase and the answer stream, and with SCM see which detail tokens it kept.
// Plain browser JS against the server's own API (/v1/minimonkey/plan, /v1/minimonkey/pdf,
// /v1/chat/completions with stream: true and its progress chunks); no build step.
'use strict';
const $ = (id) => document.getElementById(id);
const COLOURS = { detail: 'rgb(230,25,75)', adaptive: 'rgb(0,130,200)', global: 'rgb(60,180,75)' };
// The heatmap's colours: the stops of lib/llm/scm-heatmap.ts heatColour, so the page and `ask
// --scm-heatmap` draw the same picture (test/page.test.ts compares a pixel with heatColour).
const HEAT_STOPS = [[40, 40, 160], [250, 220, 40], [220, 30, 30]];
const DROPPED = 'rgba(70,70,70,0.6)';
let image = null; // { dataUrl, width, height }
let pdf = null; // { file, name, pages, page }: the PDF whose page `image` is, rendered by the server
let controller = null;
let history = []; // the conversation so far: OpenAI messages, the image in the first user turn
let lastQuestion = ''; // the question whose answer #answer shows
let answered = false; // #answer holds lastQuestion's whole answer (not a failed or stopped one)

function heatColour(t) {
  const u = Math.min(1, Math.max(0, t));
  const f = u * (HEAT_STOPS.length - 1);
  const i = Math.min(HEAT_STOPS.length - 2, Math.floor(f));
  const w = f - i;
  return HEAT_STOPS[i].map((c, j) => Math.round(c + (HEAT_STOPS[i + 1][j] - c) * w));
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = $('api-key').value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

function status(text) {
  $('status').textContent = text;
}

/** An error where the user looks: a red box under the header, and the status says so. */
function showError(text) {
  $('error').textContent = text;
  $('error').hidden = false;
  status('error');
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...headers(), ...init.headers } });
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).error.message; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

async function loadPresets() {
  const { presets, default: def, scm } = await (await api('/v1/minimonkey/presets')).json();
  $('preset').replaceChildren(...presets.map((p) => new Option(p, p, p === def, p === def)));
  $('scm').checked = scm === true; // the server's default (`serve --scm`)
}

const isPdf = (file) => file.type === 'application/pdf' || /\.pdf$/i.test(file.name);

function readFile(file) {
  if (!file) return;
  // A new file: nothing of the old one stays drawn (its plan, heatmap, page picker), even if this one fails.
  clearImage();
  if (isPdf(file)) {
    pdf = { file, name: file.name, pages: 0, page: 0 };
    return renderPdf(1);
  }
  if (!file.type.startsWith('image/')) return showError(`${file.name} is not an image or a PDF`);
  dataUrlOf(file).then(showImage);
}

function dataUrlOf(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

function clearImage() {
  image = null;
  pdf = null;
  $('image').removeAttribute('src');
  $('stage').hidden = true;
  $('drop-hint').hidden = false;
  $('pdf-picker').hidden = true;
  $('plan').textContent = '';
  $('legend').hidden = true;
  clearError();
  newConversation();
}

/**
 * Page `page` of the loaded PDF, rendered by the server (at the resolution the chosen preset gets in
 * the API) and then shown and asked about exactly as an uploaded image. A failure (corrupt,
 * encrypted, no such page, too large) shows in the error box; the page shown before stays.
 */
async function renderPdf(page) {
  const mine = pdf;
  $('pdf-page').disabled = true;
  status(`rendering page ${page}`);
  try {
    const q = new URLSearchParams({ page, crop: $('preset').value });
    const res = await api(`/v1/minimonkey/pdf?${q}`, { method: 'POST', body: mine.file, headers: { 'Content-Type': 'application/pdf' } });
    const url = await dataUrlOf(await res.blob());
    if (pdf !== mine) return; // another file was chosen meanwhile
    mine.pages = Number(res.headers.get('X-PDF-Pages'));
    mine.page = Number(res.headers.get('X-PDF-Page'));
    $('pdf-page').max = String(mine.pages);
    $('pdf-pages').textContent = String(mine.pages);
    $('pdf-picker').hidden = false;
    showImage(url);
  } catch (e) {
    if (pdf === mine) showError(`${mine.name}: ${e.message}`);
  } finally {
    if (pdf === mine) {
      $('pdf-page').value = String(mine.page || 1);
      $('pdf-page').disabled = false;
    }
  }
}

function showImage(dataUrl) {
  const img = $('image');
  img.onload = () => {
    image = { dataUrl, width: img.naturalWidth, height: img.naturalHeight };
    $('drop-hint').hidden = true;
    $('stage').hidden = false;
    clearError();
    newConversation();
    drawPlan().catch((e) => showError(`crop plan: ${e.message}`));
  };
  img.src = dataUrl;
}

function sizeCanvas(c) {
  c.width = image.width;
  c.height = image.height;
  return c.getContext('2d');
}

/** Cut lines of a cols x rows grid over the whole image. */
function grid(g, cols, rows, colour, width) {
  g.fillStyle = colour;
  for (let k = 1; k < cols; k++) g.fillRect(Math.round((k * image.width) / cols) - width / 2, 0, width, image.height);
  for (let k = 1; k < rows; k++) g.fillRect(0, Math.round((k * image.height) / rows) - width / 2, image.width, width);
}

/** The heatmap belongs to one plan and one answer: gone when either changes. */
function clearHeatmap() {
  $('heatmap').hidden = true;
  $('heatmap').dataset.cells = '0';
  $('heatmap-toggle').hidden = true;
  $('heatmap-legend').hidden = true;
}

/** A new conversation: earlier turns are forgotten (the image stays). */
function newConversation() {
  history = [];
  answered = false;
  $('history').replaceChildren();
  $('answer').textContent = '';
  $('timings').textContent = '';
  $('new-chat').hidden = true;
  clearHeatmap();
}

async function drawPlan() {
  clearHeatmap();
  const q = new URLSearchParams({ width: image.width, height: image.height, crop: $('preset').value });
  const plan = await (await api(`/v1/minimonkey/plan?${q}`)).json();
  const g = sizeCanvas($('plan-canvas'));
  const unit = Math.max(2, Math.round(Math.max(image.width, image.height) / 400));
  g.strokeStyle = COLOURS.global;
  g.lineWidth = 2 * unit;
  g.strokeRect(unit, unit, image.width - 2 * unit, image.height - 2 * unit);
  if (plan.adaptive) grid(g, plan.adaptive.cols, plan.adaptive.rows, COLOURS.adaptive, 3 * unit);
  grid(g, plan.detail.cols, plan.detail.rows, COLOURS.detail, unit);
  const L = plan.layers;
  $('plan').textContent =
    `${plan.width}x${plan.height}: detail ${plan.detail.cols}x${plan.detail.rows} (${L.detail.count} tiles), ` +
    `adaptive ${plan.adaptive ? `${plan.adaptive.cols}x${plan.adaptive.rows} (${L.adaptive.count} tiles)` : 'none'}, ` +
    `global 1; ${plan.tileCount} tiles, ${plan.imageTokens} image tokens`;
  $('legend').hidden = false;
  status('ready');
}

/** SCM's kept detail tokens coloured by score (relative to the highest), dropped ones greyed. */
function drawHeatmap(scm) {
  const c = $('heatmap');
  const g = sizeCanvas(c);
  let n = 0;
  for (const block of scm.images) {
    if (block.image !== 0 || !block.cells) continue;
    const top = Math.max(...block.cells.map((x) => x.score)) || 1;
    for (const cell of block.cells) {
      g.fillStyle = cell.kept ? `rgba(${heatColour(cell.score / top).join(',')},0.55)` : DROPPED;
      g.fillRect(cell.x, cell.y, cell.width, cell.height);
      n++;
    }
  }
  c.hidden = n === 0 || !$('show-heatmap').checked;
  c.dataset.cells = String(n);
  $('heatmap-toggle').hidden = n === 0;
  $('heatmap-legend').hidden = n === 0;
}

/** This turn's user message: the image goes with the first question of a conversation only. */
function userMessage() {
  const text = $('question').value;
  const content = image && history.length === 0 ? [{ type: 'image_url', image_url: { url: image.dataUrl } }, { type: 'text', text }] : text;
  return { role: 'user', content };
}

function addTurn(role, text) {
  const div = document.createElement('div');
  div.className = `turn ${role}`;
  div.textContent = text; // text only: nothing the model writes becomes markup
  $('history').append(div);
}

const PHASES = { encode: 'encoding tile', scm: 'SCM pre-pass', prefill: 'prefill' };

/** "encoding tile 3 of 28", "prefill 40%": what the server is doing now. */
function showPhase(p) {
  const name = PHASES[p.phase] || p.phase;
  const text = p.phase === 'encode' ? `${name} ${Math.min(p.done + 1, p.total)} of ${p.total}`
    : p.phase === 'prefill' || p.phase === 'scm' ? `${name} ${p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100}%`
    : name;
  $('phase').textContent = text;
  $('phase').hidden = false;
  status(text);
}

/** SSE events of a fetch response body, as parsed JSON (until [DONE]). */
async function* events(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 2);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') return;
      yield JSON.parse(data);
    }
  }
}

async function ask(ev) {
  ev.preventDefault();
  controller = new AbortController();
  $('send').disabled = true;
  $('stop').disabled = false;
  if (answered) {
    addTurn('user', lastQuestion);
    addTurn('assistant', $('answer').textContent);
    answered = false;
  }
  $('answer').textContent = '';
  $('timings').textContent = '';
  clearError();
  clearHeatmap();
  status('waiting for the model');
  const t0 = performance.now();
  let first = 0;
  const user = userMessage();
  try {
    const body = {
      model: 'minimonkey', messages: [...history, user], stream: true, stream_options: { include_usage: true },
      max_tokens: Number($('max-tokens').value) || 256,
      minimonkey: { crop: $('preset').value, scm: $('scm').checked, scm_heatmap: true },
    };
    const res = await api('/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), signal: controller.signal });
    let ext = null;
    let usage = null;
    for await (const chunk of events(res)) {
      if (chunk.error) throw new Error(chunk.error.message);
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) {
        if (!first) {
          first = performance.now();
          $('phase').hidden = true;
          status('answering');
        }
        $('answer').textContent += piece;
      }
      if (chunk.minimonkey && chunk.minimonkey.progress) showPhase(chunk.minimonkey.progress);
      else if (chunk.minimonkey) ext = chunk.minimonkey;
      if (chunk.usage) usage = chunk.usage;
    }
    const ms = (x) => `${Math.round(x)} ms`;
    const t = ext ? ext.timings : {};
    $('timings').textContent = [
      `total ${ms(performance.now() - t0)}`, first ? `first token ${ms(first - t0)}` : null,
      ext ? `encode ${ms(t.encode)}${ext.image_cache_hits ? ` (${ext.image_cache_hits} image from the cache)` : ''}, ` +
        `${ext.scm ? `SCM pre-pass ${ms(ext.scm.prepassMs)}, ` : ''}prefill ${ms(t.prefill)}, generate ${ms(t.generate)}` : null,
      usage ? `${usage.prompt_tokens} prompt tokens (${usage.prompt_tokens_details.image_tokens} image), ${usage.completion_tokens} generated` : null,
      ext && ext.scm ? `SCM kept ${ext.scm.detailKept} of ${ext.scm.detailTokens} detail tokens` : null,
    ].filter(Boolean).join(' · ');
    if (ext && ext.scm) drawHeatmap(ext.scm);
    // The turn joins the conversation; the next question follows up on it (and moves this one up).
    history.push(user, { role: 'assistant', content: $('answer').textContent });
    lastQuestion = $('question').value;
    answered = true;
    $('question').value = '';
    $('new-chat').hidden = false;
    status('done');
  } catch (e) {
    if (e.name === 'AbortError') status('stopped');
    else showError(e.message);
  } finally {
    $('phase').hidden = true;
    $('send').disabled = false;
    $('stop').disabled = true;
  }
}

$('file').addEventListener('change', (e) => readFile(e.target.files[0]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); readFile(e.dataTransfer.files[0]); });
document.addEventListener('paste', (e) => {
  const item = [...e.clipboardData.items].find((i) => i.type.startsWith('image/'));
  if (item) readFile(item.getAsFile());
});
// A PDF page is rendered for the preset (README "PDFs": its resolution), so a new preset renders it again.
$('preset').addEventListener('change', () => (pdf && pdf.page ? renderPdf(pdf.page) : image && drawPlan()));
$('pdf-page').addEventListener('change', () => pdf && renderPdf(Number($('pdf-page').value)));
$('show-heatmap').addEventListener('change', () => { $('heatmap').hidden = !$('show-heatmap').checked; });
$('ask').addEventListener('submit', ask);
$('new-chat').addEventListener('click', newConversation);
$('heat-scale').style.background = `linear-gradient(to right, ${HEAT_STOPS.map((c) => `rgb(${c.join(',')})`).join(', ')})`;
$('stop').addEventListener('click', () => controller && controller.abort());
// With --api-key the first load fails until the key is typed: load again when it changes.
$('api-key').addEventListener('change', () => loadPresets().then(() => { clearError(); return image && drawPlan(); }).catch((e) => showError(`presets: ${e.message}`)));
loadPresets().catch((e) => showError(`presets: ${e.message}`));
