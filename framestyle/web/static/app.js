// framestyle page: upload + stylise, and the webcam in two modes (on-device onnxruntime-web, or server WebSocket).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { models: [], methods: [], info: null, file: null, styleFile: null, resultUrl: null, live: null };
window.framestyle = state;  // for tests and the console

function setStatus(msg, isError = false) {
  $("status").textContent = msg;
  $("status").className = isError ? "error" : "";
}

async function fetchJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

// ---- models and controls ------------------------------------------------------------------------------
function fillSelect(sel, models) {
  const keep = sel.value;
  sel.innerHTML = "";
  for (const m of models) {
    const o = document.createElement("option");
    o.value = m.name;
    o.textContent = `${m.name} (${m.kind}${m.builtin ? "" : ", user"})`;
    sel.appendChild(o);
  }
  // the server marks the one default (framestyle.zoo.default_model), the same model the CLI and API run
  const dflt = state.info && state.info.default_model;
  const pick = models.find((m) => m.name === keep) || models.find((m) => m.default) ||
    models.find((m) => m.name === dflt) || models[0];
  if (pick) sel.value = pick.name;
}

function modelByName(name) { return state.models.find((m) => m.name === name); }

function onModelChange() {  // the Style box: for a multi-style model in the picture panel or on the webcam
  const multi = (m) => !!(m && m.kind === "multi" && m.styles > 1);
  $("style-index-row").hidden = !(multi(modelByName($("model").value)) || multi(modelByName($("live-model").value))) ||
    !!state.styleFile;
}

// arbitrary-style methods from /api/models; the ones whose model is not installed are listed but disabled
function fillMethods() {
  const sel = $("method");
  sel.innerHTML = "";
  for (const e of state.methods) {
    const o = document.createElement("option");
    o.value = e.name;
    o.textContent = `${e.name} (${e.model})` + (e.available ? "" : " — not installed");
    o.disabled = !e.available;
    if (!e.available) o.title = e.hint || "not installed on this server";
    sel.appendChild(o);
  }
  const pick = state.methods.find((e) => e.default && e.available) || state.methods.find((e) => e.available);
  if (pick) sel.value = pick.name;
}

// a style image replaces the model: the server runs the chosen method (magenta, student or adain) on it
function onStyleChange() {
  state.styleFile = $("style-file").files[0] || null;
  const on = !!state.styleFile;
  $("method-row").hidden = !on;
  $("style-clear").hidden = !on;
  $("model").disabled = on;
  onModeChange();
  if (state.live && state.live.onStyle) state.live.onStyle();
}

function clearStyle() {
  $("style-file").value = "";
  onStyleChange();
}

function liveModels() {
  const device = liveMode() === "device";  // the page runs fixed-style models and the any-painting student
  return state.models.filter((m) => (device ? m.browser : m.kind !== "arbitrary"));
}

function liveMode() { return document.querySelector("input[name=mode]:checked").value; }

function onModeChange() {
  const models = liveModels();
  fillSelect($("live-model"), models);
  const method = state.methods.find((e) => e.name === "student");  // the student method's model, as the CLI
  const student = models.find((m) => method && m.name === method.model) || models.find((m) => m.kind === "arbitrary");
  if (liveMode() === "device" && student) {  // a style image on the device: the student paints it
    if (state.styleFile) $("live-model").value = student.name;
    else if ($("live-model").value === student.name && state.info) $("live-model").value = state.info.default_model;
  }
  const note = $("device-note");
  if (state.info && !state.info.on_device) {  // say how to enable it, whichever mode is picked
    note.hidden = false;
    document.querySelector("input[name=mode][value=device]").disabled = true;
    note.textContent = "On-device mode is off: the onnxruntime-web files are missing. " +
      "Run scripts/fetch_web_assets.sh (needs npm) and restart the server. Server mode works.";
  } else {
    note.hidden = true;
  }
  const styleNote = $("style-note");
  styleNote.hidden = !(state.styleFile && liveMode() === "device");
  styleNote.textContent = student
    ? `On this device the any-painting student (${student.name}) paints your style image; the server computes ` +
      "its 100-number style vector once per image, every frame runs in the page."
    : "Your style image needs the server here (no any-painting student is installed): pick \"On the server\".";
  $("live-model").disabled = !!(state.styleFile && liveMode() === "server");
  $("cam-start").disabled = !!state.live || (liveMode() === "device" && !(state.info && state.info.on_device));
  onModelChange();
}

