"""ONNX Runtime's uint8 Transpose at 720p sizes (2 threads, min of 30): generic multi-axis permutations vs the
single-axis moves u8ends uses (the numbers behind the channel reordering in runtime/u8ends.py)."""
import time
import numpy as np, onnxruntime as ort
from onnx import TensorProto, helper


def tr(shape, perm):
    g = helper.make_graph([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], "t",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)])
    so = ort.SessionOptions(); so.intra_op_num_threads = 2
    s = ort.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString(),
                             so, providers=["CPUExecutionProvider"])
    x = (np.random.rand(*shape) * 255).astype(np.uint8)
    ts = []
    for _ in range(30):
        a = time.perf_counter(); y = s.run(None, {"x": x}); ts.append(time.perf_counter() - a)
    assert np.array_equal(y[0], x.transpose(perm))
    print(f"{str(shape):24s} perm {str(perm):18s} {min(ts) * 1000:6.2f} ms")


print("in: frame (720, 1280, 3) to 12 phase channels")
tr([360, 2, 640, 2, 3], [4, 1, 3, 0, 2])   # straight to NCHW, channel c*4+qy*2+qx (generic: slow)
tr([360, 2, 640, 6], [0, 2, 1, 3])         # to NHWC, channel (qy, qx, c): what u8ends does
print("out: 48 phase channels at 1/4 to (720, 1280, 3)")
tr([3, 4, 4, 180, 320], [3, 1, 4, 2, 0])   # from NCHW, CRD order (generic: slow)
tr([180, 320, 4, 12], [0, 2, 1, 3])        # from NHWC, DCR order: what u8ends does
