"""Where a model's frame time goes: ONNX Runtime profile of the session `Stylizer` runs (uint8 frame in and out),
time per op type (and the largest nodes), plus the model's MACs per pixel.

    python bench/profile_ops.py starry [MODEL_OR_ONNX...] [--size 1280x720] [--threads 2] [--runs 30]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from framestyle.metrics.cost import kmac_per_pixel  # noqa: E402
from framestyle.metrics.speed import parse_sizes, test_frame  # noqa: E402
from framestyle.runtime.stylizer import Stylizer  # noqa: E402


def profile(model: str, w: int, h: int, threads: int, runs: int, top: int = 12) -> str:
    import onnxruntime as ort
    st = Stylizer(model, threads=threads)
    frame = test_frame(w, h)
    st.process(frame)  # builds the session Stylizer uses
    if not st._u8:
        return f"{model}: not run as a uint8 graph; profile skipped"
    from framestyle.runtime.session import uint8_graph
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    with tempfile.TemporaryDirectory() as td:
        so.enable_profiling, so.profile_file_prefix = True, str(Path(td) / "p")
        sess = ort.InferenceSession(uint8_graph(st.info.path), so, providers=["CPUExecutionProvider"])
        feeds = {sess.get_inputs()[0].name: frame}
        for _ in range(3):
            sess.run(None, feeds)
        for _ in range(runs):
            sess.run(None, feeds)
        events = json.loads(Path(sess.end_profiling()).read_text())
    by_op, by_node, total = defaultdict(float), defaultdict(float), 0.0
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            us = e["dur"] / (runs + 3)
            by_op[e["args"]["op_name"]] += us
            by_node[e["name"][:-len("_kernel_time")]] += us
            total += us
    lines = [f"{st.info.name} {w}x{h} t={threads}: {kmac_per_pixel(st.info.path)} kMAC/px, "
             f"{total / 1000:.1f} ms in kernels per frame"]
    lines += [f"  {op:24s} {us / 1000:6.2f} ms {100 * us / total:5.1f}%"
              for op, us in sorted(by_op.items(), key=lambda kv: -kv[1])]
    lines += ["  largest nodes:"] + [f"    {n[:48]:48s} {us / 1000:6.2f} ms"
                                     for n, us in sorted(by_node.items(), key=lambda kv: -kv[1])[:top]]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    (w, h), = parse_sizes(a.size)
    for m in a.models:
        print(profile(m, w, h, a.threads, a.runs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
