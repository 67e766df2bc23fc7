// framestyle page, on-device half: onnxruntime-web runs the model in the page (loaded before app.js; uses its
// helpers $, state, modelByName, liveSize at call time).
"use strict";

// WebAssembly threads need a cross-origin isolated page (the server sends COOP/COEP) with SharedArrayBuffer.
function deviceThreads() {
  const forced = Number(new URLSearchParams(location.search).get("threads"));
  if (!(self.crossOriginIsolated && typeof SharedArrayBuffer !== "undefined")) return 1;
  return Math.max(1, Math.min(forced || navigator.hardwareConcurrency || 1, 8));
}

let ortLoading = null;
function loadOrt(bundle) {  // one onnxruntime-web bundle per page: ort.webgpu.min.js also runs the wasm backend
  if (!ortLoading) {
    ortLoading = new Promise((ok, bad) => {
      const s = document.createElement("script");
      s.src = `/static/vendor/${bundle}`;
      s.onload = () => ok(window.ort);
      s.onerror = () => bad(new Error(`could not load /static/vendor/${bundle}`));
      document.head.appendChild(s);
    }).then((ort) => {
      ort.env.wasm.wasmPaths = "/static/vendor/";
      ort.env.wasm.numThreads = deviceThreads();
      ort.env.wasm.proxy = false;
      return ort;
    });
  }
  return ortLoading;
}

// WebGPU where the browser offers a hardware adapter (a software one, e.g. SwiftShader, ran starry-rt-int8 at
// 15-21 s per 320x240 frame here, 100x slower than WebAssembly: skipped unless ?webgpu=force)
async function webgpuOffered() {
  if (!(state.info && state.info.webgpu) || !navigator.gpu) return "none";
  let a = null;
  try { a = await navigator.gpu.requestAdapter(); } catch (e) { /* no adapter */ }
  if (!a) return "none";
  const info = a.info || {};
  const soft = a.isFallbackAdapter || info.isFallbackAdapter || /swiftshader/i.test(`${info.architecture} ${info.description}`);
  const force = new URLSearchParams(location.search).get("webgpu") === "force";
  return soft && !force ? "software" : "yes";
}

// the style vector of the chosen painting (100 numbers from the server's predictor), once per style image
async function styleVector(file) {
  if (state.vector && state.vector.file === file) return state.vector.data;
  const fd = new FormData();
  fd.append("style_image", file, file.name || "style");
  const r = await fetch("/api/style-vector", { method: "POST", body: fd });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
  state.vector = { file, data: Float32Array.from(j.vector) };
  return state.vector.data;
}

// The model file the page runs for m, in `form`: its own file, or for a specialisable model (a conditional student
// whose card says "specialise") this style's fixed int8 graph, made by the server once per style and cached there.
async function fetchModel(m, form, style) {
  if (!m.specialise) return fetch(`/models/${encodeURIComponent(m.name)}.onnx?form=${form}`);
  const fd = new FormData();
  fd.append("model", m.name);
  fd.append("form", form);
  if (style.file) fd.append("style_image", style.file, style.file.name || "style");
  else if (style.index !== null) fd.append("style", style.index);
  return fetch("/api/device-model", { method: "POST", body: fd });
}

// the style the page asks the server to fold into m: the Style box for a multi-style model, the style image for a
// specialisable any-painting model
function deviceStyle(m) {
  if (!m.specialise) return { index: null, file: null, label: "" };
  if (m.kind === "arbitrary") return { index: null, file: state.styleFile, label: " + style image" };
  const index = m.styles > 1 ? $("style-index").value : null;
  return { index, file: null, label: index === null ? "" : ` style ${index}` };
}

