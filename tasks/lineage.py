"""What each stage reads and writes, as S3 keys and prefixes of the bucket: the lineage a data
catalogue sees (the OpenLineage provider emits it, ``tasks.airflow_glue.common.report_lineage``).
Dated where the stage works on one drop date, so the catalogue can tell which drop produced
which storefront objects."""

from __future__ import annotations

from tasks.storage import (
    LOOKS as LOOKS_DIR,
)
from tasks.storage import (
    STOREFRONT,
    drop_prefix,
    library_index_key,
    library_photos_prefix,
    report_key,
    review_prefix,
    storefront_manifest_key,
)

GENERATIONS = "generations/"
LOOKS = f"{STOREFRONT}{LOOKS_DIR}/"


def stage_lineage(stage: str, date: str | None = None) -> tuple[list[str], list[str]]:
    """(inputs, outputs) of a stage of garment_drop (for drop ``date``) or model_library."""
    if stage == "build_index":
        return [library_photos_prefix()], [library_index_key()]
    if date is None:
        return [], []
    return {
        "discover": ([drop_prefix(date)], []),
        "match": ([library_index_key()], []),
        "tryon": ([], [GENERATIONS]),
        "publish": ([GENERATIONS], [storefront_manifest_key(date), STOREFRONT, review_prefix(date)]),
        "looks": ([STOREFRONT], [LOOKS]),
        "report": ([], [report_key(date, "")]),
    }.get(stage, ([], []))
