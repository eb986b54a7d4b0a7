"""Waiting for a drop to be complete: garment_drop's first task.

The catalogue team writes ``drops/{date}/_READY`` (``Settings.drop_marker``) once every file of
the drop is uploaded. :class:`DropReadySensor` is the Amazon provider's ``S3KeySensor`` in its
deferrable form: when the marker is not there yet it hands the wait to the triggerer and frees
its worker slot; the trigger asks S3 every ``drop_poke_s`` seconds, and the task resumes on a
worker when the marker appears. The wait ends at ``drop_wait_s``: the trigger itself keeps that
deadline (Airflow's deferral timeout is only a backstop, and ``dag.test`` ignores it), and the
run ends as "no drop": the sensor is skipped, so every stage after it is, and the report says so.
A run that does not wait (``drop_wait_s`` 0) takes the drop as it is, unless there is nothing
under ``drops/{date}/``: that is "no drop" too, at once. What the wait came to is the task's
stage record, which the report reads.

Airflow-only, like ``tasks.airflow_glue.common``: imported by dags/ and, by the trigger's class path,
by the triggerer.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.providers.amazon.aws.triggers.s3 import S3KeyTrigger
from airflow.sdk.exceptions import AirflowException, AirflowSkipException
from airflow.triggers.base import TriggerEvent

from tasks.airflow_glue.s3_hook import TryonS3Hook
from tasks.drops import list_drop
from tasks.settings import get_settings
from tasks.storage import client_options, drop_marker_key, drop_prefix

STAGE = "wait_for_drop"
BACKSTOP = timedelta(minutes=10)  # past the trigger's own deadline: only a triggerer that is down reaches it


class DropReadyTrigger(S3KeyTrigger):
    """The provider's trigger for one key, with a deadline: ``wait_s`` seconds after ``started``
    (ISO time) it fires ``{"status": "timeout"}`` instead of waiting on. Every event carries
    ``started`` and ``wait_s`` back to the task (``dag.test`` passes the resumed task the event
    alone)."""

    def __init__(self, *, started: str, wait_s: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.started, self.wait_s = started, wait_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return f"{type(self).__module__}.{type(self).__qualname__}", {**kwargs, "started": self.started, "wait_s": self.wait_s}

    @cached_property
    def hook(self) -> S3Hook:
        return TryonS3Hook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify, config=self.botocore_config
        )

    async def run(self):
        deadline = datetime.fromisoformat(self.started) + timedelta(seconds=self.wait_s)
        payload = {"status": "timeout"}
        try:
            async with asyncio.timeout(max((deadline - datetime.now(UTC)).total_seconds(), 0.0)):
                async with aclosing(super().run()) as events:
                    async for event in events:
                        payload = event.payload
                        break
        except TimeoutError:
            pass
        yield TriggerEvent({**payload, "started": self.started, "wait_s": self.wait_s})


class DropReadySensor(S3KeySensor):
    """Waits for the drop's marker (see the module's docstring). The run's params may set
    ``drop_wait_s`` (0: take the drop as it is, without waiting)."""

    aws_hook_class = TryonS3Hook

    def __init__(self, **kwargs: Any) -> None:
        settings = get_settings()
        super().__init__(
            task_id=STAGE,
            bucket_key="",
            bucket_name=settings.bucket,
            aws_conn_id=settings.aws_conn_id,
            botocore_config=client_options(settings),
            deferrable=True,
            **kwargs,
        )

    def execute(self, context: Any) -> None:
        from tasks.airflow_glue.common import drop_date, run_context

        ctx, date = run_context(), drop_date(context)
        settings, started = ctx.settings, datetime.now(UTC)
        self.bucket_name, self.bucket_key = settings.bucket, drop_marker_key(date, settings.drop_marker)
        if settings.drop_wait_s == 0 or self.poke(context):
            outcome = "ready" if settings.drop_wait_s or self.poke(context) else "not_waited"
            if outcome == "not_waited" and not list_drop(ctx, date).input_labels():
                outcome = "no_drop"  # nothing to take as it is: the date has no drop
            _record(date, started, context, outcome=outcome, marker=self.bucket_key, wait_s=settings.drop_wait_s, ctx=ctx)
            if outcome == "no_drop":
                raise AirflowSkipException(f"no drop: nothing is under {drop_prefix(date)} and {self.bucket_key} is not there")
            return
        _record(date, started, context, outcome=None, marker=self.bucket_key, wait_s=settings.drop_wait_s, ctx=ctx)
        self.log.info("drop %s not marked complete: waiting up to %d s for %s", date, settings.drop_wait_s, self.bucket_key)
        self.defer(
            trigger=DropReadyTrigger(
                bucket_name=self.bucket_name,
                bucket_key=self.bucket_key,
                aws_conn_id=self.aws_conn_id,
                region_name=settings.s3_region,
                poke_interval=settings.drop_poke_s,
                botocore_config=self.botocore_config,
                started=started.isoformat(),
                wait_s=settings.drop_wait_s,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=settings.drop_wait_s) + BACKSTOP,
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        from tasks.airflow_glue.common import drop_date

        date, began, wait_s = drop_date(context), datetime.fromisoformat(event["started"]), event["wait_s"]
        self.bucket_key = drop_marker_key(date, get_settings().drop_marker)
        if event["status"] == "error":
            _record(date, began, context, outcome="error", marker=self.bucket_key, wait_s=wait_s, error=event["message"])
            raise AirflowException(f"waiting for {self.bucket_key}: {event['message']}")
        outcome = "ready" if event["status"] == "success" else "no_drop"
        _record(date, began, context, outcome=outcome, marker=self.bucket_key, wait_s=wait_s)
        if outcome == "no_drop":
            raise AirflowSkipException(
                f"no drop: {self.bucket_key} did not appear within {wait_s} s; nothing is processed "
                "(re-run the date once the drop is marked complete)"
            )


def _record(
    date: str,
    started: datetime,
    context: Any,
    *,
    outcome: str | None,
    marker: str,
    wait_s: int,
    error: str | None = None,
    ctx: Any = None,
) -> None:
    """The wait's stage record (``tasks.stage_times``): open while it waits, then its outcome
    (ready, not_waited, no_drop, error) and how long it waited."""
    from tasks.airflow_glue.common import run_context
    from tasks.stage_times import put_stage_record

    ctx = ctx or run_context()
    waited = (datetime.now(UTC) - started).total_seconds()
    details = {"outcome": outcome, "marker": marker, "wait_s": wait_s, "waited_s": round(waited, 3)}
    put_stage_record(
        ctx,
        date,
        STAGE,
        attempt=context["ti"].try_number,
        started=started,
        ok=None if outcome is None else outcome != "error",
        seconds=waited,
        details=details,
        error=error,
    )
