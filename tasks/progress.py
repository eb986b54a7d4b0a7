"""What a person at a terminal sees of a long command (``tryon demo``, ``run``, ``backfill``,
``library build``): a line when each stage ends, with its counts and seconds, and, while a step
runs, a line at least every ``EVERY_S`` seconds saying which task runs, how far its items are
and for how long. Only where the command asked for it (:func:`ticker` sets ``TRYON_PROGRESS``
for the ``dag.test`` run in its process): under a worker, Airflow's task logs stay as they are.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

ENV = "TRYON_PROGRESS"
EVERY_S = 10.0
TICK_S = 0.5  # how often the ticker looks: it speaks when waiting for its next look, late by one, would pass EVERY_S


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.task: str | None = None
        self.task_since = self.last_line = time.monotonic()
        self.items_done = self.items_total = 0


_STATE = _State()


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def say(line: str) -> None:
    print(line, flush=True)
    _STATE.last_line = time.monotonic()


def task_started(task_id: str) -> None:
    """The ``dag.test`` loop started ``task_id`` (``tasks.airflow_glue.runner``)."""
    with _STATE.lock:
        _STATE.task, _STATE.task_since = task_id, time.monotonic()
        _STATE.items_done = _STATE.items_total = 0


def items(total: int) -> None:
    """A loop over ``total`` items begins in the running task."""
    with _STATE.lock:
        _STATE.items_done, _STATE.items_total = 0, _STATE.items_total + total


def item_done() -> None:
    with _STATE.lock:
        _STATE.items_done += 1


def stage_done(name: str, seconds: float, details: Mapping[str, Any], label: str | None = None) -> None:
    """A stage's line: its name (and chunk), the counts among its details, its seconds."""
    if not enabled():
        return
    counts = ", ".join(f"{v} {k}" for k, v in details.items() if isinstance(v, int) and not isinstance(v, bool) and k != "pid")
    say(f"  {name}{f' ({label})' if label else ''}: {counts + ' ' if counts else ''}in {seconds:.1f} s")


@contextmanager
def repeating(first_s: float, action: Callable[[], float | None]) -> Iterator[None]:
    """``action`` on a thread of its own after ``first_s`` seconds, then again after the seconds
    it returns (None: no more), until the block ends."""
    done = threading.Event()

    def loop() -> None:
        delay: float | None = first_s
        while delay is not None and not done.wait(delay):
            delay = action()

    thread = threading.Thread(target=loop, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@contextmanager
def ticker(what: str) -> Iterator[None]:
    """Progress for ``what`` (a DAG run in this process): the stages' lines, and a line whenever
    ``EVERY_S`` passed without one."""
    previous, started = os.environ.get(ENV), time.monotonic()
    os.environ[ENV] = "1"

    def tick() -> float:
        now = time.monotonic()
        if now - _STATE.last_line + 2 * TICK_S >= EVERY_S:
            with _STATE.lock:
                task, since, count, total = _STATE.task, _STATE.task_since, _STATE.items_done, _STATE.items_total
            step = f"{task} for {now - since:.0f} s" + (f", {count}/{total} items" if total else "") if task else "starting"
            say(f"  ... {what}: {step} ({now - started:.0f} s in all)")
        return TICK_S

    try:
        with repeating(TICK_S, tick):
            yield
    finally:
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous
