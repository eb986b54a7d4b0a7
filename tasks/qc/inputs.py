"""The inputs suite: before any try-on work, Great Expectations checks the drop's items (unique
SKUs, allowed categories, a content hash each) and the library index (its schema, unique photo
ids, known states). A failure stops the run before the GPUs are asked for anything; the outcome
is kept as ``reports/{date}/inputs_validation.json`` either way, with the warnings of the drop's
one reading (``tasks.drops``: its manifest.csv is parsed there, never again here; a manifest's
problems are its rows' SKUs' reasons and the drop's warnings, never a failed run)."""

from __future__ import annotations

import io
from dataclasses import asdict
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from tasks.catalog.library import INDEX_SCHEMA
from tasks.context import RunContext
from tasks.drops import kept_reading
from tasks.items import AcceptedItem
from tasks.qc.data_docs import gx_project
from tasks.qc.suite import SuiteOutcome, run_suite
from tasks.qc.suite_versions import current_suite
from tasks.storage import library_index_key, report_key

SHA256 = r"^[0-9a-f]{64}$"


class InputsInvalid(ValueError):
    """The drop's inputs or the library index break their contract."""


def _items_expectations(categories: list[str]) -> list[Any]:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeUnique(column="sku", meta={"name": "unique_skus"}),
        e.ExpectColumnValuesToNotBeNull(column="category", meta={"name": "category_present"}),
        e.ExpectColumnValuesToBeInSet(column="category", value_set=categories, meta={"name": "allowed_categories"}),
        e.ExpectColumnValuesToMatchRegex(column="sha256", regex=SHA256, meta={"name": "garment_hashed"}),
    ]


def _index_expectations() -> list[Any]:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectTableColumnsToMatchSet(column_set=list(INDEX_SCHEMA.names), exact_match=True, meta={"name": "index_schema"}),
        e.ExpectColumnValuesToBeUnique(column="photo_id", meta={"name": "unique_photo_ids"}),
        e.ExpectColumnValuesToBeInSet(column="state", value_set=["ready", "rejected"], meta={"name": "known_photo_states"}),
        e.ExpectColumnValuesToMatchRegex(column="sha256", regex=SHA256, meta={"name": "photo_hashed"}),
    ]


def validate_inputs(ctx: RunContext, date: str, items: list[AcceptedItem]) -> list[AcceptedItem]:
    """Return ``items`` unchanged when both suites pass; raise ``InputsInvalid`` naming what failed."""
    config = current_suite(ctx)
    version = config.version
    outcomes: list[SuiteOutcome] = []
    with gx_project(ctx, date, "inputs") as project:  # Checkpoints, their results and Data Docs kept with the report
        if items:
            frame = pd.DataFrame([asdict(item) for item in items])[["sku", "category", "sha256"]]
            expectations = _items_expectations(list(config.allowed_categories))
            outcomes.append(run_suite(config.inputs_suite + "_items", frame, expectations, "sku", version, project))
        if ctx.store.exists(library_index_key()):
            index = pq.read_table(io.BytesIO(ctx.store.get_bytes(library_index_key()))).to_pandas()
            outcomes.append(
                run_suite(config.inputs_suite + "_library_index", index, _index_expectations(), "photo_id", version, project)
            )
    reading = kept_reading(ctx, date)
    ctx.store.put_json(
        report_key(date, "inputs_validation.json"),
        {"suites": [asdict(o) for o in outcomes], "drop_warnings": reading.warnings if reading else []},
    )
    problems = [
        f"{o.suite} failed {', '.join(o.failed_expectations)} (rows: {', '.join(sorted(o.failed)) or 'the whole table'})"
        for o in outcomes
        if not o.success
    ]
    if problems:
        raise InputsInvalid("inputs break their contract, no try-on started: " + "; ".join(problems))
    return items
