"""Stopping a command at once on SIGTERM or SIGINT (Ctrl-C).

A run of ``tryon run`` executes Airflow's tasks in this process (``dag.test``), and a task
installs its own SIGTERM handler, so a handler of ours can be replaced while a stage runs, and
one that raises only fails the task, which Airflow then retries. So the signals are blocked in
every thread of the process and a watcher thread takes them with ``sigwait``, which no
``signal.signal`` call can take over. On a signal it says so, runs the command's ``on_stop``
(release the drop's lease) for at most a few seconds, ends any child processes and leaves
with 128 + the signal's number. The in-flight batch is abandoned: what it had not committed is
rolled back by the ledger, and a generation's image is written after its sidecar, so a re-run
of the date resumes where this one stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
ON_STOP_SECONDS = 3.0  # longest wait for ``on_stop`` (a ledger that does not answer)


def _end_children() -> None:
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass


_active: list[tuple[str, Callable[[], object], str]] = []  # the blocks entered, innermost last
_watching = threading.Lock()
_watcher: threading.Thread | None = None


def _watch() -> None:
    while True:
        number = signal.sigwait(STOP_SIGNALS)
        if not _active:  # outside every block: the main thread handles it as it would have
            signal.pthread_kill(threading.main_thread().ident or 0, number)
            continue
        what, on_stop, after = _active[-1]
        name = signal.Signals(number).name
        print(f"\n{what}: stopped by {name}{f'; {after}' if after else ''}", file=sys.stderr, flush=True)
        stopper = threading.Thread(target=on_stop, daemon=True)
        stopper.start()
        stopper.join(ON_STOP_SECONDS)
        _end_children()
        os._exit(128 + number)


@contextmanager
def stop_on_signals(what: str, on_stop: Callable[[], object], after: str = "") -> Iterator[None]:
    """Within the block, SIGTERM or SIGINT ends the process within seconds (see the module),
    saying ``what`` stopped (and ``after``: what that leaves).
    Enter it before any thread starts (they inherit the blocked signals)."""
    global _watcher
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    with _watching:
        if _watcher is None:
            _watcher = threading.Thread(target=_watch, name="stop-on-signals", daemon=True)
            _watcher.start()
    _active.append((what, on_stop, after))
    try:
        yield
    finally:
        _active.pop()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
