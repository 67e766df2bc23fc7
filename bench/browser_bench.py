"""On-device stylisation in headless Chromium, beside the same model in Python, in one run.

Starts `framestyle serve` and headless Debian Chromium with the fake camera, runs each on-device model (the
zoo's default, one style of the multi-style student as the fixed int8 graph the server makes for the page
(`POST /api/device-model`), and the any-painting student with starry_night.jpg as its style: the specialised
graph when its card says "specialise", else the conditional file fed the style vector) on the page at each size
for a fixed time, and reads the page's own numbers: frames drawn per second (#fps over the whole window), the model's
ms per frame, backend and threads. Then the same model through `Stylizer.process` (ONNX Runtime, uint8 in and
out) at the same sizes. With --profile, onnxruntime-web's per-operator profile of each model (wasm, the page's
form and threads) at the largest size. Writes docs/browser.md and docs/browser.json.

    python bench/browser_bench.py --seconds 10 --profile
"""
from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STYLE = ROOT.parent / "shared" / "data" / "images" / "starry_night.jpg"
TARGETS = {("default", 640): 15, ("default", 320): 30, ("student", 640): 8}
MULTI_STYLE = "7"  # the multi-style student's style on the page (a bold one)


def page_run(page, url: str, model: str, size: str, seconds: float, style: bool, index=None) -> dict:
    page.call("Page.navigate", url=url)  # a fresh page: onnxruntime-web's threads are set once per page
    page.wait("document.body && document.body.dataset.ready === '1'", 30, "the page")
    if style:
        page.set_files("#style-file", STYLE)
        page.wait("!document.getElementById('method-row').hidden", 10, "the style image")
    page.js("document.querySelector('input[name=mode][value=device]').checked = true; "
            "document.querySelector('input[name=mode][value=device]').dispatchEvent(new Event('change')); "
            f"document.getElementById('live-size').value = {json.dumps(size)}; "
            f"document.getElementById('live-model').value = {json.dumps(model)}; "
            + (f"document.getElementById('style-index').value = {json.dumps(index)}; " if index else "")
            + "document.getElementById('cam-start').click(); true")
    page.wait("Number(document.getElementById('frames').textContent) >= 2", 180, f"{model} {size} frames")
    frames = "Number(document.getElementById('frames').textContent)"
    n0, t0, k0 = page.js(frames), time.monotonic(), page.js("window.framestyle.device.times.length")
    time.sleep(seconds)
    n1, t1 = page.js(frames), time.monotonic()
    dev = page.js("window.framestyle.device")
    times = dev["times"][k0:] or dev["times"][-1:]  # the inferences inside the window (after the warm-up)
    shown = page.js("document.getElementById('fps').textContent")
    page.js("document.getElementById('cam-stop').click(); true")
    return {"fps": round((n1 - n0) / (t1 - t0), 2), "fps_readout": float(shown), "frames": n1 - n0,
            "model_ms": round(statistics.median(times), 1), "backend": dev["backend"], "threads": dev["threads"],
            "form": dev["form"], "specialised": dev.get("specialised"), "style": dev.get("style"),
            "tried": dev.get("tried")}


PROFILE_JS = """(async () => {
  const ort = await loadOrt("ort.wasm.min.js");
  const [w, h, name, index] = [%d, %d, %s, %s];
  const fd = new FormData();
  fd.append("model", name);
  if (index !== null) fd.append("style", index);
  const r = index === null ? await fetch(`/models/${name}.onnx?form=rgba`)
                           : await fetch("/api/device-model", { method: "POST", body: fd });
  const sess = await ort.InferenceSession.create(new Uint8Array(await r.arrayBuffer()),
    { executionProviders: ["wasm"], enableProfiling: true, graphOptimizationLevel: "all" });
  const feeds = { rgba: new ort.Tensor("uint8", new Uint8Array(w * h * 4).fill(100), [h, w, 4]) };
  if (sess.inputNames.includes("style"))
    feeds.style = new ort.Tensor("float32", new Float32Array(100).fill(0.1), [1, 100]);
  for (let i = 0; i < %d; i++) await sess.run(feeds);
  sess.endProfiling();
  await sess.release();
  return ort.env.wasm.numThreads;
})()"""


