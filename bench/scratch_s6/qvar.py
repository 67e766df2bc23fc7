"""int8 variants of one fixed student: which part of the quantisation costs SSIM vs the teacher."""
import sys, tempfile, onnx
from pathlib import Path
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static, CalibrationMethod
from onnxruntime.quantization.shape_inference import quant_pre_process
from framestyle.shrink.quantize import _Reader, calibration_images
from framestyle.shrink.quantize import teacher_fidelity
src, teacher = sys.argv[1], sys.argv[2]
cal = calibration_images(size=int(__import__("os").environ.get("CS", "256")))
pre = "runs/s6/pre.onnx"; quant_pre_process(src, pre, skip_symbolic_shape=True)
nodes = onnx.load(pre).graph.node
IN = [n.name for n in nodes if n.op_type == "InstanceNormalization"]
last = [n.name for n in nodes if n.op_type == "Conv"][-1:]
sig = [n.name for n in nodes if n.op_type == "Sigmoid"]
variants = {"base": (IN, {}, CalibrationMethod.MinMax), "nosig": (IN + sig, {}, CalibrationMethod.MinMax),
            "nolast": (IN + sig + last, {}, CalibrationMethod.MinMax),
            "pct": (IN, {}, CalibrationMethod.Percentile), "ent": (IN, {}, CalibrationMethod.Entropy)}
for v in sys.argv[3:]:
    ex, opt, cm = variants[v]
    out = f"runs/s6/qv_{v}.onnx"
    quantize_static(pre, out, _Reader(Path(src), cal, 8), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=cm,
                    nodes_to_exclude=ex, extra_options=opt)
    f = teacher_fidelity(Path(out), teacher)
    print(v, f["psnr"], f["ssim"], flush=True)
