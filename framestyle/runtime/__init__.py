"""The one runtime everything calls: `Stylizer` over ONNX Runtime."""
from .stylizer import Stylizer  # noqa: F401
