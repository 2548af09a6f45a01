// hopfield app: the page's logic. Plain JavaScript, no libraries, no build step.
// The page holds the state and the memories; every computation is a JSON request
// to the server, which runs it on the library (see hopfield/app/api.py).
"use strict";

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// requests

let lastRoundTrip = null;

async function post(path, body) {
  const t0 = performance.now();
  const resp = await fetch("/api/" + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({ error: resp.statusText }));
  lastRoundTrip = performance.now() - t0;
  $("roundtrip").textContent = `round trip ${lastRoundTrip.toFixed(1)} ms`;
  $("roundtrip").dataset.ms = lastRoundTrip.toFixed(3);
  if (!resp.ok) {
    showError(`${resp.status}: ${data.error || resp.statusText}`);
    throw new Error(data.error || resp.statusText);
  }
  showError(null);
  return data;
}

function showError(message) {
  const el = $("error");
  el.hidden = !message;
  el.textContent = message || "";
}

// ---------------------------------------------------------------------------
// drawing helpers

function drawCells(canvas, values, rows, cols, highlight = -1) {
  // values: ±1 spins or reals in [-1, 1] (grey levels); +1 is ink.
  const ctx = canvas.getContext("2d");
  const cw = canvas.width / cols, ch = canvas.height / rows;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < rows * cols; i++) {
    const v = Math.max(-1, Math.min(1, values[i]));
    const g = Math.round(255 * (1 - (v + 1) / 2));
    ctx.fillStyle = `rgb(${g},${g},${Math.min(255, g + 20)})`;
    const r = Math.floor(i / cols), c = i % cols;
    ctx.fillRect(c * cw, r * ch, cw, ch);
  }
  if (cw >= 6) {
    ctx.strokeStyle = "rgba(120,130,140,0.35)";
    ctx.lineWidth = 1;
    for (let r = 0; r <= rows; r++) { ctx.beginPath(); ctx.moveTo(0, r * ch); ctx.lineTo(canvas.width, r * ch); ctx.stroke(); }
    for (let c = 0; c <= cols; c++) { ctx.beginPath(); ctx.moveTo(c * cw, 0); ctx.lineTo(c * cw, canvas.height); ctx.stroke(); }
  }
  if (highlight >= 0) {
    ctx.strokeStyle = "#e0532b";
    ctx.lineWidth = 2;
    ctx.strokeRect((highlight % cols) * cw + 1, Math.floor(highlight / cols) * ch + 1, cw - 2, ch - 2);
  }
}

function drawLine(canvas, ys, label) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const pts = ys.filter((y) => Number.isFinite(y));
  if (pts.length === 0) return;
  const lo = Math.min(...pts), hi = Math.max(...pts);
  const span = hi - lo || 1;
  const pad = 14;
  ctx.strokeStyle = "#2f6fba";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ys.forEach((y, k) => {
    const x = pad + (canvas.width - 2 * pad) * (ys.length > 1 ? k / (ys.length - 1) : 0);
    const yy = canvas.height - pad - (canvas.height - 2 * pad) * (y - lo) / span;
    if (k === 0) ctx.moveTo(x, yy); else ctx.lineTo(x, yy);
  });
  ctx.stroke();
  ctx.fillStyle = "#5d6875";
  ctx.font = "11px sans-serif";
  ctx.fillText(`${label}: ${ys[0].toFixed(2)} → ${ys[ys.length - 1].toFixed(2)}`, pad, 11);
}