// A session for model m on one backend: "wasm" runs the RGBA uint8 form (frame bytes in and out, the int8
// graph's exact 8-bit ends), "webgpu" the file as shipped (float NCHW). Returns {session, backend, form, run}.
async function deviceSession(ort, m, backend, w, h, vec, style) {
  const asked = new URLSearchParams(location.search).get("form");  // ?form=onnx: the file as shipped, for measuring
  let form = backend === "wasm" && asked !== "onnx" ? "rgba" : "onnx";
  let resp = await fetchModel(m, form, style);
  if (!resp.ok && resp.status !== 404 && form !== "onnx") { form = "onnx"; resp = await fetchModel(m, form, style); }
  if (!resp.ok) {
    let msg = `HTTP ${resp.status}`;
    try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(`${m.name}: ${msg}`);
  }
  const session = await ort.InferenceSession.create(new Uint8Array(await resp.arrayBuffer()),
    { executionProviders: [backend], graphOptimizationLevel: "all" });
  const plane = w * h, input = form === "onnx" ? new Float32Array(3 * plane) : null;
  const extra = vec ? { style: new ort.Tensor("float32", vec, [1, 100]) } : {};
  const run = async (src) => {  // src: RGBA bytes of the camera frame -> RGBA bytes of the stylised frame
    if (form === "rgba") {
      const out = await session.run({ rgba: new ort.Tensor("uint8", new Uint8Array(src.buffer), [h, w, 4]), ...extra });
      return new Uint8ClampedArray(out[session.outputNames[0]].data.buffer);
    }
    for (let p = 0, i = 0; p < plane; p++, i += 4) {
      input[p] = src[i] / 255; input[plane + p] = src[i + 1] / 255; input[2 * plane + p] = src[i + 2] / 255;
    }
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 3, h, w]), ...extra });
    const y = out[session.outputNames[0]].data, d = new Uint8ClampedArray(4 * plane);
    for (let p = 0, i = 0; p < plane; p++, i += 4) {
      d[i] = y[p] * 255; d[i + 1] = y[plane + p] * 255; d[i + 2] = y[2 * plane + p] * 255; d[i + 3] = 255;
    }
    return d;
  };
  return { session, backend, form, run };
}

// yield to the page's events between frames: a message to ourselves, not setTimeout(0) (Chromium clamps nested
// zero timeouts to 4 ms, an eighth of a 30 FPS frame)
const tick = new MessageChannel();
const waiting = [];
tick.port1.onmessage = () => waiting.shift()();
function nextTask() {
  return new Promise((r) => { waiting.push(r); tick.port2.postMessage(0); });
}

async function timeRuns(sess, frame, n) {
  await sess.run(frame);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await sess.run(frame);
  return (performance.now() - t0) / n;
}

// blend the stylised RGBA `out` toward the camera frame `src` in place (strength, preserve colour)
function finish(out, src, strength, preserve) {
  const n = out.length;
  for (let i = 0; i < n; i += 4) {
    let r = out[i], g = out[i + 1], b = out[i + 2];
    if (preserve) {  // stylised luminance, camera chroma
      const d = 0.299 * (r - src[i]) + 0.587 * (g - src[i + 1]) + 0.114 * (b - src[i + 2]);
      r = src[i] + d; g = src[i + 1] + d; b = src[i + 2] + d;
    }
    if (strength < 1) {
      r = strength * r + (1 - strength) * src[i];
      g = strength * g + (1 - strength) * src[i + 1];
      b = strength * b + (1 - strength) * src[i + 2];
    }
    out[i] = r; out[i + 1] = g; out[i + 2] = b; out[i + 3] = 255;
  }
}

