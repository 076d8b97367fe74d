// The page at `/`: pick, drop or paste an image, see its MSAC crop plan, ask, watch the answer
// stream, and with SCM see which detail tokens it kept. Plain browser JS against the server's
// own API (/v1/minimonkey/plan, /v1/chat/completions with stream: true); no build step.
'use strict';
const $ = (id) => document.getElementById(id);
const COLOURS = { detail: 'rgb(230,25,75)', adaptive: 'rgb(0,130,200)', global: 'rgb(60,180,75)' };
let image = null; // { dataUrl, width, height }
let controller = null;

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = $('api-key').value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

function status(text) {
  $('status').textContent = text;
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers() });
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).error.message; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

async function loadPresets() {
  const { presets, default: def } = await (await api('/v1/minimonkey/presets')).json();
  $('preset').replaceChildren(...presets.map((p) => new Option(p, p, p === def, p === def)));
}

function readFile(file) {
  if (!file || !file.type.startsWith('image/')) return status('that is not an image');
  const r = new FileReader();
  r.onload = () => showImage(r.result);
  r.readAsDataURL(file);
}

function showImage(dataUrl) {
  const img = $('image');
  img.onload = () => {
    image = { dataUrl, width: img.naturalWidth, height: img.naturalHeight };
    $('drop-hint').hidden = true;
    $('stage').hidden = false;
    $('heatmap').hidden = true;
    $('heatmap-toggle').hidden = true;
    drawPlan().catch((e) => status(`crop plan: ${e.message}`));
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

async function drawPlan() {
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
      const t = cell.score / top;
      g.fillStyle = cell.kept ? `hsla(${Math.round(240 - 240 * t)}, 90%, 50%, 0.5)` : 'rgba(60,60,60,0.6)';
      g.fillRect(cell.x, cell.y, cell.width, cell.height);
      n++;
    }
  }
  c.hidden = n === 0 || !$('show-heatmap').checked;
  c.dataset.cells = String(n);
  $('heatmap-toggle').hidden = n === 0;
}

function messages() {
  const text = $('question').value;
  const content = image ? [{ type: 'image_url', image_url: { url: image.dataUrl } }, { type: 'text', text }] : text;
  return [{ role: 'user', content }];
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
  $('answer').textContent = '';
  $('timings').textContent = '';
  status('asking');
  const t0 = performance.now();
  let first = 0;
  try {
    const body = {
      model: 'minimonkey', messages: messages(), stream: true, stream_options: { include_usage: true },
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
        if (!first) first = performance.now();
        $('answer').textContent += piece;
      }
      if (chunk.minimonkey) ext = chunk.minimonkey;
      if (chunk.usage) usage = chunk.usage;
    }
    const ms = (x) => `${Math.round(x)} ms`;
    const t = ext ? ext.timings : {};
    $('timings').textContent = [
      `total ${ms(performance.now() - t0)}`, first ? `first token ${ms(first - t0)}` : null,
      ext ? `encode ${ms(t.encode)}, prefill ${ms(t.prefill)}, generate ${ms(t.generate)}` : null,
      usage ? `${usage.prompt_tokens} prompt tokens (${usage.prompt_tokens_details.image_tokens} image), ${usage.completion_tokens} generated` : null,
      ext && ext.scm ? `SCM kept ${ext.scm.detailKept} of ${ext.scm.detailTokens} detail tokens` : null,
    ].filter(Boolean).join(' · ');
    if (ext && ext.scm) drawHeatmap(ext.scm);
    status('done');
  } catch (e) {
    status(e.name === 'AbortError' ? 'stopped' : `error: ${e.message}`);
  } finally {
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
$('preset').addEventListener('change', () => image && drawPlan());
$('show-heatmap').addEventListener('change', () => { $('heatmap').hidden = !$('show-heatmap').checked; });
$('ask').addEventListener('submit', ask);
$('stop').addEventListener('click', () => controller && controller.abort());
// With --api-key the first load fails until the key is typed: load again when it changes.
$('api-key').addEventListener('change', () => loadPresets().then(() => image && drawPlan()).catch((e) => status(`presets: ${e.message}`)));
loadPresets().catch((e) => status(`presets: ${e.message}`));
