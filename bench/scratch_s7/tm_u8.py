"""Interleaved timing of models as Stylizer runs them (uint8_graph, uint8 frames in and out), 2 threads:
min of 3 per round, median over rounds, at 640x480 and 1280x720. Usage: tm_u8.py ROUNDS A.onnx|NAME ..."""
import sys, time
import numpy as np, onnxruntime as ort
from framestyle.runtime.session import uint8_graph, U8_IN
from framestyle.zoo import get_model
R = int(sys.argv[1]); paths = sys.argv[2:]
sizes = ((480, 640), (720, 1280))
sess = {}
for p in paths:
    so = ort.SessionOptions(); so.intra_op_num_threads = 2
    sess[p] = ort.InferenceSession(uint8_graph(p if p.endswith(".onnx") else get_model(p).path), so,
                                   providers=["CPUExecutionProvider"])
res = {(p, s): [] for p in paths for s in sizes}
for r in range(R):
    for p in paths:
        for s in sizes:
            fd = {U8_IN: (np.random.rand(*s, 3) * 255).astype(np.uint8)}
            ts = []
            for _ in range(3):
                a = time.perf_counter(); sess[p].run(None, fd); ts.append(time.perf_counter() - a)
            if r:
                res[(p, s)].append(min(ts) * 1000)
for p in paths:
    print(f"{p.split('/')[-1]:28s}", [round(float(np.median(res[(p, s)])), 1) for s in sizes])