// ---- picture upload -----------------------------------------------------------------------------------
function takeFile(f) {
  if (!f) return;
  state.file = f;
  const prev = $("preview");
  if (prev.src) URL.revokeObjectURL(prev.src);
  prev.src = URL.createObjectURL(f);
  prev.hidden = false;
  $("go").disabled = false;
  setStatus(`${f.name} (${(f.size / 1024).toFixed(0)} KB) ready`);
}

async function stylize() {
  if (!state.file) return;
  const m = modelByName($("model").value);
  const sf = state.styleFile;
  const fd = new FormData();
  fd.append("image", state.file, state.file.name || "image");
  fd.append("strength", $("strength").value);
  fd.append("preserve_color", $("preserve").checked ? "true" : "false");
  if (sf) {  // the method picks the model
    if (!$("method").value) { setStatus("no arbitrary-style method is installed on this server", true); return; }
    fd.append("style_image", sf, sf.name || "style");
    fd.append("method", $("method").value);
  } else {
    fd.append("model", $("model").value);
    if (m && m.kind === "multi" && m.styles > 1) fd.append("style", $("style-index").value);  // not a named style
  }
  const label = sf ? $("method").value : $("model").value;
  $("go").disabled = true;
  setStatus("stylising…");
  const t0 = performance.now();
  try {
    const r = await fetch("/api/stylize", { method: "POST", body: fd });
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      if (r.status === 429) msg += ` (retry after ${r.headers.get("Retry-After")} s)`;
      throw new Error(msg);
    }
    const blob = await r.blob();
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = URL.createObjectURL(blob);
    const img = $("result");
    await new Promise((ok, bad) => { img.onload = ok; img.onerror = () => bad(new Error("bad image")); img.src = state.resultUrl; });
    $("download").href = state.resultUrl;
    const base = (state.file.name || "image").replace(/\.[^.]+$/, "");
    $("download").download = `${base}-${label}.png`;
    $("result-box").hidden = false;
    const ms = performance.now() - t0;
    $("result-info").textContent = `${label}, ${img.naturalWidth}x${img.naturalHeight}, ${ms.toFixed(0)} ms`;
    setStatus("done");
  } catch (e) {
    setStatus(`error: ${e.message}`, true);
  } finally {
    $("go").disabled = false;
  }
}

// ---- webcam -------------------------------------------------------------------------------------------
function liveSize(multiple) {
  let [w, h] = $("live-size").value.split("x").map(Number);
  const k = multiple || 4;
  return [w - (w % k), h - (h % k)];
}

class Counter {  // frames drawn and their rate over the last second (over the last 2 frames when slower)
  constructor() { this.n = 0; this.times = []; }
  tick() {
    const now = performance.now();
    this.n += 1;
    this.times.push(now);
    while (this.times.length > 2 && now - this.times[0] > 1000) this.times.shift();
    $("frames").textContent = String(this.n);
    const span = this.times.length > 1 ? (now - this.times[0]) / 1000 : 0;
    const fps = span > 0 ? (this.times.length - 1) / span : 0;
    $("fps").textContent = fps.toFixed(fps > 0 && fps < 1 ? 2 : 1);
  }
}

async function startCamera() {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  const video = $("video");
  video.srcObject = stream;
  await video.play();
  while (!video.videoWidth) await new Promise((r) => setTimeout(r, 20));
  return stream;
}

// the style picture for the WebSocket: at most 1024 px on its longer side, as a JPEG data: URL
async function styleDataUrl(file) {
  const bmp = await createImageBitmap(file);
  const k = Math.min(1, 1024 / Math.max(bmp.width, bmp.height));
  const c = new OffscreenCanvas(Math.max(16, Math.round(bmp.width * k)), Math.max(16, Math.round(bmp.height * k)));
  c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
  bmp.close();
  const blob = await c.convertToBlob({ type: "image/jpeg", quality: 0.92 });
  return new Promise((ok, bad) => {
    const r = new FileReader();
    r.onload = () => ok(r.result);
    r.onerror = () => bad(r.error);
    r.readAsDataURL(blob);
  });
}

