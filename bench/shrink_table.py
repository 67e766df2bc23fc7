"""Size / speed / quality of every shrink variant of the built-in students -> docs/shrink.md.

    python bench/shrink_table.py [--models NAME_OR_ONNX ...] [--prune-steps 200] [--binary-steps 300]

For each built-in student (framestyle/zoo/builtin/*.onnx; if there is none, the `fast` arch at the built-in
width with RANDOM weights, said in the output): fp32, fp16, int8 static, int8 dynamic, pruned 50% and binary
weights. Speed: ONNX Runtime, 2 threads, median of --runs warm runs at 640x480 and 1280x720. Quality: PSNR vs
the float model and vs the teacher on the held-out photos at 512 px. Exports: each variant tried as ONNX,
TFLite (480x640) and Core ML (480x640). Derived models go to a temporary FRAMESTYLE_HOME.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ms(path, h, w, runs):
    import onnxruntime as ort
    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads = 2, 1
    s = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
    feeds = {s.get_inputs()[0].name: np.random.default_rng(0).random((1, 3, h, w), np.float32)}
    for _ in range(3):
        s.run(None, feeds)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, feeds)
        t.append((time.perf_counter() - t0) * 1000)
    return float(np.median(t))


def teacher_for(card):
    """Teacher object from a card, or (None, reason)."""
    from framestyle.errors import UserError
    from framestyle.zoo.teachers import Teacher
    spec = card.get("teacher")
    if not spec:
        return None, "no teacher in card"
    if spec.startswith("magenta:"):
        try:
            import framestyle.zoo.magenta  # noqa: F401
        except ImportError:
            return None, "magenta.py missing"
        img = spec.split(":", 1)[1]
        cands = [Path(img), ROOT.parent / "shared/data/images" / img,
                 Path("/usr/share/doc/opencv-doc/examples/data") / img]
        hit = next((c for c in cands if c.exists()), None)
        if hit is None:
            return None, f"style image {img} not found"
        spec = f"magenta:{hit}"
    try:
        return Teacher(spec, threads=2), ""
    except UserError as exc:
        return None, str(exc)


def psnr_vs_teacher(info, teacher, cache):
    from framestyle.imageio import load_image
    from framestyle.metrics.fidelity import psnr
    from framestyle.runtime.stylizer import Stylizer
    from framestyle.train.data import held_out_images, resize_long
    st = Stylizer(info, threads=2)
    vals = []
    for p in held_out_images():
        x = resize_long(load_image(p), 512)
        if p not in cache:
            cache[p] = (teacher(x) * 255 + 0.5).astype(np.uint8)
        vals.append(psnr(st.stylize(x), cache[p]))
    return round(float(np.mean(vals)), 2)


def try_exports(info, td):
    from framestyle.errors import UserError
    from framestyle.export.convert import export_model
    if info.card.get("method") in ("fp16", "int8", "int8-dynamic"):
        return {"onnx": "yes (this file)", "tflite": "no (export the float model)", "coreml": "no (ditto)"}
    out = {}
    for to, ext in (("onnx", "onnx"), ("tflite", "tflite"), ("coreml", "mlpackage")):
        try:
            r = export_model(info, to, Path(td) / f"{info.name}.{ext}", size=(480, 640))
            d = r.get("max_abs_vs_ort")
            out[to] = "yes" + (f" ({d:.0e})" if d is not None else "")
        except UserError as exc:
            out[to] = "no: " + str(exc).split(";")[0][:60]
    return out


def bench_one(src, args, td, rows):
    from framestyle.shrink.binarize import binarize
    from framestyle.shrink.prune import prune
    from framestyle.shrink.quantize import quantize
    from framestyle.zoo import get_model
    teacher, why = (None, "random weights") if src.card.get("random") else teacher_for(src.card)
    cache = {}
    variants = [("fp32", src, {})]
    for label, fn in (("fp16", lambda n: quantize(src, "fp16", n, force=True)),
                      ("int8 static", lambda n: quantize(src, "int8", n, force=True)),
                      ("int8 dynamic", lambda n: quantize(src, "int8-dynamic", n, force=True)),
                      ("pruned 50%", lambda n: prune(src, 0.5, n, steps=args.prune_steps, progress=False, force=True)),
                      ("binary", lambda n: binarize(src, n, steps=args.binary_steps, progress=False, force=True))):
        name = f"{src.name}-{label.replace(' ', '-').replace('%', '')}"
        t0 = time.perf_counter()
        res = fn(name)
        print(f"  {label}: {time.perf_counter() - t0:.0f} s", flush=True)
        variants.append((label, get_model(name), res))
    for label, info, res in variants:
        row = {"model": src.name, "variant": label, "size_kb": round(info.size_bytes / 1024, 1),
               "params": res.get("params", src.card.get("params", "")),
               "ms_640x480": round(ms(info.path, 480, 640, args.runs), 1),
               "ms_1280x720": round(ms(info.path, 720, 1280, args.runs), 1),
               "psnr_vs_float": res.get("psnr_vs_source", "—"),
               "psnr_vs_teacher": psnr_vs_teacher(info, teacher, cache) if teacher else f"n/a ({why})"}
        if label == "binary":
            row["size_kb"] = f"{row['size_kb']} (packed {res['packing']['packed_bytes'] / 1024:.1f})"
        row.update(try_exports(info, td))
        rows.append(row)
        print("  ", json.dumps(row), flush=True)


def write_doc(rows, args, note, path):
    cols = ["model", "variant", "size_kb", "params", "ms_640x480", "ms_1280x720", "psnr_vs_float",
            "psnr_vs_teacher", "onnx", "tflite", "coreml"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    head = INTRO
    if args.append and path.exists():
        head = path.read_text().replace(FOOTNOTES, "").rstrip() + "\n"
    text = head + "\n## Measured\n\nCommand: `" + " ".join(["python", "bench/shrink_table.py"] + sys.argv[1:]) + \
        f"`  \nRun: {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} CPU cores; {note}\n\n" + \
        "\n".join(lines) + "\n\n" + FOOTNOTES
    tmp = path.with_suffix(".md.part")
    tmp.write_text(text)
    os.replace(tmp, path)


INTRO = """# Shrinking and exporting students

