"""ORT profile of a model as Stylizer runs it (uint8-wrapped graph), per node and per op type.
Usage: prof_u8.py MODEL_OR_ONNX H W TOP"""
import collections, json, sys
import numpy as np, onnxruntime as ort
from framestyle.runtime.session import uint8_graph
from framestyle.zoo import get_model
p = sys.argv[1]; h, w, top = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
path = p if p.endswith(".onnx") else get_model(p).path
so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.enable_profiling = True
s = ort.InferenceSession(uint8_graph(path), so, providers=["CPUExecutionProvider"])
f = {s.get_inputs()[0].name: (np.random.rand(h, w, 3) * 255).astype(np.uint8)}
N = 10
for _ in range(N): s.run(None, f)
ev = json.load(open(s.end_profiling()))
d = collections.defaultdict(float); ops = collections.defaultdict(float)
for e in ev:
    if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
        d[e["name"][:-12]] += e["dur"] / 1000 / N; ops[e["args"].get("op_name")] += e["dur"] / 1000 / N
print("total", round(sum(d.values()), 1))
print({k: round(v, 1) for k, v in sorted(ops.items(), key=lambda t: -t[1])})
for k, v in sorted(d.items(), key=lambda t: -t[1])[:top]: print(round(v, 2), k)
