"""framestyle: real-time neural style transfer on an ordinary CPU."""
__version__ = "0.1.0"


from .errors import UserError  # noqa: E402,F401
from .imageio import load_image, save_image  # noqa: E402,F401


def __getattr__(name):  # lazy: importing framestyle loads no model and no onnxruntime
    if name == "Stylizer":
        from .runtime.stylizer import Stylizer
        return Stylizer
    if name in ("list_models", "get_model"):
        from . import zoo
        return getattr(zoo, name)
    raise AttributeError(name)