async function deviceLoop(live) {
  const m = modelByName($("live-model").value);
  let vec = null;
  if (m.kind === "arbitrary" && !state.styleFile) throw new Error(`${m.name} paints in any style: choose a style image above first`);
  if (m.kind === "arbitrary" && !m.specialise) {
    $("cam-status").textContent = "style vector…";
    vec = await styleVector(state.styleFile);
  }
  let style = deviceStyle(m);
  if (m.specialise) $("cam-status").textContent = `making ${m.name}${style.label} on the server…`;
  const [w, h] = liveSize(m.multiple);
  const grab = new OffscreenCanvas(w, h).getContext("2d", { willReadFrequently: true });
  grab.drawImage($("video"), 0, 0, w, h);
  const first = grab.getImageData(0, 0, w, h).data;
  const offered = await webgpuOffered();
  const gpu = offered === "yes";
  live.tried = offered === "software" ? { webgpu: "software adapter: skipped" } : null;
  $("cam-status").textContent = `loading onnxruntime-web (${gpu ? "WebGPU + " : ""}WebAssembly)…`;
  const ort = await loadOrt(gpu ? "ort.webgpu.min.js" : "ort.wasm.min.js");
  let sess = await deviceSession(ort, m, "wasm", w, h, vec, style);
  if (gpu) {  // keep whichever backend is faster on this frame size
    try {
      const other = await deviceSession(ort, m, "webgpu", w, h, vec, style);
      const [a, b] = [await timeRuns(sess, first, 3), await timeRuns(other, first, 3)];
      live.tried = { wasm: a, webgpu: b };
      const [keep, drop] = b < a ? [other, sess] : [sess, other];
      await drop.session.release();
      sess = keep;
    } catch (e) { live.tried = { webgpu: String(e.message || e) }; }
  }
  const threads = sess.backend === "wasm" ? ort.env.wasm.numThreads : 1;
  const outCanvas = $("out");
  outCanvas.width = w; outCanvas.height = h;
  const ctx = outCanvas.getContext("2d");
  const where = `${sess.backend} ${threads} thread${threads > 1 ? "s" : ""}`;
  state.device = { model: m.name, style: style.index, specialised: !!m.specialise, backend: sess.backend, threads, form: sess.form, w, h, modelMs: null, times: [], tried: live.tried || null };
  $("device-info").textContent = `${sess.backend}, ${threads} thread${threads > 1 ? "s" : ""}`;
  let ms = null, next = null, pending = false, failed = null;
  const same = (a, b) => !!a && a.index === b.index && a.file === b.file;
  while (live.running) {
    if (next) {  // a specialisable model follows the Style box (or style image) while it runs: swap between frames
      await sess.session.release();
      ({ sess, style } = next);
      next = null;
      state.device.style = style.index;
    }
    const want = deviceStyle(m);
    if (m.specialise && !pending && !same(style, want) && !same(failed, want) && (want.file || want.index !== null)) {
      pending = true;
      deviceSession(ort, m, sess.backend, w, h, null, want).then((s) => { next = { sess: s, style: want }; })
        .catch((e) => { failed = want; console.error(e); }).finally(() => { pending = false; });
    }
    grab.drawImage($("video"), 0, 0, w, h);
    const src = grab.getImageData(0, 0, w, h).data;
    const t0 = performance.now();
    const out = await sess.run(src);
    const dt = performance.now() - t0;
    ms = ms === null ? dt : 0.9 * ms + 0.1 * dt;
    const strength = Number($("strength").value), preserve = $("preserve").checked;
    if (strength < 1 || preserve) finish(out, src, strength, preserve);
    ctx.putImageData(new ImageData(out, w, h), 0, 0);
    live.counter.tick();  // #fps counts frames actually drawn
    state.device.modelMs = ms;
    state.device.times.push(dt);  // every inference's ms, for benchmarks (the last 1000)
    if (state.device.times.length > 1000) state.device.times.shift();
    $("model-ms").textContent = ms.toFixed(1);
    $("cam-status").textContent = `on device: ${m.name}${style.label} ${w}x${h}, ${where}, ${ms.toFixed(1)} ms/frame (model)` +
      (pending ? `; making${want.label}…` : same(failed, want) ? `; ${m.name}${want.label} failed (see the console)` : "");
    await nextTask();
  }
  await sess.session.release();
  if (next) await next.sess.session.release();
}
