"""The run report of a date: ``reports/{date}/summary.json`` (counts by state that add up to
the inputs, per category, every item with its state and reason, time per stage) and
``report.html`` (the same, with thumbnails of the published and flagged images and histograms
of the QC metrics; ``metrics.parquet`` beside it holds every generation's metrics)."""

from __future__ import annotations

import base64
import io
from collections import Counter
from typing import Any

import pandas as pd
from sqlalchemy import select

from tasks.context import RunContext
from tasks.drops import list_drop
from tasks.images import decode_rgb, thumbnail_jpeg
from tasks.inference.engine import ReleaseLookup
from tasks.ledger import (
    GARMENT_TERMINAL_STATES,
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    ModelPhoto,
    spot_tally,
)
from tasks.qc.histograms import metrics_histograms
from tasks.qc.suite import load_config
from tasks.rendering import TEMPLATES
from tasks.stage_times import StageFailure, stage_failures, stage_records, stage_tasks, stage_times
from tasks.storage import report_key, storefront_manifest_key

_TERMINAL = {s.value for s in GARMENT_TERMINAL_STATES}


# the stages that take a garment on from each working state
_STAGES_AFTER = {GarmentState.DISCOVERED.value: ("discover", "validate", "preprocess_garments"),
                 GarmentState.PREPROCESSED.value: ("check_inputs", "match"),
                 GarmentState.MATCHED.value: ("tryon", "qc", "publish")}


def incomplete_reason(state: str, failures: list[StageFailure]) -> str:
    """Why a garment stopped in ``state``: the failed stage that would have taken it on, with
    its error (any failed stage of the run when none of those failed)."""
    blamed = [f for f in failures if f.stage in _STAGES_AFTER.get(state, ())] or failures
    if not blamed:
        return f"pipeline_incomplete: stopped in state {state!r}"
    return f"pipeline_incomplete: stage {blamed[0].label} failed: {blamed[0].error} (stopped in state {state!r})"


def _finalise_garments(ctx: RunContext, date: str, failures: list[StageFailure]) -> None:
    """A garment still in a working state when the report runs was stopped by a failed
    stage: it is rejected with that stage and its error (a re-run of the date picks it up
    again)."""
    with ctx.ledger.session() as session:
        for garment in session.scalars(select(Garment).where(Garment.drop_date == date)):
            if garment.state not in _TERMINAL:
                garment.reason = incomplete_reason(garment.state, failures)
                garment.state = GarmentState.REJECTED.value


def models_used(ctx: RunContext, generations: list[Generation]) -> list[dict[str, Any]]:
    """Each model that made generations of the date, with whether it is a released production
    model or a preview (and why), in words."""
    releases = ReleaseLookup(ctx.settings)
    models: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in generations:
        key = (row.engine, row.model_version, row.weights_sha256)
        if key not in models:
            release = releases(row)
            models[key] = {"engine": row.engine, "model_version": row.model_version, "weights_sha256": row.weights_sha256,
                           "released": release.released, "note": release.note, "generations": 0}
        models[key]["generations"] += 1
    return sorted(models.values(), key=lambda m: -m["generations"])


def check_inputs_add_up(ctx: RunContext, date: str, garments: list[Garment]) -> None:
    """Every input the drop lists (each SKU folder and each file at its root) has exactly one
    ledger row, and every row is in a terminal state; otherwise the report refuses to claim it."""
    listed = list_drop(ctx, date).input_labels()
    recorded = sorted(g.sku for g in garments)
    problems = []
    if listed != recorded:
        unrecorded = sorted(set(listed) - set(recorded))
        unlisted = sorted(set(recorded) - set(listed))
        problems.append(f"the drop lists {len(listed)} inputs, the ledger records {len(recorded)}"
                        + (f"; never recorded: {', '.join(unrecorded)}" if unrecorded else "")
                        + (f"; recorded but not in the drop: {', '.join(unlisted)}" if unlisted else ""))
    open_states = sorted(f"{g.sku} ({g.state})" for g in garments if g.state not in _TERMINAL)
    if open_states:
        problems.append(f"not in a terminal state: {', '.join(open_states)}")
    if problems:
        raise AssertionError(f"report for {date} does not add up: " + "; ".join(problems))


