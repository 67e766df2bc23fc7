import onnxruntime as ort, numpy as np, json, sys, collections
p=sys.argv[1]; h,w=int(sys.argv[2]),int(sys.argv[3])
so=ort.SessionOptions(); so.intra_op_num_threads=2; so.enable_profiling=True
s=ort.InferenceSession(p,so,providers=["CPUExecutionProvider"])
f={s.get_inputs()[0].name: np.random.rand(1,3,h,w).astype(np.float32)}
for i in s.get_inputs()[1:]: f[i.name]=np.random.randn(1,100).astype(np.float32)
for _ in range(8): s.run(None,f)
ev=json.load(open(s.end_profiling()))
d=collections.defaultdict(float)
for e in ev:
    if e.get("cat")=="Node" and e["name"].endswith("_kernel_time"):
        d[(e["name"][:-12], e["args"].get("op_name"))]+=e["dur"]/1000/8
print("total", round(sum(d.values()),1))
for k,v in sorted(d.items(), key=lambda t:-t[1])[:int(sys.argv[4])]: print(round(v,2), k)