def profile(page, url: str, model: str, w: int, h: int, index=None, runs: int = 6) -> dict:
    """onnxruntime-web's per-operator profile (it prints Chrome-trace JSON to the console), the first run dropped."""
    page.call("Runtime.enable")
    page.call("Page.navigate", url=url)
    page.wait("document.body && document.body.dataset.ready === '1'", 30, "the page")
    page.events.clear()
    threads = page.js(PROFILE_JS % (w, h, json.dumps(model), json.dumps(index), runs), timeout=600)
    time.sleep(1.0)
    page.js("1")
    text = "".join(a.get("value", "") for e in page.events if e["method"] == "Runtime.consoleAPICalled"
                   for a in e["params"]["args"][:1] if isinstance(a.get("value"), str))
    found = re.search(r"\[\s*\{", text)  # the trace's start (other console lines may begin with "[", e.g. ORT's "[W:...]")
    if found is None:
        raise RuntimeError("onnxruntime-web printed no profile")
    events = json.loads(text[found.start():].rstrip().rstrip(",").rstrip("]") + "]")
    runs_ms = [e["dur"] / 1000 for e in events if e.get("name") == "model_run"][1:]
    t_first = [e["ts"] for e in events if e.get("name") == "model_run"][1] - 1 if len(runs_ms) else 0
    per_op, per_node = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= t_first:
            per_op[e["args"].get("op_name", "?")] += e["dur"] / 1000 / len(runs_ms)
            shapes = e["args"].get("input_type_shape") or [{}]
            shape = next(iter(shapes[0].values()), [])
            per_node[(e["name"][:-len("_kernel_time")], e["args"].get("op_name", "?"), str(shape))] += \
                e["dur"] / 1000 / len(runs_ms)
    total = sum(per_op.values()) or 1
    return {"model": label(model, index), "size": f"{w}x{h}", "threads": threads, "run_ms": round(statistics.median(runs_ms), 1),
            "ops": [[op, round(ms, 1), round(100 * ms / total, 1)] for op, ms in per_op.most_common(8)],
            "nodes": [[n, op, shape, round(ms, 1)] for (n, op, shape), ms in per_node.most_common(6)]}


