import onnxruntime as ort, numpy as np, json, sys, collections
p=sys.argv[1]; h,w=int(sys.argv[2]),int(sys.argv[3])
so=ort.SessionOptions(); so.intra_op_num_threads=2; so.enable_profiling=True
s=ort.InferenceSession(p,so,providers=["CPUExecutionProvider"])
x=np.random.rand(1,3,h,w).astype(np.float32)
for _ in range(6): s.run(None,{s.get_inputs()[0].name:x})
ev=json.load(open(s.end_profiling()))
d=collections.defaultdict(float); n=collections.Counter()
for e in ev:
    if e.get("cat")=="Node" and e["name"].endswith("_kernel_time"):
        op=e["args"].get("op_name","?"); d[op]+=e["dur"]/1000/6; n[op]+=1
print("total", round(sum(d.values()),1)); print({k: (round(v,1), n[k]//6) for k,v in sorted(d.items(), key=lambda t:-t[1])})