function drawBars(container, values, labels, { signed = true, best = -1 } = {}) {
  container.innerHTML = "";
  values.forEach((v, k) => {
    const name = document.createElement("span");
    name.textContent = labels[k];
    const bar = document.createElement("div");
    bar.className = "bar" + (k === best ? " best" : "");
    const fill = document.createElement("span");
    if (signed) {
      const w = Math.abs(v) * 50;
      fill.style.left = (v >= 0 ? 50 : 50 - w) + "%";
      fill.style.width = w + "%";
      if (v < 0) fill.className = "neg";
    } else {
      fill.style.left = "0";
      fill.style.width = (100 * v) + "%";
    }
    bar.appendChild(fill);
    const num = document.createElement("span");
    num.textContent = signed ? v.toFixed(2) : v.toFixed(3);
    container.append(name, bar, num);
  });
  container.dataset.values = JSON.stringify(values);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// panel 1: draw and retrieve

const draw = {
  rows: 9, cols: 7,
  state: [],            // the grid: ±1 (reals after a modern update)
  memories: [], labels: [],
  mine: [], mineLabels: [],   // "my drawings", per grid size
  energies: [],
  busy: false,
  painting: false,
};

function gridKey() { return `${draw.rows}x${draw.cols}`; }

function setState(values, highlight = -1) {
  draw.state = values.slice();
  drawCells($("grid"), draw.state, draw.rows, draw.cols, highlight);
  $("grid").dataset.state = draw.state.map((v) => (v > 0 ? "+" : "-")).join("");
  $("grid").dataset.shape = gridKey();
}

function modelSpec() {
  const kind = $("model").value;
  return { kind, degree: Number($("degree").value), beta: Number($("model-beta").value) };
}

function binaryState() { return draw.state.map((v) => (v > 0 ? 1 : -1)); }

async function loadMemories() {
  const set = $("memory-set").value;
  if (set === "mine") {
    const mine = draw.mine[gridKey()] || { patterns: [], labels: [] };
    draw.memories = mine.patterns.slice();
    draw.labels = mine.labels.slice();
  } else {
    const data = await post("memories", { set, shape: [draw.rows, draw.cols], count: 4, seed: 7 });
    draw.memories = data.patterns;
    draw.labels = data.labels;
  }
  renderThumbs();
  drawBars($("overlaps"), [], []);
  $("reached").textContent = "–";
}

function renderThumbs() {
  const list = $("memory-list");
  list.innerHTML = "";
  const scale = draw.cols > 16 ? 1.5 : draw.cols > 8 ? 2.5 : 4;
  draw.memories.forEach((p, k) => {
    const c = document.createElement("canvas");
    c.width = Math.round(draw.cols * scale);
    c.height = Math.round(draw.rows * scale);
    c.title = draw.labels[k];
    c.dataset.index = k;
    drawCells(c, p, draw.rows, draw.cols);
    c.addEventListener("click", () => { setState(p); resetTrace(); });
    list.appendChild(c);
  });
  list.dataset.count = draw.memories.length;
}

function resetTrace() {
  draw.energies = [];
  $("sweeps").textContent = "0";
  drawLine($("energy-plot"), [], "energy");
}

function cellAt(ev) {
  const rect = $("grid").getBoundingClientRect();
  const c = Math.floor((ev.clientX - rect.left) / rect.width * draw.cols);
  const r = Math.floor((ev.clientY - rect.top) / rect.height * draw.rows);
  if (r < 0 || c < 0 || r >= draw.rows || c >= draw.cols) return -1;
  return r * draw.cols + c;
}

function paint(ev) {
  const i = cellAt(ev);
  if (i < 0 || draw.busy) return;
  const value = $("tool-erase").checked ? -1 : 1;
  if (draw.state[i] !== value) {
    const next = binaryState();
    next[i] = value;
    setState(next);
  }
}

function updateRequest(action, extra = {}) {
  return {
    shape: [draw.rows, draw.cols],
    patterns: draw.memories,
    labels: draw.labels,
    model: modelSpec(),
    state: $("model").value === "modern" ? draw.state : binaryState(),
    action,
    temperature: Number($("temperature").value),
    seed: Math.floor(Math.random() * 2 ** 31),
    ...extra,
  };
}

function showResult(data) {
  $("energy").textContent = data.energy.toFixed(3);
  $("reached").textContent = data.reached.text;
  $("reached").dataset.category = data.reached.category;
  $("reached").dataset.label = data.reached.label;
  drawBars($("overlaps"), data.overlaps, draw.labels, { best: data.reached.index });
}

function addEnergies(values) {
  draw.energies.push(...values);
  drawLine($("energy-plot"), draw.energies, "energy");
}

async function run(action) {
  if (draw.busy) return;
  if (draw.memories.length === 0) { showError("store at least one memory first"); return; }
  draw.busy = true;
  document.body.dataset.busy = "1";
  try {
    const temperature = Number($("temperature").value);
    const extra = action === "converge" && temperature > 0 ? { max_sweeps: 30 } : {};
    const data = await post("update", updateRequest(action, extra));
    if (draw.energies.length === 0) draw.energies.push(data.frame_energies[0]);
    if (action === "sweep") {
      // animate the sweep one neuron at a time
      const per = Math.max(1, Math.ceil(data.order.length / 120));
      const cur = draw.state.slice();
      for (let k = 0; k < data.order.length; k++) {
        const i = data.order[k];
        cur[i] = data.state[i];
        if ((k + 1) % per === 0 || k === data.order.length - 1) {
          setState(cur, i);
          $("energy").textContent = data.energies[k + 1].toFixed(3);
          await sleep(12);
        }
      }
      addEnergies(data.energies.slice(1));
    } else if (action === "converge") {
      for (let k = 0; k < data.frames.length; k++) {
        setState(data.frames[k]);
        $("energy").textContent = data.frame_energies[k + 1].toFixed(3);
        $("sweeps").textContent = String(Number($("sweeps").textContent) + 1);
        addEnergies([data.frame_energies[k + 1]]);
        await sleep(90);
      }
    } else {
      addEnergies([data.energy]);
    }
    setState(data.state);
    if (action !== "converge") $("sweeps").textContent = String(Number($("sweeps").textContent) + data.sweeps);
    showResult(data);
  } catch (err) {
    // shown by post()
  } finally {
    draw.busy = false;
    delete document.body.dataset.busy;
  }
}

function setGrid(value) {
  const [r, c] = value.split("x").map(Number);
  draw.rows = r;
  draw.cols = c;
  setState(new Array(r * c).fill(-1));
  resetTrace();
  return loadMemories();
}

function syncModelInputs() {
  const kind = $("model").value;
  $("degree-label").hidden = kind !== "dense";
  $("model-beta-label").hidden = !(kind === "modern" || kind === "exponential");
  $("btn-step").disabled = kind === "modern";
  $("temperature").disabled = kind === "modern";
  if (kind !== "modern") setState(binaryState());
}

function exportJSON() {
  const blob = new Blob([JSON.stringify({
    shape: [draw.rows, draw.cols],
    state: draw.state,
    memories: draw.memories,
    labels: draw.labels,
    model: modelSpec(),
    temperature: Number($("temperature").value),
  }, null, 1)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "hopfield-state.json";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function initDraw() {
  const grid = $("grid");
  grid.addEventListener("pointerdown", (ev) => { draw.painting = true; grid.setPointerCapture(ev.pointerId); paint(ev); });
  grid.addEventListener("pointermove", (ev) => { if (draw.painting) paint(ev); });
  grid.addEventListener("pointerup", () => { draw.painting = false; });
  grid.addEventListener("pointercancel", () => { draw.painting = false; });
  $("grid-size").addEventListener("change", (ev) => setGrid(ev.target.value));
  $("memory-set").addEventListener("change", loadMemories);
  $("model").addEventListener("change", syncModelInputs);
  $("temperature").addEventListener("input", (ev) => { $("temperature-value").textContent = ev.target.value; });
  $("clear").addEventListener("click", () => { setState(new Array(draw.rows * draw.cols).fill(-1)); resetTrace(); });
  $("corrupt").addEventListener("click", async () => {
    const data = await post("corrupt", {
      shape: [draw.rows, draw.cols], state: binaryState(),
      percent: Number($("corrupt-pct").value), seed: Math.floor(Math.random() * 2 ** 31),
    });
    setState(data.state);
    resetTrace();
  });
  $("store-drawing").addEventListener("click", () => {
    const key = gridKey();
    const mine = (draw.mine[key] = draw.mine[key] || { patterns: [], labels: [] });
    mine.patterns.push(binaryState());
    mine.labels.push(`#${mine.patterns.length}`);
    if ($("memory-set").value !== "mine") {
      draw.memories.push(binaryState());
      draw.labels.push(`#${mine.patterns.length}`);
      renderThumbs();
    } else {
      loadMemories();
    }
  });
  $("btn-sync").addEventListener("click", () => run("sync"));
  $("btn-step").addEventListener("click", () => run("sweep"));
  $("btn-converge").addEventListener("click", () => run("converge"));
  $("export").addEventListener("click", exportJSON);
  syncModelInputs();
  return setGrid($("grid-size").value);
}

// ---------------------------------------------------------------------------
// panel 2: beta

const beta = { rows: 9, cols: 7, patterns: [], labels: [], query: [], pending: false, again: false };

function betaValue() { return 10 ** (-2 + 4 * Number($("beta-slider").value) / 1000); }

async function betaLoad() {
  const random = $("beta-set").value === "random";
  [beta.rows, beta.cols] = random ? [8, 8] : [9, 7];
  const data = await post("memories", {
    set: random ? "random" : "A-G", shape: [beta.rows, beta.cols], count: 8, seed: 3,
  });
  beta.patterns = data.patterns;
  beta.labels = data.labels;
  const sel = $("beta-target");
  sel.innerHTML = "";
  beta.labels.forEach((l, k) => sel.add(new Option(l, String(k))));
  await betaQuery();
}

async function betaQuery() {
  const k = Number($("beta-target").value || 0);
  const data = await post("corrupt", {
    shape: [beta.rows, beta.cols], state: beta.patterns[k],
    percent: Number($("beta-flip").value), seed: Math.floor(Math.random() * 2 ** 31),
  });
  beta.query = data.state;
  drawCells($("beta-query"), beta.query, beta.rows, beta.cols);
  await betaUpdate();
}

async function betaUpdate() {
  const b = betaValue();
  $("beta-value").textContent = b < 1 ? b.toPrecision(2) : b.toFixed(b < 10 ? 2 : 1);
  if (beta.pending) { beta.again = true; return; }   // one request at a time; the latest wins
  beta.pending = true;
  try {
    const data = await post("beta", { patterns: beta.patterns, query: beta.query, beta: b });
    drawCells($("beta-state"), data.state, beta.rows, beta.cols);
    const best = data.weights.indexOf(Math.max(...data.weights));
    drawBars($("beta-weights"), data.weights, beta.labels, { signed: false, best });
    const entropy = -data.weights.reduce((s, w) => s + (w > 0 ? w * Math.log(w) : 0), 0);
    $("beta-summary").textContent =
      `β = ${b.toPrecision(3)}: largest weight ${Math.max(...data.weights).toFixed(3)} (${beta.labels[best]}), ` +
      `effective number of memories e^H = ${Math.exp(entropy).toFixed(2)}; energy ${data.energy.toFixed(3)}`;
    $("beta-weights").dataset.beta = String(b);
  } catch (err) {
    // shown by post()
  } finally {
    beta.pending = false;
    if (beta.again) { beta.again = false; betaUpdate(); }
  }
}

function initBeta() {
  $("beta-set").addEventListener("change", betaLoad);
  $("beta-target").addEventListener("change", betaQuery);
  $("beta-new-query").addEventListener("click", betaQuery);
  $("beta-slider").addEventListener("input", betaUpdate);
}

// ---------------------------------------------------------------------------
// panel 3: energy landscape

const land = { data: null, busy: false };

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const k = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - k;
  const c = VIRIDIS[k].map((v, i) => Math.round(v + f * (VIRIDIS[k + 1][i] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function landRequest() {
  return {
    n: Number($("ls-n").value), p: Number($("ls-p").value),
    model: { kind: $("ls-model").value, degree: 3 }, seed: Number($("ls-seed").value),
  };
}

function toCanvas(x, y) {
  const c = $("landscape"), [lo, hi] = land.data.extent;
  return [(x - lo) / (hi - lo) * c.width, c.height - (y - lo) / (hi - lo) * c.height];
}

function fromCanvas(px, py) {
  const c = $("landscape"), [lo, hi] = land.data.extent;
  return [lo + px / c.width * (hi - lo), lo + (c.height - py) / c.height * (hi - lo)];
}

function drawLandscape() {
  const d = land.data, c = $("landscape"), ctx = c.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, c.width, c.height);
  const [elo, ehi] = d.energy_range, cell = c.width / d.bins;
  d.grid.forEach((row, r) => row.forEach((e, k) => {
    ctx.fillStyle = colour((e - elo) / (ehi - elo || 1));
    ctx.fillRect(k * cell, c.height - (r + 1) * cell, cell + 0.5, cell + 0.5);
  }));
  for (const m of d.minima) {
    if (m.category === "stored" || m.category === "reversed") continue;
    const [x, y] = toCanvas(m.x, m.y);
    ctx.strokeStyle = "#e0532b";
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(x - 5, y - 5); ctx.lineTo(x + 5, y + 5); ctx.moveTo(x + 5, y - 5); ctx.lineTo(x - 5, y + 5); ctx.stroke();
  }
  ctx.font = "bold 13px sans-serif";
  for (const m of d.memories) {
    for (const sign of [1, -1]) {
      const [x, y] = toCanvas(sign * m.x, sign * m.y);
      ctx.fillStyle = "#fff";
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      if (sign > 0) star(ctx, x, y, 8); else ctx.arc(x, y, 6, 0, 2 * Math.PI);
      ctx.fill(); ctx.stroke();
      ctx.fillStyle = "#111";
      ctx.fillText((sign > 0 ? "" : "−") + m.label, x + 9, y - 6);
    }
  }
}

function star(ctx, x, y, r) {
  for (let k = 0; k < 10; k++) {
    const a = -Math.PI / 2 + k * Math.PI / 5, rr = k % 2 ? r * 0.45 : r;
    const px = x + rr * Math.cos(a), py = y + rr * Math.sin(a);
    if (k === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  }
  ctx.closePath();
}

async function landLoad() {
  if (land.busy) return;
  land.busy = true;
  try {
    land.data = await post("landscape", landRequest());
    $("ls-states").textContent = `${land.data.states.toLocaleString()} (N = ${land.data.n}); ` +
      `${land.data.minima.length} fixed points`;
    $("ls-flips").textContent = "–";
    $("ls-result").textContent = "click the map";
    $("landscape").dataset.points = "0";
    delete $("landscape").dataset.end;
    drawLandscape();
    drawLine($("ls-energy"), [], "energy");
  } catch (err) {
    // shown by post()
  } finally {
    land.busy = false;
  }
}

async function landClick(ev) {
  if (!land.data || land.busy) return;
  land.busy = true;
  const c = $("landscape"), rect = c.getBoundingClientRect();
  const px = (ev.clientX - rect.left) * c.width / rect.width;
  const py = (ev.clientY - rect.top) * c.height / rect.height;
  const [x, y] = fromCanvas(px, py);
  try {
    const t = await post("trajectory", {
      ...landRequest(), x, y, start_seed: Math.floor(Math.random() * 2 ** 31),
      run_seed: Math.floor(Math.random() * 2 ** 31),
    });
    drawLandscape();
    const ctx = c.getContext("2d");
    const pts = t.points.map(([a, b]) => toCanvas(a, b));
    ctx.fillStyle = "#fff";
    ctx.beginPath(); ctx.arc(pts[0][0], pts[0][1], 5, 0, 2 * Math.PI); ctx.fill();
    ctx.strokeStyle = "#ff4d6d";
    ctx.lineWidth = 3;
    for (let k = 1; k < pts.length; k++) {
      ctx.beginPath(); ctx.moveTo(...pts[k - 1]); ctx.lineTo(...pts[k]); ctx.stroke();
      drawLine($("ls-energy"), t.energies.slice(0, k + 1), "energy");
      await sleep(120);
    }
    const end = pts[pts.length - 1];
    ctx.fillStyle = "#ff4d6d";
    ctx.beginPath(); ctx.arc(end[0], end[1], 6, 0, 2 * Math.PI); ctx.fill();
    drawLine($("ls-energy"), t.energies, "energy");
    $("ls-flips").textContent = `${t.flips} flips`;
    $("ls-result").textContent = t.reached.text;
    c.dataset.points = String(t.points.length);
    c.dataset.end = t.reached.category;
    c.dataset.endState = JSON.stringify(t.end);
  } catch (err) {
    // shown by post()
  } finally {
    land.busy = false;
  }
}

function initLandscape() {
  $("ls-new").addEventListener("click", landLoad);
  $("landscape").addEventListener("click", landClick);
}

// ---------------------------------------------------------------------------
// tabs and start-up

const loaded = { draw: false, beta: false, landscape: false };

async function showPanel(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.panel === name);
  for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== "panel-" + name;
  if (!loaded[name]) {
    loaded[name] = true;
    if (name === "beta") await betaLoad();
    if (name === "landscape") await landLoad();
  }
}

window.addEventListener("DOMContentLoaded", async () => {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showPanel(tab.dataset.panel));
  initBeta();
  initLandscape();
  await initDraw();
  loaded.draw = true;
  document.body.dataset.ready = "1";
});
