"""The QC stage: measure every generated image of a date into the metrics table, judge the
table with the Great Expectations generation suite, record one ledger row per expectation and
move each generation to ``passed`` or ``flagged`` (with the names of what it failed). The
table is kept as ``reports/{date}/metrics.parquet`` for the report and for later analysis."""

from __future__ import annotations

import functools
import io
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from tasks.context import RunContext
from tasks.images import decode_rgb
from tasks.ledger import Garment, Generation, GenerationState, QCResult
from tasks.preprocess.faces import shared_faces
from tasks.preprocess.garment_stage import load_garment
from tasks.preprocess.library_stage import load_photo, load_view_labels
from tasks.preprocess.model_photo import worn_garment_and_skin
from tasks.qc.appearance import read_cloth, read_view
from tasks.qc.metrics import GenerationInputs, generation_metrics
from tasks.qc.suite import load_config, validate_generations
from tasks.storage import report_key

TO_CHECK = (GenerationState.GENERATED.value, GenerationState.PASSED.value, GenerationState.FLAGGED.value)


def _threshold(spec: dict[str, Any]) -> str:
    if "equals" in spec:
        return f"== {spec['equals']}"
    low, high = spec.get("min"), spec.get("max")
    return f"{low} .. {high}" if low is not None and high is not None else (f">= {low}" if low is not None else f"<= {high}")


def _applies(spec: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether an expectation judges this row: its category (if it names one) and its ``when`` column (if any)."""
    if "category" in spec and spec["category"] != row["category"]:
        return False
    return "when" not in spec or bool(row.get(spec["when"], True))


def measure(ctx: RunContext, rows: list[Generation], garment_sha: dict[str, str]) -> pd.DataFrame:
    """The metrics table of ``rows``: identifying columns, then the metrics. What QC reads from a
    view or a garment alone is read once for all of its generations."""
    faces = shared_faces()
    garment = functools.lru_cache(64)(lambda sha256: load_garment(ctx, sha256))
    cloth_reading = functools.lru_cache(256)(lambda sha256: read_cloth(*garment(sha256)))

    @functools.lru_cache(64)
    def view(photo_id: str, category: str) -> GenerationInputs:
        """The generation inputs of a view, without a garment (a template filled per generation)."""
        photo = load_photo(ctx, photo_id, category)
        view_labels = load_view_labels(ctx, photo_id, category)
        if view_labels is None:  # a view from before the library stored its parsing: its person in the region
            worn, skin = photo["inpaint_mask"] & photo["person_mask"], np.zeros_like(photo["person_mask"])
        else:
            worn, skin = worn_garment_and_skin(view_labels, category)
        inputs = GenerationInputs(
            category=category, photo=photo["person"], region=photo["inpaint_mask"], person_mask=photo["person_mask"],
            keypoints=photo["keypoints"], worn_garment=worn, photo_skin=skin, cloth=np.zeros(0, np.uint8),
            cloth_mask=np.zeros(0, bool), photo_face=bool(faces(photo["person"])))
        return replace(inputs, view_reading=read_view(inputs))

    table = []
    for row in rows:
        sha256 = garment_sha[row.generation_id]
        cloth, cloth_mask = garment(sha256)
        inputs = replace(view(row.photo_id, row.category), cloth=cloth, cloth_mask=cloth_mask, cloth_reading=cloth_reading(sha256))
        metrics = generation_metrics(decode_rgb(ctx.store.get_bytes(row.object_key)), inputs, faces)
        table.append({"generation_id": row.generation_id, "sku": row.sku, "category": row.category, "photo_id": row.photo_id,
                      "engine": row.engine, "model_version": row.model_version, **metrics})
    return pd.DataFrame(table)


def check_generations(ctx: RunContext, date: str) -> dict[str, int]:
    config = load_config(ctx.settings.qc_expectations)
    with ctx.ledger.session() as session:
        rows = list(session.scalars(select(Generation).where(Generation.drop_date == date, Generation.state.in_(TO_CHECK))))
        garment_sha = {r.generation_id: session.get(Garment, r.garment_id).sha256 for r in rows}
        session.expunge_all()
    metrics = measure(ctx, rows, garment_sha)
    outcome = validate_generations(metrics, config)
    counts = {"passed": 0, "flagged": 0}
    with ctx.ledger.session() as session:
        for record in metrics.to_dict("records"):
            gid = record["generation_id"]
            failed = outcome.failed.get(gid, [])
            existing = {r.check: r for r in session.scalars(select(QCResult).where(QCResult.generation_id == gid))}
            for spec in config["expectations"]:
                if not _applies(spec, record):
                    continue
                value = record[spec["column"]]
                result = existing.get(spec["name"]) or QCResult(generation_id=gid, check=spec["name"])
                result.passed = spec["name"] not in failed
                result.value = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
                result.threshold = f"v{outcome.version}: {_threshold(spec)}"
                result.reason = None if result.passed else f"{spec['column']} = {value:.3g}, expected {_threshold(spec)}"
                result.state = "passed" if result.passed else "failed"
                session.add(result)
            generation = session.get(Generation, gid)
            if failed:
                generation.state = GenerationState.FLAGGED.value
                generation.reason = "failed: " + ", ".join(failed)
                counts["flagged"] += 1
            else:
                generation.state, generation.reason = GenerationState.PASSED.value, None
                counts["passed"] += 1
    metrics["qc_failed"] = [outcome.failed.get(g, []) for g in metrics.get("generation_id", [])]
    metrics["qc_suite_version"] = outcome.version
    buffer = io.BytesIO()
    metrics.to_parquet(buffer, index=False)
    ctx.store.put_bytes(report_key(date, "metrics.parquet"), buffer.getvalue(), "application/vnd.apache.parquet")
    return counts
