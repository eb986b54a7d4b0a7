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
from tasks.images import decode_rgb, thumbnail_jpeg
from tasks.ledger import (
    GARMENT_TERMINAL_STATES,
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    ModelPhoto,
)
from tasks.qc.histograms import metrics_histograms
from tasks.qc.suite import load_config
from tasks.rendering import TEMPLATES
from tasks.stage_times import stage_times
from tasks.storage import report_key, storefront_manifest_key

_TERMINAL = {s.value for s in GARMENT_TERMINAL_STATES}


def _finalise_garments(ctx: RunContext, date: str) -> None:
    """A garment still in a working state when the report runs was stopped by a failed
    stage: it is rejected with that reason (a re-run of the date picks it up again)."""
    with ctx.ledger.session() as session:
        for garment in session.scalars(select(Garment).where(Garment.drop_date == date)):
            if garment.state not in _TERMINAL:
                garment.reason = f"pipeline_incomplete: stopped in state {garment.state!r}"
                garment.state = GarmentState.REJECTED.value


def build_summary(ctx: RunContext, date: str) -> dict[str, Any]:
    with ctx.ledger.session() as session:
        garments = list(session.scalars(select(Garment).where(Garment.drop_date == date).order_by(Garment.sku)))
        generations = list(session.scalars(select(Generation).where(Generation.drop_date == date).order_by(Generation.sku, Generation.photo_id)))
        photos = list(session.scalars(select(ModelPhoto).order_by(ModelPhoto.photo_id)))
    return {
        "date": date,
        "inputs": len(garments),
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
        "stages": stage_times(ctx, date),
    }


def _histograms(ctx: RunContext, date: str) -> str | None:
    """The QC metrics histograms as a data URI, when QC wrote a metrics table for the date."""
    key = report_key(date, "metrics.parquet")
    if not ctx.store.exists(key):
        return None
    png = metrics_histograms(pd.read_parquet(io.BytesIO(ctx.store.get_bytes(key))), load_config())
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()


def write_report(ctx: RunContext, date: str) -> dict[str, Any]:
    _finalise_garments(ctx, date)
    summary = build_summary(ctx, date)
    if sum(summary["garments_by_state"].values()) != summary["inputs"]:
        raise AssertionError(f"report does not add up: {summary['garments_by_state']} vs {summary['inputs']} inputs")
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
