"""Process-wide model instances."""

from __future__ import annotations

import atexit
import functools
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def process_instance(cls: Callable[[], T]) -> Callable[[], T]:
    """A getter for one shared instance of ``cls``, built on first use (loading the model is the
    expensive part) and closed at exit: mediapipe's graph threads, left to interpreter
    shutdown, abort the process."""

    @functools.cache
    def shared() -> T:
        instance = cls()
        atexit.register(instance.close)
        return instance

    return shared
