"""Labels for calibrating QC: images people judged, each with its metrics row.

- reviewers' decisions in the ledger: an approval (of a flagged image, or a spot-checked one) is a
  positive, a rejection a negative whose failure is the failure mode the reviewer picked (an
  expectation's name; ``other`` names none). The newest decision on a generation stands. The row is
  the generation's row of its date's QC table (``reports/{date}/metrics.parquet``);
- the QC benchmark's cases, as ``bench/qc.py --table`` writes them.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from tasks.catalog.qc_table import METRIC_COLUMNS, TableRow
from tasks.context import RunContext
from tasks.ledger import SPOT_APPROVED, SPOT_REJECTED, Generation, ReviewDecision
from tasks.qc.calibrate import LabelledRow
from tasks.qc.suite import OTHER_FAILURE
from tasks.storage import qc_table_key

POSITIVE, NEGATIVE = ("approved", SPOT_APPROVED), ("rejected", SPOT_REJECTED)


def _row(record: dict) -> TableRow:
    """A metrics table's record held to what the suite judges: the identifying columns and the metrics."""
    row: TableRow = {"generation_id": str(record["generation_id"]), "category": str(record["category"])}
    for column in METRIC_COLUMNS:
        value = record.get(column)
        row[column] = None if value is None or (isinstance(value, float) and pd.isna(value)) else value
    return row


def ledger_labels(ctx: RunContext) -> list[LabelledRow]:
    """Every generation a reviewer approved or rejected whose metrics row is still in its date's table."""
    with ctx.ledger.session() as session:
        found = session.execute(
            select(ReviewDecision, Generation.photo_id, Generation.sku)
            .join(Generation, Generation.generation_id == ReviewDecision.generation_id)
            .where(ReviewDecision.decision.in_(POSITIVE + NEGATIVE))
            .order_by(ReviewDecision.id)
        ).all()
        newest = {decision.generation_id: (decision, photo, sku) for decision, photo, sku in found}
    by_date: dict[str, list[str]] = defaultdict(list)
    for generation_id, (decision, _, _) in newest.items():
        by_date[decision.drop_date].append(generation_id)
    labels = []
    for date, generation_ids in sorted(by_date.items()):
        key = qc_table_key(date)
        if not ctx.store.exists(key):
            continue
        table = pd.read_parquet(io.BytesIO(ctx.store.get_bytes(key)))
        records = {str(r["generation_id"]): r for r in table.to_dict("records")}
        for generation_id in sorted(generation_ids):
            if generation_id not in records:
                continue
            decision, photo, sku = newest[generation_id]
            mode = decision.failure_mode
            labels.append(
                LabelledRow(
                    row=_row(records[generation_id]),
                    positive=decision.decision in POSITIVE,
                    failures=frozenset({mode}) if mode and mode != OTHER_FAILURE else frozenset(),
                    groups=(("photo", photo), ("garment", sku), ("source", "review")),
                )
            )
    return labels


BENCHMARK_COLUMNS = ("positive", "failures", "photo", "garment")  # beside the metrics, in the benchmark's table


def write_benchmark_table(labels: list[LabelledRow], path: Path) -> None:
    """The QC benchmark's labelled cases as the table ``benchmark_labels`` reads (``bench/qc.py --table``)."""
    frame = pd.DataFrame([label.row for label in labels])
    frame["positive"] = [label.positive for label in labels]
    frame["failures"] = [",".join(sorted(label.failures)) for label in labels]
    frame["photo"] = [label.group("photo") for label in labels]
    frame["garment"] = [label.group("garment") for label in labels]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def benchmark_labels(path: Path) -> list[LabelledRow]:
    """The QC benchmark's labelled table (``bench/qc.py --table``)."""
    table = pd.read_parquet(path)
    missing = set(BENCHMARK_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"{path} is not a QC benchmark table (bench/qc.py --table): it lacks {', '.join(sorted(missing))}")
    return [
        LabelledRow(
            row=_row(record),
            positive=bool(record["positive"]),
            failures=frozenset(f for f in str(record["failures"]).split(",") if f),
            groups=(("photo", str(record["photo"])), ("garment", str(record["garment"])), ("source", "benchmark")),
        )
        for record in table.to_dict("records")
    ]
