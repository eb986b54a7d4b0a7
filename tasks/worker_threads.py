"""The threads of a worker process: a pool per size, started on first use and kept from task to
task. The CPU stages (validation, QC's measuring, garment and library preprocessing, the looks
step) spread their items over ``TRYON_CPU_THREADS``: a task that runs alone on a many-core
worker, or ``dag.test`` running every task in one process, uses the cores it has. Work that waits
on the network (publish's S3 copies) takes more threads than cores.

Kept, not started per task: each thread holds its own mediapipe models
(``shared_models.process_instance``), and threads started per task would load a set per task
that stays loaded until the process exits (about 500 MB a task where one process runs many)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tasks import progress

T = TypeVar("T")
R = TypeVar("R")

_POOLS: dict[int, ThreadPoolExecutor] = {}
os.register_at_fork(after_in_child=_POOLS.clear)  # a forked child has none of its parent's threads


def cpu_threads(count: int) -> ThreadPoolExecutor:
    """The process's pool of ``count`` CPU threads. Never submit to it from one of its own
    threads and wait: the waiting thread holds a place the work needs."""
    if count not in _POOLS:
        _POOLS[count] = ThreadPoolExecutor(count, thread_name_prefix="cpu")
    return _POOLS[count]


def each_on_threads(work: Callable[[T], R], items: Iterable[T], count: int) -> Iterator[R]:
    """``work`` of each item, in the items' order, on ``count`` of the process's CPU threads
    (in the calling thread when ``count`` is 1: nothing to gain from a hand-off). The items
    done are counted for a terminal's progress lines (``tasks.progress``)."""
    listed = list(items)
    progress.items(len(listed))

    def counted(item: T) -> R:
        result = work(item)
        progress.item_done()
        return result

    if count <= 1:
        return map(counted, listed)
    return cpu_threads(count).map(counted, listed)
