"""Which part of an int8 student costs SSIM: leave one group of nodes in float at a time."""
import sys, onnx
from pathlib import Path
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from framestyle.shrink.quantize import _Reader, calibration_images, teacher_fidelity
src, teacher = sys.argv[1], sys.argv[2]
cal = calibration_images()
pre = "runs/s6/pre_s.onnx"; quant_pre_process(src, pre, skip_symbolic_shape=True)
nodes = onnx.load(pre).graph.node
IN = [n.name for n in nodes if n.op_type == "InstanceNormalization"]
groups = {"none": [], "stem": [n.name for n in nodes if n.name.startswith("/stem")],
          "body": [n.name for n in nodes if n.name.startswith("/res")],
          "head": [n.name for n in nodes if n.name.startswith("/head") or n.op_type in ("DepthToSpace", "Sigmoid")],
          "adds": [n.name for n in nodes if n.op_type == "Add"]}
for g in sys.argv[3:]:
    out = f"runs/s6/qs_{g}.onnx"
    quantize_static(pre, out, _Reader(Path(src), cal, 8), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=IN + groups[g])
    f = teacher_fidelity(Path(out), teacher)
    print(g, f["psnr"], f["ssim"], flush=True)
