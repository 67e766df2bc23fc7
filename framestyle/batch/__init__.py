"""Batch stylisation of whole folders: a local process pool by default, Ray for clusters, resumable.

    from framestyle.batch import BatchOptions, run_batch
    res = run_batch("photos/", "styled/", BatchOptions(max_size=1280), workers=2)
"""
from .jobs import BatchOptions  # noqa: F401
from .manifest import MANIFEST_NAME, Manifest  # noqa: F401
from .runner import BatchResult, run_batch, summary_table  # noqa: F401
