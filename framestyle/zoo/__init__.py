"""The model registry: built-in students, teachers and user models."""
from .registry import ModelInfo, get_model, list_models, add_user_model, DEFAULT_MODEL, STILL_MODEL  # noqa: F401