All commands take a zoo name or an `.onnx` path; new models land in the user zoo with a card
(`kind` copied from the source, `derived_from`, `method`, sizes, `fidelity_vs_source`).

```
framestyle quantize MODEL --int8 [--calib DIR] -o NAME        # static int8 QDQ, per-channel weights
framestyle quantize MODEL --int8 --dynamic -o NAME            # dynamic int8 (ConvInteger), no calibration
framestyle quantize MODEL --fp16 -o NAME                      # float16 inside, float32 input/output
framestyle prune MODEL --ratio 0.5 [--steps 300] -o NAME      # fast-family students only
framestyle binarize MODEL [--steps 400] -o NAME
framestyle export MODEL --to onnx|tflite|coreml [--size HxW] [--nhwc] [--opset N]
                  [--input-format rgb|nv12|i420] [--range video|full] -o PATH
```

- **int8 static**: ONNX Runtime `quantize_static`, QDQ format, uint8 activations / int8 per-channel weights,
  MinMax calibration on real photos (default: skimage astronaut, coffee, chelsea, rocket and the OpenCV sample
  photos at 256 px, never the held-out photos; `--calib DIR` for your own). Instance norms stay float.
  Smaller; whether it is faster depends on the CPU (this one has AVX2, no VNNI): see the table.
- **int8 dynamic**: `quantize_dynamic`, uint8 weights (the CPU provider's ConvInteger takes uint8).
- **fp16**: onnxconverter-common, `keep_io_types=True`: half the weight bytes; on ORT's CPU provider it ran
  at about fp32 speed here (table). Meant for GPU/WebGPU/NPU runtimes.
- **prune**: the `fast` body is one residual stream of C channels shared by stem, blocks and head; the lowest
  L1-norm channels (summed over every weight that reads or writes them) are removed, then a short
  distillation (pixel MSE on random 160 px crops of the offline photos) from the ORIGINAL model's outputs.
- **binarize**: XNOR-style sign(W) x mean|W| per output channel on every conv except the first and the last
  (kept float), trained with a straight-through estimator from the float student's outputs. The ONNX stores
  the binary weights as float32 (no 1-bit kernels in ORT), so it runs at float speed; the packed size is
  reported as the theoretical storage.
- **export**: the PyTorch net is rebuilt from the student's ONNX (`framestyle/shrink/from_onnx.py`, checked
  against ORT), wrapped, exported and checked on a real photo against the source ONNX under ORT.
  ONNX: dynamic H,W single file, or fixed with `--size`. TFLite: litert-torch, fixed size, checked in the
  LiteRT interpreter (`--nhwc` gives [1,H,W,3] in and out). Core ML: ML Program `.mlpackage`, float16
  compute, conversion + spec validation only (prediction is macOS-only). Extras:
  `pip install torch==2.13.0 litert-torch==0.10.0 ai-edge-litert==2.3.0` and
  `pip install torch==2.13.0 coremltools==9.0`.

