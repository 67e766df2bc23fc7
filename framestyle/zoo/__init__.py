"""The model registry: the catalogue (named styles, the one default), teachers and user models."""
from .card import CardError, ModelCard, save_card  # noqa: F401
from .catalogue import DEFAULT, default_model, pick_model  # noqa: F401
from .registry import ModelInfo, get_model, list_models, add_user_model, DEFAULT_MODEL  # noqa: F401
