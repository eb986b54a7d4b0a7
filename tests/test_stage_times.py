"""Task records: written when a task starts and when it ends, so a task killed without a chance
to finish still shows, as a failure, in the stage times and the report."""

import os

import pytest

from tasks.report import write_report
from tasks.run_end import incomplete_reason
from tasks.stage_times import FIRST_STAGE, StageFailure, stage_failures, stage_records, stage_tasks, stage_times, timed_stage
from tasks.storage import report_key

DATE = "2026-11-20"


def test_a_record_is_written_at_the_start_and_replaced_at_the_end(ctx):
    key = report_key(DATE, "stages/tryon-0.json")
    with timed_stage(ctx, DATE, "tryon", 0, attempt=2) as details:
        running = ctx.store.get_json(key)
        details["generated"] = 3
    assert (running["ok"], running["pid"], running["attempt"], running["finished"]) == (None, os.getpid(), 2, None)
    done = ctx.store.get_json(key)
    assert done["ok"] is True and done["details"] == {"generated": 3} and done["seconds"] >= 0
    assert done["started"] == running["started"] and done["attempt"] == 2


def test_a_failing_task_records_its_failure_and_its_error(ctx):
    with pytest.raises(RuntimeError), timed_stage(ctx, DATE, "qc"):
        raise RuntimeError("boom\nsecond line of a long message")
    [record] = stage_records(ctx, DATE)
    assert record.ok is False and record.stage == "qc" and record.error == "RuntimeError: boom"
    assert stage_failures([record]) == [StageFailure("qc", None, "RuntimeError: boom")]


def test_the_records_are_the_latest_runs(ctx):
    """A stage an earlier run ran, and this run never reached, is not taken for this run's."""
    with pytest.raises(ValueError), timed_stage(ctx, DATE, "publish"):
        raise ValueError("the earlier run's failure")
    with timed_stage(ctx, DATE, FIRST_STAGE):
        pass
    with pytest.raises(KeyError), timed_stage(ctx, DATE, "match"):
        raise KeyError("engine")
    assert [f.label for f in stage_failures(stage_records(ctx, DATE))] == ["match"]


def test_a_stopped_garment_names_the_stage_that_would_have_taken_it_on():
    failures = [
        StageFailure("tryon", 2, "RuntimeError: CUDA out of memory"),
        StageFailure("publish", None, "EndpointConnectionError: S3 down"),
    ]
    assert incomplete_reason("matched", failures) == (
        "pipeline_incomplete: stage tryon[2] failed: RuntimeError: CUDA out of memory (stopped in state 'matched')"
    )
    assert incomplete_reason("matched", failures[1:]) == (
        "pipeline_incomplete: stage publish failed: EndpointConnectionError: S3 down (stopped in state 'matched')"
    )
    assert incomplete_reason("preprocessed", failures[1:]).startswith("pipeline_incomplete: stage publish failed"), (
        "no stage of its own failed: the run's failure is named"
    )
    assert incomplete_reason("discovered", []) == "pipeline_incomplete: stopped in state 'discovered'"


def test_a_killed_task_counts_as_failed_and_the_report_says_it_was_killed(ctx):
    with timed_stage(ctx, DATE, "tryon", 0):
        pass
    killed = timed_stage(ctx, DATE, "tryon", 1, attempt=1)
    killed.__enter__()  # the process dies here: the block never ends, only the start record exists
    records = stage_records(ctx, DATE)
    [tryon] = stage_times(records)
    assert (tryon.tasks, tryon.failed) == (2, 1)
    assert [r.ok for r in stage_tasks(records, "tryon")] == [True, None]
    write_report(ctx, DATE)
    html = ctx.store.get_bytes(report_key(DATE, "report.html")).decode()
    assert "started and never recorded its end: the task was killed" in html


def test_the_last_line_still_says_what_happened_when_s3_is_down(tmp_path, capsys):
    """An S3 outage that failed the run may outlast it: the command's report and its last line
    say so in words instead of ending in a traceback (found by bench/fault_injection.py, s3-outage)."""
    from tasks.cli import drop_summary, finish
    from tasks.settings import Settings
    from tests.cluster import free_port

    down = Settings(
        home=tmp_path,
        bucket="gone",
        s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
        s3_max_attempts=1,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
    )
    assert finish(down, "2026-11-20", "failed", drop_summary(down, "2026-11-20")) == 1
    out, err = capsys.readouterr()
    assert "drop 2026-11-20: the report cannot be read now (EndpointConnectionError" in out
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("error: garment_drop 2026-11-20 failed, and its stage records cannot be read now (EndpointConnectionError")
    )
