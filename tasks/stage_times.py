"""Wall time of each stage of a drop's run, kept as ``reports/{date}/stages/{stage}[-{part}].json``
(one file per task, mapped try-on tasks one per shard) so the report can show where the time
went without asking Airflow."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from tasks.context import RunContext
from tasks.storage import report_key

PREFIX = "stages/"


@contextmanager
def timed_stage(ctx: RunContext, date: str, stage: str, part: str | int | None = None,
                attempt: int | None = None) -> Iterator[dict[str, Any]]:
    """Record the stage's start, end and seconds, also when it fails (``ok`` false), and the
    ``details`` the task puts in the dict it is given (a try-on task: its engine's figures).

    A record is written when the task starts too (``ok`` null, with its process id and attempt),
    so a task killed without a chance to finish leaves a trace, and the next attempt replaces it.
    """
    started, clock, ok = datetime.now(UTC), time.perf_counter(), False
    key = report_key(date, f"{PREFIX}{stage if part is None else f'{stage}-{part}'}.json")
    record = {"stage": stage, "part": part, "attempt": attempt, "pid": os.getpid(), "started": started.isoformat()}
    ctx.store.put_json(key, {**record, "ok": None, "seconds": None, "finished": None, "details": {}})
    details: dict[str, Any] = {}
    try:
        yield details
        ok = True
    finally:
        ctx.store.put_json(key, {**record, "ok": ok, "seconds": round(time.perf_counter() - clock, 3),
                                 "finished": datetime.now(UTC).isoformat(), "details": details})


def stage_records(ctx: RunContext, date: str) -> list[dict[str, Any]]:
    """Every task record of the date's run, as ``timed_stage`` wrote it."""
    return [ctx.store.get_json(key) for key in ctx.store.list_keys(report_key(date, PREFIX))]


def stage_times(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stage, in order of start: tasks, summed seconds, wall span (first start to last end),
    failures (a task that never recorded its end, killed, counts as failed)."""
    stages: dict[str, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: r["started"]):
        finished = r["finished"] or r["started"]
        s = stages.setdefault(r["stage"], {"stage": r["stage"], "tasks": 0, "seconds": 0.0, "failed": 0,
                                           "started": r["started"], "finished": finished})
        s["tasks"] += 1
        s["seconds"] = round(s["seconds"] + (r["seconds"] or 0.0), 3)
        s["failed"] += 0 if r["ok"] else 1
        s["finished"] = max(s["finished"], finished)
    for s in stages.values():
        s["wall_seconds"] = round((datetime.fromisoformat(s["finished"]) - datetime.fromisoformat(s["started"])).total_seconds(), 3)
    return list(stages.values())


def stage_tasks(records: list[dict[str, Any]], stage: str) -> list[dict[str, Any]]:
    """The records of ``stage`` (e.g. each mapped try-on task), in order of their part."""
    return sorted((r for r in records if r["stage"] == stage), key=lambda r: (r["part"] is None, r["part"]))
