"""What a person at a terminal sees while a long step runs: a line at least every ``EVERY_S``
seconds (``tasks.progress``), never a gap longer than that."""

from __future__ import annotations

import time

from tasks import progress


def test_the_ticker_speaks_before_a_gap_passes_every_s(monkeypatch):
    said: list[tuple[float, str]] = []

    def say(line: str) -> None:
        said.append((time.monotonic(), line))
        progress._STATE.last_line = time.monotonic()

    monkeypatch.setattr(progress, "EVERY_S", 1.0)
    monkeypatch.setattr(progress, "TICK_S", 0.1)
    monkeypatch.setattr(progress, "say", say)
    started = progress._STATE.last_line = time.monotonic()
    progress.task_started("looks")
    progress.items(7)
    with progress.ticker("model_library"):
        time.sleep(3.5)
    times = [started] + [when for when, _ in said]
    assert len(said) >= 3 and max(b - a for a, b in zip(times, times[1:])) <= 1.0, said
    assert said[0][1].startswith("  ... model_library: looks for 1 s, 0/7 items"), said
