"""The end of a garment_drop run, before its report: every garment ends in a terminal state.
A garment still in a working state was stopped by a failed stage; it is rejected with the
stage that would have taken it on and that stage's error, and a re-run of the date picks it up
again."""

from __future__ import annotations

from sqlalchemy import select

from tasks.catalog.run_summary import read_summary
from tasks.context import RunContext
from tasks.ledger import GARMENT_TERMINAL_STATES, Garment, GarmentState
from tasks.stage_times import StageFailure, stage_failures, stage_records
from tasks.states import move
from tasks.storage import ObjectStore

# the stages that take a garment on from each working state
_STAGES_AFTER = {
    GarmentState.DISCOVERED.value: ("discover", "validate", "preprocess_garments"),
    GarmentState.PREPROCESSED.value: ("check_inputs", "match"),
    GarmentState.MATCHED.value: ("tryon", "qc", "publish"),
}


INCOMPLETE = "pipeline_incomplete"  # the reason of a garment a failed stage stopped


def incomplete_reason(state: str, failures: list[StageFailure]) -> str:
    """Why a garment stopped in ``state``: the failed stage that would have taken it on, with
    its error (any failed stage of the run when none of those failed)."""
    blamed = [f for f in failures if f.stage in _STAGES_AFTER.get(state, ())] or failures
    if not blamed:
        return f"{INCOMPLETE}: stopped in state {state!r}"
    return f"{INCOMPLETE}: stage {blamed[0].label} failed: {blamed[0].error} (stopped in state {state!r})"


def stop_unfinished(ctx: RunContext, date: str) -> None:
    """A garment still in a working state when the run ends was stopped by a failed stage: it
    is rejected with that stage and its error (a re-run of the date picks it up again)."""
    failures = stage_failures(stage_records(ctx, date))
    with ctx.ledger.session() as session:
        for garment in session.scalars(select(Garment).where(Garment.drop_date == date)):
            if GarmentState(garment.state) not in GARMENT_TERMINAL_STATES:
                move(garment, GarmentState.REJECTED, incomplete_reason(garment.state, failures))


def needs_run(store: ObjectStore, date: str, reprocess: str) -> bool:
    """Whether a backfill runs ``date`` again. ``none``: only a date without a report, or whose
    run found no complete drop; ``failed``: also a date whose report shows a garment a failed
    stage stopped; ``all``: every date."""
    summary = read_summary(store, date)
    if reprocess == "all" or summary is None:
        return True
    if not summary.drop.processed:
        return True  # the night's run found no complete drop: nothing was done
    if reprocess == "failed":
        return any((g.reason or "").startswith(f"{INCOMPLETE}:") for g in summary.garments)
    return False
