"""Live and video stylisation: sources, sinks, the threaded pipelines and the temporal stabiliser."""
from .pipeline import run_live
from .sinks import open_sink
from .sources import open_source
from .stabilizer import Stabilizer
from .video import stylize_video

__all__ = ["run_live", "open_sink", "open_source", "Stabilizer", "stylize_video"]
