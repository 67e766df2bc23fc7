"""The default engine: a local pool of spawned processes, each holding one Stylizer."""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Dict, List

from .jobs import BatchOptions, work_one

_stylizer = None


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the coordinator dies (even by SIGKILL): no orphan keeps writing."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _init(opts: dict) -> None:
    global _stylizer
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the coordinator
    _stylizer = BatchOptions(**opts).make_stylizer()


def _work(task: dict) -> dict:
    return work_one(_stylizer, task)


def run_local(tasks: List[dict], opts: BatchOptions, workers: int, on_result: Callable[[dict], None]) -> None:
    """Run every task on `workers` processes; `on_result` is called in this process as each one finishes.

    At most 4 tasks per worker are in flight, so a huge job does not queue everything at once. If a worker
    process dies (a crash inside a decoder), the tasks it may have held are reported failed and a fresh pool
    carries on with the rest.
    """
    todo = list(reversed(tasks))
    ctx = mp.get_context("spawn")  # workers are direct children, so PR_SET_PDEATHSIG ties them to us
    while todo:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init,
                                   initargs=(opts.to_dict(),))
        running: Dict = {}
        broken = False
        try:
            while todo or running:
                while todo and len(running) < workers * 4 and not broken:
                    t = todo.pop()
                    running[pool.submit(_work, t)] = t
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    t = running.pop(fut)
                    try:
                        res = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        res = {"rel": t["rel"], "ok": False, "sha256": "", "seconds": 0.0,
                               "error": "worker process died while working on this input (or one beside it)"}
                    on_result(res)
                if broken and not running:
                    break
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)
