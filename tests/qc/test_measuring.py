"""How the QC stage measures: a view asked for by many threads at once is read once, a failed
read is read again by the next to ask, the least recently used views are let go, and the
measuring threads keep their models from task to task."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tasks.qc.stage import ViewCache


def test_a_view_asked_for_by_many_threads_at_once_is_read_once():
    reads: Counter = Counter()
    lock = threading.Lock()

    def read(photo_id: str, category: str):
        with lock:
            reads[(photo_id, category)] += 1
        time.sleep(0.05)  # every thread asks while the first read is under way
        return f"{photo_id}/{category}"

    cache = ViewCache(read, size=8)
    asks = [("p1", "upper_body"), ("p2", "dresses")] * 16
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda key: cache(*key), asks))
    assert answers == [f"{p}/{c}" for p, c in asks]
    assert reads == {("p1", "upper_body"): 1, ("p2", "dresses"): 1}


def test_a_failed_read_is_read_again_and_old_views_are_let_go():
    calls: list[str] = []

    def read(photo_id: str, category: str):
        calls.append(photo_id)
        if photo_id == "bad" and calls.count("bad") == 1:
            raise OSError("S3 went away")
        return photo_id

    cache = ViewCache(read, size=2)
    with pytest.raises(OSError):
        cache("bad", "upper_body")
    assert cache("bad", "upper_body") == "bad"  # read again, not the stored failure
    cache("a", "upper_body")
    cache("bad", "upper_body")  # used: "a" is now the oldest
    cache("b", "upper_body")  # over the size: "a" goes
    cache("bad", "upper_body")
    cache("a", "upper_body")
    assert calls == ["bad", "bad", "a", "b", "a"]


def test_the_cpu_threads_keep_their_models_from_task_to_task():
    """One process running many CPU tasks (``dag.test``: QC's measuring, preprocessing) loads the
    models once per thread, not once per task: the threads outlive a task and keep their
    instances."""
    from tasks.preprocess.faces import shared_faces
    from tasks.worker_threads import cpu_threads

    pool = cpu_threads(1)
    first = pool.submit(shared_faces).result()
    assert cpu_threads(1) is pool
    assert pool.submit(shared_faces).result() is first