### YUV camera input (`--input-format nv12|i420`)
The colour conversion is part of the graph, so camera frames go in as they are delivered: ONE uint8 buffer
`yuv` of shape [H*3/2, W] - rows 0..H-1 the Y plane, then for NV12 H/2 rows of interleaved U,V bytes, for
I420 the U plane (H/2 x W/2) followed by the V plane. H and W even (and multiples of the model's multiple).
BT.601, `--range video` (Y 16..235, what OpenCV's COLOR_YUV2RGB_NV12/I420 assume; the default) or `full`
(JPEG). Chroma is repeated over each 2x2 block and RGB rounded to 8-bit levels, as OpenCV does. Output:
[1,3,H,W] float32 RGB 0..1. Checked against `cv2.cvtColor(buf, COLOR_YUV2RGB_NV12/I420)` + the RGB model
(full range: cv2 YCrCb2RGB on the repeated chroma): the RGB differs from OpenCV's fixed-point result by at
most 1 level per channel; the stylised output differs by max 0.0066 / mean 0.0003 (random tiny model,
tests/test_export.py) and max 0.0165 / mean 0.0009 (starry-perceptual, NV12 480x640: `framestyle export
MODEL --input-format nv12 --size 480x640 -o cam.onnx --json`). Core ML has no
uint8 tensor inputs, so there the same buffer arrives as float32 holding 0..255.
"""

FOOTNOTES = """Columns: size of the ONNX file in KB (binary: the ONNX stores the binarised weights as float32; the packed
size counts 1 bit per binarised weight + one float32 scale per output channel + every other parameter as
float32); ms = ONNX Runtime CPU, 2 intra-op threads, median of the warm runs (3 warm-up runs discarded);
PSNR vs float = the variant against the fp32 student on the 4 held-out photos at 512 px (through the
Stylizer); PSNR vs teacher = against the teacher on the same photos. Export columns: `yes (max abs diff vs
ORT)` when the conversion ran and was checked on a real photo at 480x640 (Core ML: spec validated only,
prediction is macOS-only); quantised graphs do not rebuild as PyTorch nets, so TFLite/Core ML take the float
student (both tools have their own weight quantisation). The CPU was shared with training jobs while this
ran, so the milliseconds are upper bounds; compare rows with each other rather than with other tables.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="zoo names or .onnx paths (default: every built-in student)")
    ap.add_argument("--prune-steps", type=int, default=200)
    ap.add_argument("--binary-steps", type=int, default=300)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--append", action="store_true", help="add a section to the existing doc")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "shrink.md")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="fs_shrink_")
    os.environ["FRAMESTYLE_HOME"] = home
    from framestyle.zoo import get_model
    from framestyle.zoo.registry import BUILTIN_DIR
    names = args.models or [str(p) for p in sorted(BUILTIN_DIR.glob("*.onnx"))]
    note = "students: " + (", ".join(Path(n).stem for n in names) if names else "none")
    srcs = [get_model(n) for n in names]
    if not srcs:
        import torch
        from framestyle.export.onnx import export_onnx
        from framestyle.nets import build
        torch.manual_seed(0)
        kw = {"alpha": 1.34, "blocks": 8}
        p = Path(home) / "fast-random.onnx"
        export_onnx(build("fast", **kw), p)
        p.with_suffix(".json").write_text(json.dumps({"arch": "fast", "arch_kwargs": kw, "random": True,
                                                      "params": sum(x.numel() for x in build("fast", **kw).parameters())}))
        srcs = [get_model(str(p))]
        note = ("NO built-in student existed yet: `fast` arch (alpha=1.34, blocks=8, the built-ins' width) with "
                "RANDOM weights: sizes and speeds are real, quality columns only show the plumbing")
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for src in srcs:
            print(f"{src.name}:", flush=True)
            bench_one(src, args, td, rows)
    write_doc(rows, args, note, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