async function serverLoop(live) {
  const m = modelByName($("live-model").value);
  const [w, h] = liveSize(4);
  const q = new URLSearchParams({ model: m.name, strength: $("strength").value,
    preserve_color: $("preserve").checked ? "1" : "0", quality: "80",
    style: m.kind === "multi" && m.styles > 1 ? $("style-index").value : "" });  // a named style brings its own
  if (state.styleFile && $("method").value) q.set("method", $("method").value);
  const label = () => (state.styleFile ? `${$("method").value} + style image` : m.name);
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/stylize?${q}`);
  ws.binaryType = "blob";
  live.ws = ws;
  const grab = new OffscreenCanvas(w, h);
  const gctx = grab.getContext("2d");
  const outCanvas = $("out");
  outCanvas.width = w; outCanvas.height = h;
  const ctx = outCanvas.getContext("2d");
  await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error("WebSocket failed")); });
  const sendStyle = async () => {  // the style image (or none) and its method, as settings
    const msg = { style_image: state.styleFile ? await styleDataUrl(state.styleFile) : null };
    if (state.styleFile && $("method").value) msg.method = $("method").value;
    if (ws.readyState === 1) ws.send(JSON.stringify(msg));
  };
  live.onStyle = () => sendStyle().catch((e) => { $("cam-status").textContent = `style image: ${e.message || e}`; });
  if (state.styleFile) await sendStyle();
  $("cam-status").textContent = `server: ${label()} ${w}x${h}`;
  let last = {};
  ws.onmessage = async (ev) => {
    if (typeof ev.data === "string") {
      last = JSON.parse(ev.data);
      if (last.error) $("cam-status").textContent = `server: ${last.error}`;
      return;
    }
    const bmp = await createImageBitmap(ev.data);
    ctx.drawImage(bmp, 0, 0, w, h);
    bmp.close();
    live.counter.tick();
    $("cam-status").textContent = `server: ${label()} ${w}x${h}, ${last.ms} ms/frame, dropped ${last.dropped}`;
  };
  ws.onclose = (ev) => { if (live.running) { $("cam-status").textContent = `server closed (${ev.code})`; stopLive(); } };
  const sendSettings = () => ws.readyState === 1 &&
    ws.send(JSON.stringify({ strength: Number($("strength").value), preserve_color: $("preserve").checked }));
  live.onSettings = sendSettings;
  while (live.running && ws.readyState === 1) {
    if (ws.bufferedAmount < 512 * 1024) {  // don't pile frames up in the socket; the server drops stale ones
      gctx.drawImage($("video"), 0, 0, w, h);
      const blob = await grab.convertToBlob({ type: "image/jpeg", quality: 0.8 });
      if (ws.readyState === 1) ws.send(blob);
    }
    await new Promise((r) => setTimeout(r, 33));  // camera rate (~30 FPS)
  }
  ws.close();
}

async function startLive() {
  if (state.live) return;
  const live = { running: true, counter: new Counter(), stream: null, ws: null, onSettings: null, onStyle: null };
  state.live = live;
  $("cam-start").disabled = true;
  $("cam-stop").disabled = false;
  $("frames").textContent = "0";
  try {
    $("cam-status").textContent = "starting camera…";
    live.stream = await startCamera();
    if (liveMode() === "device") await deviceLoop(live);
    else await serverLoop(live);
  } catch (e) {
    $("cam-status").textContent = `error: ${e.message || e}`;
    console.error(e);
  } finally {
    if (state.live === live) stopLive();
  }
}

function stopLive() {
  const live = state.live;
  if (!live) return;
  live.running = false;
  if (live.ws && live.ws.readyState <= 1) live.ws.close();
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  state.live = null;
  $("cam-stop").disabled = true;
  onModeChange();
}

// ---- wiring -------------------------------------------------------------------------------------------
async function init() {
  $("file").addEventListener("change", (e) => takeFile(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    takeFile(e.dataTransfer.files[0]);
  });
  $("go").addEventListener("click", stylize);
  $("model").addEventListener("change", onModelChange);
  $("live-model").addEventListener("change", onModelChange);
  $("style-file").addEventListener("change", onStyleChange);
  $("style-clear").addEventListener("click", clearStyle);
  $("method").addEventListener("change", () => state.live && state.live.onStyle && state.live.onStyle());
  $("strength").addEventListener("input", () => {
    $("strength-val").textContent = Number($("strength").value).toFixed(2);
    if (state.live && state.live.onSettings) state.live.onSettings();
  });
  $("preserve").addEventListener("change", () => state.live && state.live.onSettings && state.live.onSettings());
  document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", onModeChange));
  $("cam-start").addEventListener("click", startLive);
  $("cam-stop").addEventListener("click", stopLive);
  try {
    let listing;
    [state.info, listing] = await Promise.all([fetchJson("/api/info"), fetchJson("/api/models")]);
    state.models = listing.models;
    state.methods = listing.methods || [];
  } catch (e) {
    setStatus(`cannot reach the server: ${e.message}`, true);
    return;
  }
  fillSelect($("model"), state.models.filter((m) => m.kind !== "arbitrary"));  // arbitrary ones: via a style image
  fillMethods();
  onStyleChange();
  if (!state.info.on_device) document.querySelector("input[name=mode][value=server]").checked = true;
  onModeChange();
  document.body.dataset.ready = "1";
}

init();
