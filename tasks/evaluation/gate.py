"""Whether a run may generate with another model version than the deployment's: only one whose
evaluation is at least as good as the current version's on the same set (the same evaluation),
unless an operator forces it with a reason; either way the decision is recorded
(``backfill_decisions``) with who and why. :func:`hold_to_evaluation` is the one rule: garment_drop's
first task applies it to every run, however it was started (the Airflow UI or REST API,
``tryon run``, ``tryon backfill``), and ``tryon backfill`` asks it once for the whole range before
starting any run.

"At least as good": in every category both versions were measured on, the new version's
unpaired FID and paired LPIPS are no higher than the current one's (where both have the figure),
with at least one such figure compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tasks.catalog.documents import JsonObject
from tasks.ledger import BackfillDecision, EvaluationRow, Ledger
from tasks.settings import Settings

COMPARED = ("fid", "lpips")  # lower is better


@dataclass(frozen=True)
class Identity:
    """What makes a version's outputs: the engine's model version, weights and parameters."""

    model_version: str
    weights_sha256: str
    parameters: JsonObject

    @classmethod
    def of(cls, engine: Any) -> Identity:
        return cls(engine.model_version, engine.weights_sha256, dict(engine.parameters))

    def matches(self, row: EvaluationRow) -> bool:
        return (row.model_version, row.weights_sha256, row.parameters) == (
            self.model_version,
            self.weights_sha256,
            self.parameters,
        )


class ModelVersionRefused(Exception):
    """A run with a model version no evaluation shows as good as the current one, not forced."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    evaluation_id: str | None = None


def judge(ledger: Ledger, new: Identity, current: Identity) -> Verdict:
    """The latest evaluation holding both versions decides."""
    if new == current:
        return Verdict(True, f"{new.model_version} is the current version: nothing to compare")
    with ledger.session() as session:
        rows = list(
            session.scalars(
                select(EvaluationRow).where(EvaluationRow.model_version.in_([new.model_version, current.model_version]))
            )
        )
    by_evaluation: dict[str, dict[str, dict[str, EvaluationRow]]] = {}
    for row in rows:
        side = "new" if new.matches(row) else "current" if current.matches(row) else None
        if side:
            by_evaluation.setdefault(row.evaluation_id, {"new": {}, "current": {}})[side][row.category] = row
    both = {e: sides for e, sides in by_evaluation.items() if sides["new"] and sides["current"]}
    if not both:
        return Verdict(
            False,
            f"no evaluation holds both {new.model_version} and the current {current.model_version} "
            "(run `tryon evaluate --versions` with both first)",
        )
    evaluation_id = max(both, key=lambda e: max(r.created_at for side in both[e].values() for r in side.values()))
    sides = both[evaluation_id]
    worse, compared = [], 0
    for category in sorted(set(sides["new"]) & set(sides["current"])):
        n, c = sides["new"][category], sides["current"][category]
        for metric in COMPARED:
            a, b = getattr(n, metric), getattr(c, metric)
            if a is None or b is None:
                continue
            compared += 1
            if a > b:
                worse.append(f"{category} {metric.upper()} {a:.4g} > {b:.4g}")
    if not compared:
        return Verdict(False, f"evaluation {evaluation_id} has no FID or LPIPS measured for both versions", evaluation_id)
    if worse:
        return Verdict(
            False,
            f"evaluation {evaluation_id}: {new.model_version} is worse than the current {current.model_version}: "
            + "; ".join(worse),
            evaluation_id,
        )
    return Verdict(
        True, f"evaluation {evaluation_id}: at least as good as {current.model_version} on {compared} figures", evaluation_id
    )


def record_decision(
    ledger: Ledger,
    spec: str,
    new: Identity,
    current: Identity,
    dates: tuple[str, str],
    verdict: Verdict,
    operator: str,
    forced_because: str | None,
) -> None:
    with ledger.session() as session:
        session.add(
            BackfillDecision(
                version=spec,
                model_version=new.model_version,
                weights_sha256=new.weights_sha256,
                current_model_version=current.model_version,
                date_from=dates[0],
                date_to=dates[1],
                decision="forced" if forced_because is not None else "evaluated",
                evaluation_id=verdict.evaluation_id,
                operator=operator,
                reason=f"{forced_because} (the evaluation said: {verdict.reason})"
                if forced_because is not None
                else verdict.reason,
            )
        )


def _covering(ledger: Ledger, new: Identity, dates: tuple[str, str], *, forced_only: bool) -> BackfillDecision | None:
    """A decision already recorded for ``new`` whose dates hold ``dates`` (a backfill's, for each of its runs)."""
    with ledger.session() as session:
        query = select(BackfillDecision).where(
            BackfillDecision.model_version == new.model_version,
            BackfillDecision.weights_sha256 == new.weights_sha256,
            BackfillDecision.date_from <= dates[0],
            BackfillDecision.date_to >= dates[1],
        )
        if forced_only:
            query = query.where(BackfillDecision.decision == "forced")
        return session.scalars(query.order_by(BackfillDecision.created_at.desc())).first()


def hold_to_evaluation(
    ledger: Ledger,
    settings: Settings,
    run_settings: Settings,
    dates: tuple[str, str],
    *,
    force_reason: str | None,
    operator: str,
    spec: str,
    doing: str = "run",
) -> str:
    """Whether runs of ``dates`` with ``run_settings`` (the deployment's ``settings`` with a run's
    params) may go ahead: yes for the deployment's own model version; for another, when the
    latest evaluation of both shows it at least as good, or when an operator forces it with a
    reason (now, or for a range that holds these dates). The decision is recorded once; returns
    it in words. Raises :class:`ModelVersionRefused`, saying what to do."""
    from tasks.inference.factory import ENGINE_SETTINGS, get_engine

    if all(getattr(run_settings, name) == getattr(settings, name) for name in ENGINE_SETTINGS):
        return "the deployment's model version"  # nothing to build: the try-on stages name it
    new, current = Identity.of(get_engine(run_settings)), Identity.of(get_engine(settings))
    if new == current:
        return f"{new.model_version} is the deployment's model version"
    verdict = judge(ledger, new, current)
    if verdict.allowed:
        if _covering(ledger, new, dates, forced_only=False) is None:
            record_decision(ledger, spec, new, current, dates, verdict, operator, None)
        return f"{new.model_version}: {verdict.reason}"
    forced = _covering(ledger, new, dates, forced_only=True)
    if forced is not None:
        return f"{new.model_version}: forced by {forced.operator} for {forced.date_from}..{forced.date_to}: {forced.reason}"
    if not force_reason:
        raise ModelVersionRefused(
            f"refusing to {doing} with {new.model_version}: {verdict.reason}. Evaluate it first, or force it with a "
            "reason (tryon backfill --force --reason '...'; a triggered run: the params force_reason and operator), "
            "recorded with the operator's name"
        )
    record_decision(ledger, spec, new, current, dates, verdict, operator, force_reason)
    return f"{new.model_version}: forced by {operator}: {force_reason}"
