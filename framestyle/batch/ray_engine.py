"""The Ray engine: images through Ray Data `map_batches` on an actor pool (one Stylizer per actor), videos as
Ray tasks. Outputs are written by the workers to temp names beside their final names, so with `--address` the
input and output folders must be visible at the same paths on every node (a shared filesystem).
"""
from __future__ import annotations

import logging
import os
from typing import Callable, List, Optional

from ..errors import UserError
from .jobs import BatchOptions, work_one

PIP_LINE = 'pip install "ray[data]==2.60.0"'


def _import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UserError(f"--engine ray needs Ray: {PIP_LINE}") from None
    return ray


class _StylizeActor:
    """Ray Data callable class: builds its Stylizer once, then stylises one-row batches."""
    OPTS: dict = {}   # set on a per-job subclass, so no constructor arguments live in the object store

    def __init__(self):
        self.st = BatchOptions(**self.OPTS).make_stylizer()

    def __call__(self, batch: dict) -> dict:
        keys = ("rel", "src", "kind", "out_rel", "tmp")
        out = {"rel": [], "ok": [], "sha256": [], "error": [], "seconds": []}
        for i in range(len(batch["rel"])):
            res = work_one(self.st, {k: str(batch[k][i]) for k in keys})
            for k in out:
                out[k].append(res[k])
        return out


def _video_task(opts: dict, task: dict) -> dict:
    return work_one(BatchOptions(**opts).make_stylizer(), task)


def _start(ray, address: Optional[str], cpus: int) -> bool:
    """Join the cluster at `address`, or start a private local Ray on loopback; True when we started it."""
    if ray.is_initialized():
        return False
    kw = dict(include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="ERROR")
    try:
        if address:
            ray.init(address=address, **kw)
        else:
            ray.init(num_cpus=cpus, _node_ip_address="127.0.0.1", **kw)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise UserError(f"could not start {where}: {str(exc).splitlines()[0][:200]}") from None
    return True


def run_ray(tasks: List[dict], opts: BatchOptions, workers: int, on_result: Callable[[dict], None],
            address: Optional[str] = None, cpus: Optional[int] = None) -> None:
    """Run every task on Ray; `on_result` is called on the driver as each result streams back."""
    ray = _import_ray()
    started = _start(ray, address, cpus or os.cpu_count() or 1)
    try:
        _run(ray, tasks, opts, workers, on_result)
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise UserError(f"the Ray job stopped ({first}); finished outputs are kept, run again to resume") \
            from None
    finally:
        if started:
            ray.shutdown()


def _run(ray, tasks: List[dict], opts: BatchOptions, workers: int, on_result: Callable[[dict], None]) -> None:
    """Images through Ray Data on an actor pool, then videos as tasks."""
    images = [t for t in tasks if t["kind"] == "image"]
    videos = [t for t in tasks if t["kind"] == "video"]
    if images:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        ds = ray.data.from_items(images, override_num_blocks=min(len(images), max(1, workers) * 8))
        actor = type("StylizeActor", (_StylizeActor,), {"OPTS": opts.to_dict()})
        ds = ds.map_batches(actor, batch_size=1, batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=opts.threads)
        for row in ds.iter_rows():
            on_result({k: (bool(v) if k == "ok" else float(v) if k == "seconds" else str(v))
                       for k, v in row.items()})
    if videos:
        remote = ray.remote(num_cpus=opts.threads, max_retries=0)(_video_task)
        pending = [remote.remote(opts.to_dict(), t) for t in videos]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            on_result(ray.get(ready[0]))
