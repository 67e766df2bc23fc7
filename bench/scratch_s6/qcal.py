"""int8 calibration variants (square 256 crops so Percentile/Entropy can stack them)."""
import sys, onnx, numpy as np
from pathlib import Path
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static, CalibrationMethod
from onnxruntime.quantization.shape_inference import quant_pre_process
from framestyle.shrink.quantize import _Reader, calibration_images, teacher_fidelity
src, teacher = sys.argv[1], sys.argv[2]
def sq(im, s=256):
    h, w = im.shape[:2]; c = min(h, w); t, l = (h - c) // 2, (w - c) // 2
    import cv2; return cv2.resize(np.ascontiguousarray(im[t:t + c, l:l + c]), (s, s), interpolation=cv2.INTER_AREA)
cal = [sq(i) for i in calibration_images(size=512)]
pre = "runs/s6/pre_c.onnx"; quant_pre_process(src, pre, skip_symbolic_shape=True)
IN = [n.name for n in onnx.load(pre).graph.node if n.op_type == "InstanceNormalization"]
for v in sys.argv[3:]:
    cm = {"minmax": CalibrationMethod.MinMax, "pct": CalibrationMethod.Percentile, "ent": CalibrationMethod.Entropy}[v]
    out = f"runs/s6/qc_{v}.onnx"
    quantize_static(pre, out, _Reader(Path(src), cal, 8), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=cm,
                    nodes_to_exclude=IN)
    f = teacher_fidelity(Path(out), teacher)
    print(v, f["psnr"], f["ssim"], flush=True)