def float_twin(src: Path, dst: Path) -> None:
    """The int8 QDQ model in float with the same compute: weights dequantised, each activation QuantizeLinear
    replaced by the Clip its saturation applies (ORT's quantiser folds ReLUs into it), DequantizeLinear dropped.
    37 dB PSNR from the int8 output on a photo (the difference is int8 rounding)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from framestyle.zoo.onnx_surgery import (bypass_nodes, clear_value_info, fold_weight_dequant,
                                             remove_unused_initializers)
    m = onnx.load(str(src))
    fold_weight_dequant(m)
    g = m.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for n in g.node:
        if n.op_type != "QuantizeLinear":
            nodes.append(n)
            continue
        scale = float(consts[n.input[1]])
        zp = consts[n.input[2]] if len(n.input) > 2 else np.uint8(0)
        lo, hi = [(b - int(zp)) * scale for b in (np.iinfo(zp.dtype).min, np.iinfo(zp.dtype).max)]
        g.initializer.extend([numpy_helper.from_array(np.float32(lo), n.output[0] + "_lo"),
                              numpy_helper.from_array(np.float32(hi), n.output[0] + "_hi")])
        nodes.append(helper.make_node("Clip", [n.input[0], n.output[0] + "_lo", n.output[0] + "_hi"], [n.output[0]]))
    del g.node[:]
    g.node.extend(nodes)
    bypass_nodes(m, ["DequantizeLinear"])
    remove_unused_initializers(m)
    clear_value_info(m)
    onnx.save(m, str(dst))


def label(model: str, index) -> str:
    return model if index is None else f"{model} style {index}"


def python_ms(model: str, w: int, h: int, threads: int, runs: int, style: bool, index=None) -> float:
    import numpy as np

    from framestyle import Stylizer, load_image
    frame = np.ascontiguousarray(np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).fromarray(load_image(ROOT.parent / "shared" / "data" / "images" /
                                                                          "home.jpg")).resize((w, h))))
    st = Stylizer(model, threads=threads, style_image=STYLE if style else None, style=index)
    for _ in range(3):
        st.process(frame)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        st.process(frame)
        ts.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(ts), 1)


BEGIN, END = "<!-- browser_bench:begin -->", "<!-- browser_bench:end -->"


def write_docs(rows, profiles, meta, md: Path) -> None:
    """Rewrite the block between BEGIN and END in `md` (the text around it is kept; a new file gets a title)."""
    lines = [f"Command: `{meta['command']}` ({meta['when']}; {meta['machine']}).", "",
             "`page FPS` = frames the page drew per second over the whole window (camera grab, inference, "
             "drawing); `model ms` = median time of the page's inferences inside that window; `Python ms` = median "
             "`Stylizer.process` time of the same model file in ONNX Runtime (uint8 frame in and out) in the "
             "same run. A specialised model (`multi26 style 7`, and the any-painting student once its card says "
             "\"specialise\") runs the fixed int8 graph of one style that `POST /api/device-model` answers.", "",
             "| model | size | backend | threads | form | page FPS | model ms | target | Python ms (threads) "
             "| Python FPS |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        tgt = r.get("target")
        mark = "-" if tgt is None else f">= {tgt} FPS: {'met' if r['fps'] >= tgt else 'missed'}"
        lines.append(f"| `{label(r['model'], r.get('style'))}` | {r['size']} | {r['backend']} | {r['threads']} | {r['form']}{' (specialised)' if r.get('specialised') else ''} | "
                     f"{r['fps']:.1f} | {r['model_ms']:.1f} | {mark} | {r['python_ms']:.1f} ({meta['py_threads']}) | "
                     f"{1000 / r['python_ms']:.1f} |")
    if profiles:
        lines += ["", "## Where the time goes (onnxruntime-web per-operator profile, wasm)", ""]
        for p in profiles:
            ops = ", ".join(f"{op} {ms} ms ({pc}%)" for op, ms, pc in p["ops"])
            lines += [f"`{p['model']}` at {p['size']}, {p['threads']} thread(s), median run {p['run_ms']} ms: {ops}.",
                      "", "| node | op | first input | ms per run |", "| --- | --- | --- | --- |"]
            lines += [f"| {n} | {op} | {shape} | {ms} |" for n, op, shape, ms in p["nodes"]]
            lines.append("")
    block = BEGIN + "\n" + "\n".join(lines).rstrip() + "\n" + END
    text = md.read_text() if md.exists() else f"# The page on the device\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    md.write_text(head + block + rest.split(END, 1)[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="time each model runs on the page per size")
    ap.add_argument("--sizes", default="320x240,640x480")
    ap.add_argument("--python-threads", type=int, default=2)
    ap.add_argument("--python-runs", type=int, default=30)
    ap.add_argument("--webgpu", action="store_true",
                    help="let Chromium offer WebGPU (SwiftShader here) and make the page try it (?webgpu=force)")
    ap.add_argument("--threads", default="auto",
                    help="the page's WebAssembly threads, a list (e.g. auto,1): auto = the page's own choice "
                         "(navigator.hardwareConcurrency), N = ?threads=N")
    ap.add_argument("--no-float", action="store_true", help="skip the float twin of the default model")
    ap.add_argument("--forms", default="rgba", help="the page's model forms, a list: rgba (the page's choice on "
                    "wasm), onnx (the file as shipped, float NCHW converted in JavaScript)")
    ap.add_argument("--profile", action="store_true", help="add onnxruntime-web's per-operator profile")
    ap.add_argument("--out", default=str(ROOT / "docs" / "browser.md"))
    a = ap.parse_args()
    import tempfile

    from framestyle.web.headless import WEBGPU_FLAGS, chromium
    from framestyle.web.server import spawn_server
    from framestyle.runtime.specialise import specialisable
    from framestyle.zoo import add_user_model, default_model, get_model, list_models
    from framestyle.zoo.catalogue import METHOD_MODELS
    home = Path(tempfile.mkdtemp(prefix="fs-browser-bench-"))
    os.environ["FRAMESTYLE_HOME"] = str(home)  # the float twin lives in a throwaway user zoo
    default = get_model(default_model())
    multi = next((m.name for m in list_models() if m.builtin and specialisable(m) and m.kind == "multi"
                  and m.styles > 1), None)
    models = [("default", default.name, False, None)] + ([("multi", multi, False, MULTI_STYLE)] if multi else []) + \
        [("student", METHOD_MODELS["student"], True, None)]
    if not a.no_float:
        twin = f"{default.name}-float"
        float_twin(default.path, home / "twin.onnx")
        add_user_model(home / "twin.onnx", twin, {**default.card.to_json(), "description": "float twin"})
        models.insert(1, ("default-float", twin, False, None))
    sizes = a.sizes.split(",")
    rows, profiles = [], []
    load0 = os.getloadavg()[0]
    def page_url(url, threads, form="rgba"):
        q = ([f"threads={threads}"] if threads != "auto" else []) + (["form=onnx"] if form == "onnx" else [])
        q += ["webgpu=force"] if a.webgpu else []
        return url + "/" + ("?" + "&".join(q) if q else "")

    with spawn_server(["--threads", "1"], env={"FRAMESTYLE_HOME": str(home)}) as url, \
            chromium(WEBGPU_FLAGS if a.webgpu else ()) as page:
        for role, model, style, index in models:
            for size in sizes:
                w, h = map(int, size.split("x"))
                py = python_ms(model, w, h, a.python_threads, a.python_runs, style, index)
                for threads in a.threads.split(","):
                    for form in a.forms.split(","):
                        r = page_run(page, page_url(url, threads, form), model, size, a.seconds, style, index)
                        r.update(model=model, role=role, size=size, target=TARGETS.get((role, w)), python_ms=py)
                        rows.append(r)
                        print(json.dumps(r), flush=True)
        if a.profile:
            w, h = map(int, sizes[-1].split("x"))
            for role, model, style, index in models:
                if role != "default-float" and not (style and get_model(model).card.get("specialise")):
                    profiles.append(profile(page, page_url(url, a.threads.split(",")[0]), model, w, h, index))
                    print(json.dumps(profiles[-1]), flush=True)
    meta = {"command": "python bench/browser_bench.py " + " ".join(shlex.quote(x) for x in sys.argv[1:]),
            "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} CPUs, 1-minute load average {load0:.1f} at the start, "
                       f"{os.getloadavg()[0]:.1f} at the end (other jobs share the CPU)",
            "py_threads": a.python_threads}
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows, "profiles": profiles}, indent=1))
    write_docs(rows, profiles, meta, out)
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
