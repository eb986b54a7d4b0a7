"""The night's notice to the catalogue team: when a drop's run finishes, fails, or is still
running at the team's deadline (``TRYON_NIGHT_DEADLINE``), one message says what reached the
storefront, what waits for review and why, what was quarantined or rejected, and what is still
left. Built from the ledger's states (it reads them, it never changes them); garment_drop sends it
through an Airflow notifier (``tasks.airflow_glue.notices``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from tasks.ledger import GARMENT_TERMINAL_STATES, GarmentState, GenerationState
from tasks.storage import report_key
from tasks.storefront.gate import flag_cause

if TYPE_CHECKING:
    from tasks.context import RunContext

FINISHED, FAILED, LATE, NO_DROP = "finished", "failed", "late", "no_drop"


@dataclass(frozen=True)
class NightNotice:
    """What a notice says about one drop date (``outcome``: finished, failed or late)."""

    date: str
    outcome: str
    garments: int
    published: int  # garments with images on the storefront
    waiting_for_review: dict[str, int] = field(default_factory=dict)  # flagged images by cause (flag_cause)
    quarantined: int = 0
    rejected: int = 0
    left: int = 0  # garments not yet in a final state
    failed_stages: list[str] = field(default_factory=list)
    stages_done: list[str] = field(default_factory=list)  # the run's stages whose tasks all finished
    stages_running: list[str] = field(default_factory=list)  # those with a task still going
    report: str = ""

    @property
    def text(self) -> str:
        head = {
            FINISHED: f"The drop of {self.date} is done",
            FAILED: f"The drop of {self.date} FAILED",
            LATE: f"The drop of {self.date} is LATE: still running at the deadline",
            NO_DROP: f"No drop arrived for {self.date}: its marker never came, nothing was processed",
        }[self.outcome]
        waiting = sum(self.waiting_for_review.values())
        why = ", ".join(f"{n} {cause}" for cause, n in sorted(self.waiting_for_review.items()))
        lines = [
            f"{head}. {self.garments} garments: {self.published} on the storefront, "
            f"{self.quarantined} quarantined, {self.rejected} rejected, {self.left} not finished yet.",
            f"{waiting} image(s) wait for review" + (f" ({why})." if why else "."),
        ]
        if self.outcome == LATE:
            lines.append(
                f"Done: {', '.join(self.stages_done) or 'no stage yet'}. "
                f"Running: {', '.join(self.stages_running) or 'nothing (waiting for the drop or a worker)'}."
            )
        if self.failed_stages:
            lines.append("Failed: " + "; ".join(self.failed_stages) + ". A re-run of the date picks up what is left.")
        lines.append(f"Report: {self.report}")
        return "\n".join(lines)

    def payload(self) -> dict[str, object]:
        """The JSON a webhook receives: the figures and the text."""
        return {**asdict(self), "text": self.text}


def run_notice(ctx: RunContext, date: str) -> NightNotice:
    """The notice at the end of the date's run (its report written): ``failed`` when a task of the
    run failed (named with its error), ``no_drop`` when the drop never came, else ``finished``."""
    from tasks.catalog.run_summary import read_summary
    from tasks.stage_times import stage_failures, stage_records

    failures = [f"{f.label}: {f.error}" for f in stage_failures(stage_records(ctx, date))]
    summary = read_summary(ctx.store, date)
    if failures:
        return night_notice(ctx, date, FAILED, failures)
    return night_notice(ctx, date, NO_DROP if summary and summary.drop.outcome == "no_drop" else FINISHED)


def night_notice(ctx: RunContext, date: str, outcome: str, failed_stages: list[str] | None = None) -> NightNotice:
    """The notice for ``date`` as the ledger holds it now."""
    from tasks.stage_times import stage_records

    records = stage_records(ctx, date)
    running = sorted({r.stage for r in records if r.ok is None})
    done = [stage for stage in dict.fromkeys(r.stage for r in sorted(records, key=lambda r: r.started)) if stage not in running]
    garments = Counter(g.state for g in ctx.ledger.garments(date))
    flagged = (g for g in ctx.ledger.generations(date) if g.state == GenerationState.FLAGGED.value)
    terminal = {state.value for state in GARMENT_TERMINAL_STATES}
    return NightNotice(
        date=date,
        outcome=outcome,
        garments=sum(garments.values()),
        published=garments[GarmentState.PUBLISHED.value],
        waiting_for_review=dict(Counter(flag_cause(g.reason) for g in flagged)),
        quarantined=garments[GarmentState.QUARANTINED.value],
        rejected=garments[GarmentState.REJECTED.value],
        left=sum(n for state, n in garments.items() if state not in terminal),
        failed_stages=failed_stages or [],
        stages_done=done,
        stages_running=running,
        report=f"s3://{ctx.store.bucket}/{report_key(date, 'report.html')}",
    )
