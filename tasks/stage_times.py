"""Wall time of each stage of a drop's run, kept as ``reports/{date}/stages/{stage}[-{part}].json``
(one file per task, mapped try-on tasks one per shard) so the report can show where the time
went without asking Airflow."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tasks import progress
from tasks.catalog.documents import from_document, to_document
from tasks.catalog.run_summary import StageTime
from tasks.context import RunContext
from tasks.storage import report_key

PREFIX = "stages/"


Figures = dict[str, str | int | float | bool | None]  # what a task records of what it did: counts, seconds, outcomes


@dataclass
class StageRecord:
    """One task's record (``reports/{date}/stages/{stage}[-{part}].json``): written when it starts
    (``ok`` None, no end) and again when it ends (``ok``, ``seconds``, ``finished``, ``error``)."""

    stage: str
    part: str | int | None
    attempt: int | None
    pid: int
    started: str  # ISO time
    ok: bool | None
    details: Figures = field(default_factory=dict)  # what the task filled in
    seconds: float | None = None
    finished: str | None = None
    error: str | None = None


FIRST_STAGE = "check_model_version"  # garment_drop's first task (the evaluation gate)


@contextmanager
def timed_stage(
    ctx: RunContext, date: str, stage: str, part: str | int | None = None, attempt: int | None = None
) -> Iterator[Figures]:
    """Record the stage's start, end and seconds, also when it fails (``ok`` false, with the
    ``error``), and the ``details`` the task puts in the dict it is given (a try-on task: its
    engine's figures).

    A record is written when the task starts too (``ok`` null, with its process id and attempt),
    so a task killed without a chance to finish leaves a trace, and the next attempt replaces it.
    """
    started, clock, ok = datetime.now(UTC), time.perf_counter(), False
    put_stage_record(ctx, date, stage, part, attempt=attempt, started=started)
    details: Figures = {}
    error = None
    try:
        yield details
        ok = True
    except BaseException as failure:
        error = describe_error(failure)
        raise
    finally:
        seconds = time.perf_counter() - clock
        put_stage_record(
            ctx, date, stage, part, attempt=attempt, started=started, ok=ok, seconds=seconds, details=details, error=error
        )
        progress.stage_done(stage, seconds, details, None if part is None else f"part {part}")


def put_stage_record(
    ctx: RunContext,
    date: str,
    stage: str,
    part: str | int | None = None,
    *,
    attempt: int | None,
    started: datetime,
    ok: bool | None = None,
    seconds: float | None = None,
    details: Figures | None = None,
    error: str | None = None,
) -> None:
    """Write a task's record: at its start (``ok`` None), or at its end with its seconds. A task
    that spans processes (a deferred sensor) writes both itself."""
    key = report_key(date, f"{PREFIX}{stage if part is None else f'{stage}-{part}'}.json")
    record = StageRecord(stage, part, attempt, os.getpid(), started.isoformat(), ok, details or {})
    if ok is not None:
        record.seconds, record.finished, record.error = round(seconds or 0.0, 3), datetime.now(UTC).isoformat(), error
    ctx.store.put_json(key, to_document(record))


def describe_error(error: BaseException) -> str:
    """``Type: first line of the message``, at most 300 characters: what a person reads first."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def stage_records(ctx: RunContext, date: str) -> list[StageRecord]:
    """The task records of the date's latest run, as ``timed_stage`` wrote them: those started
    since its first stage (``FIRST_STAGE``) began, so a stage an earlier run ran and this one
    never reached is not taken for this run's."""
    records = [from_document(StageRecord, ctx.store.get_json(key)) for key in ctx.store.list_keys(report_key(date, PREFIX))]
    first = max((r.started for r in records if r.stage == FIRST_STAGE), default=None)
    return [r for r in records if first is None or r.started >= first]


@dataclass(frozen=True)
class StageFailure:
    """A task of the latest run that failed, or never recorded its end (killed)."""

    stage: str
    part: str | int | None
    error: str

    @property
    def label(self) -> str:
        return self.stage if self.part is None else f"{self.stage}[{self.part}]"


def stage_failures(records: list[StageRecord]) -> list[StageFailure]:
    """The failed tasks among ``records``, in the order they started."""
    return [
        StageFailure(r.stage, r.part, r.error or ("did not finish (its process was killed)" if r.ok is None else "failed"))
        for r in sorted(records, key=lambda r: r.started)
        if not r.ok
    ]


def stage_times(records: list[StageRecord]) -> list[StageTime]:
    """Per stage, in order of start: tasks, summed seconds, wall span (first start to last end),
    failures (a task that never recorded its end, killed, counts as failed)."""
    stages: dict[str, StageTime] = {}
    for r in sorted(records, key=lambda r: r.started):
        finished = r.finished or r.started
        s = stages.setdefault(r.stage, StageTime(r.stage, 0, 0.0, 0, r.started, finished))
        s.tasks += 1
        s.seconds = round(s.seconds + (r.seconds or 0.0), 3)
        s.failed += 0 if r.ok else 1
        s.finished = max(s.finished, finished)
    for s in stages.values():
        s.wall_seconds = round((datetime.fromisoformat(s.finished) - datetime.fromisoformat(s.started)).total_seconds(), 3)
    return list(stages.values())


def stage_tasks(records: list[StageRecord], stage: str) -> list[StageRecord]:
    """The records of ``stage`` (e.g. each mapped try-on task), in order of their part."""
    return sorted((r for r in records if r.stage == stage), key=lambda r: (r.part is None, r.part))
