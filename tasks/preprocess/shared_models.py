"""Model instances shared by the code of a process, one per thread."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


def process_instance(cls: Callable[[], T]) -> Callable[[], T]:
    """A getter for the calling thread's instance of ``cls``, built on its first use there
    (loading the model is the expensive part) and closed at exit: mediapipe's graph threads, left
    to interpreter shutdown, abort the process. One per thread because a mediapipe graph must not
    be run by two threads at once (QC measures on several)."""
    local = threading.local()

    def shared() -> T:
        instance = getattr(local, "instance", None)
        if instance is None:
            instance = local.instance = cls()
            atexit.register(instance.close)
        return instance

    return shared