def build_summary(ctx: RunContext, date: str) -> dict[str, Any]:
    with ctx.ledger.session() as session:
        garments = list(session.scalars(select(Garment).where(Garment.drop_date == date).order_by(Garment.sku)))
        generations = list(session.scalars(select(Generation).where(Generation.drop_date == date).order_by(Generation.sku, Generation.photo_id)))
        photos = list(session.scalars(select(ModelPhoto).order_by(ModelPhoto.photo_id)))
    check_inputs_add_up(ctx, date, garments)
    records = stage_records(ctx, date)
    return {
        "date": date,
        "inputs": len(garments),
        "models": models_used(ctx, generations),
        "spot_checks": {"date": vars(spot_tally(ctx.ledger, date)), "to_date": vars(spot_tally(ctx.ledger))},
        "garments_by_state": dict(sorted(Counter(g.state for g in garments).items())),
        "garments_by_category": dict(sorted(Counter(g.category or "unknown" for g in garments).items())),
        "category_by_state": {
            category: dict(sorted(Counter(g.state for g in garments if (g.category or "unknown") == category).items()))
            for category in sorted({g.category or "unknown" for g in garments})
        },
        "generations_by_state": dict(sorted(Counter(g.state for g in generations).items())),
        "model_photos_by_state": dict(sorted(Counter(p.state for p in photos).items())),
        "garments": [
            {"sku": g.sku, "category": g.category, "state": g.state, "reason": g.reason, "source_key": g.source_key}
            for g in garments
        ],
        "generations": [
            {"generation_id": g.generation_id, "sku": g.sku, "photo_id": g.photo_id, "category": g.category,
             "state": g.state, "reason": g.reason, "engine": g.engine, "model_version": g.model_version,
             "key": g.object_key}
            for g in generations
        ],
        "model_photos": [{"photo_id": p.photo_id, "state": p.state, "reason": p.reason, "categories": p.categories} for p in photos],
        "manifest": storefront_manifest_key(date),
        "stages": stage_times(records),
        "failed_stages": [{"stage": f.label, "error": f.error} for f in stage_failures(records)],
        "tryon_tasks": [{"task": r["part"], "attempt": r.get("attempt"), "seconds": r["seconds"], "ok": r["ok"], **r.get("details", {})}
                        for r in stage_tasks(records, "tryon")],
    }


def _histograms(ctx: RunContext, date: str) -> str | None:
    """The QC metrics histograms as a data URI, when QC wrote a metrics table for the date."""
    key = report_key(date, "metrics.parquet")
    if not ctx.store.exists(key):
        return None
    png = metrics_histograms(pd.read_parquet(io.BytesIO(ctx.store.get_bytes(key))), load_config(ctx.settings.qc_expectations))
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()


def write_report(ctx: RunContext, date: str) -> dict[str, Any]:
    _finalise_garments(ctx, date, stage_failures(stage_records(ctx, date)))
    summary = build_summary(ctx, date)
    thumbnails = []
    for generation in summary["generations"]:
        if generation["state"] in (GenerationState.PUBLISHED.value, GenerationState.FLAGGED.value) and generation["key"]:
            image = decode_rgb(ctx.store.get_bytes(generation["key"]))
            data = base64.b64encode(thumbnail_jpeg(image)).decode()
            thumbnails.append({**generation, "src": f"data:image/jpeg;base64,{data}"})
    histograms = _histograms(ctx, date)
    html = TEMPLATES.get_template("report.html").render(summary=summary, thumbnails=thumbnails, histograms=histograms)
    ctx.store.put_json(report_key(date, "summary.json"), summary)
    ctx.store.put_bytes(report_key(date, "report.html"), html.encode(), "text/html; charset=utf-8")
    return {"summary": report_key(date, "summary.json"), "report": report_key(date, "report.html"),
            "garments_by_state": summary["garments_by_state"], "inputs": summary["inputs"]}
