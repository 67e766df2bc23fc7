"""int8 speed of the phase stem's 5x5 conv (to 32 channels at 360x640) by input channel count: does padding the
12 phase channels to 16 help ONNX Runtime's int8 conv? Interleaved, 2 threads, median of min-of-3 per round."""
import time
import numpy as np, onnxruntime as ort, torch, torch.nn as nn
from pathlib import Path
from framestyle.export.onnx import export_onnx
from framestyle.shrink.quantize import quantize_file

d = Path("runs/s7/cin"); d.mkdir(parents=True, exist_ok=True)
sess = {}
for cin, k in ((12, 5), (16, 5), (32, 3), (12, 3)):
    net = nn.Sequential(nn.Conv2d(cin, 32, k, padding=k // 2), nn.ReLU(), nn.Conv2d(32, 16, 3, padding=1)).eval()
    f = d / f"c{cin}_{k}.onnx"
    torch.onnx.export(net, torch.rand(1, cin, 64, 64), f, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationDataReader
    class R(CalibrationDataReader):
        def __init__(self): self.it = iter([{"input": np.random.rand(1, cin, 64, 64).astype(np.float32)} for _ in range(2)])
        def get_next(self): return next(self.it, None)
    q = d / f"c{cin}_{k}_q.onnx"
    quantize_static(str(f), str(q), R(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    so = ort.SessionOptions(); so.intra_op_num_threads = 2
    sess[(cin, k)] = (ort.InferenceSession(str(q), so, providers=["CPUExecutionProvider"]),
                      {"input": np.random.rand(1, cin, 360, 640).astype(np.float32)})
res = {key: [] for key in sess}
for r in range(10):
    for key, (s, fd) in sess.items():
        ts = []
        for _ in range(3):
            a = time.perf_counter(); s.run(None, fd); ts.append(time.perf_counter() - a)
        res[key].append(min(ts) * 1000)
for (cin, k), v in res.items():
    print(f"in {cin:2d} ch, {k}x{k}: {np.median(v):.2f} ms ({cin * 32 * k * k * 360 * 640 / 1e9:.2f} GMAC first conv)")
