"""model_library: preprocess the model-photo library and publish its index.

Every photo under ``library/photos/`` is preprocessed once per content hash (pose, person mask,
faces, cleaning, parsing, refocused views with LaDI-VTON masks and pose maps, embeddings), in
mapped chunks; then the library is clustered per category and ``library/index.parquet`` is
written. That file is the Airflow asset (named by its S3 URI) that garment_drop's matching reads.
Run it after adding photos (``tryon library add`` then ``tryon library build``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import dag, task

from tasks.assets import LIBRARY_INDEX
from tasks.settings import get_settings

SETTINGS = get_settings()
CHUNK = 16


def _ctx():
    from tasks.context import RunContext

    return RunContext.from_env()


@dag(
    dag_id="model_library",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": SETTINGS.task_retries, "retry_delay": timedelta(seconds=SETTINGS.retry_delay_s)},
    tags=["tryon"],
    doc_md=__doc__,
)
def model_library() -> None:
    @task
    def list_photos() -> list[list[str]]:
        from tasks.storage import library_photos_prefix

        keys = sorted(_ctx().store.list_keys(library_photos_prefix()))
        return [keys[i : i + CHUNK] for i in range(0, len(keys), CHUNK)]

    @task
    def preprocess(keys: list[str]) -> dict[str, Any]:
        from tasks.preprocess.library_stage import preprocess_model_photos

        return preprocess_model_photos(_ctx(), keys)

    @task(outlets=[LIBRARY_INDEX])
    def build_index(chunks: list[dict[str, Any]]) -> dict[str, Any]:
        from tasks.preprocess.library_stage import build_index as run

        return run(_ctx(), list(chunks))

    build_index(preprocess.expand(keys=list_photos()))


model_library()
