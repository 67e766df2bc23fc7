"""Interleaved timing of ONNX files (2 threads): min of 3 per round, median over rounds."""
import onnxruntime as ort, numpy as np, time, sys
R = int(sys.argv[1]); paths = sys.argv[2:]
sizes = ((480,640),(720,1280))
sess = {}
for p in paths:
    so = ort.SessionOptions(); so.intra_op_num_threads = 2
    sess[p] = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
def feeds(s, shape):
    f = {}
    for i in s.get_inputs():
        if len(i.shape) == 4: f[i.name] = np.random.rand(1,3,*shape).astype(np.float32)
        elif i.name == "style": f[i.name] = np.random.randn(1, 100).astype(np.float32)
        else: w = np.zeros(26, np.float32); w[12] = 1; f[i.name] = w
    return f
res = {(p,s): [] for p in paths for s in sizes}
for r in range(R):
    for p in paths:
        for s in sizes:
            fd = feeds(sess[p], s); ts=[]
            for _ in range(3):
                a=time.perf_counter(); sess[p].run(None, fd); ts.append(time.perf_counter()-a)
            if r: res[(p,s)].append(min(ts)*1000)
for p in paths:
    print(f"{p.split('/')[-1]:28s}", [round(float(np.median(res[(p,s)])),1) for s in sizes])
