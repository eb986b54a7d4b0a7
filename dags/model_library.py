"""model_library: preprocess the model-photo library and publish its index.

Every photo under ``library/photos/`` is preprocessed once per content hash (pose, person mask,
faces, cleaning, parsing, refocused views with LaDI-VTON masks and pose maps, embeddings), in
mapped chunks; then the library is clustered per category and ``library/index.parquet`` is
written. That file is the Airflow asset (named by its S3 URI) that garment_drop's matching reads.
Run it after adding photos (``tryon library add`` then ``tryon library build``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from tasks.airflow_common import LIBRARY_INDEX, dag_defaults, run_context

CHUNK = 16


@dag(
    dag_id="model_library",
    schedule=None,
    doc_md=__doc__,
    **dag_defaults(),
)
def model_library() -> None:
    @task
    def list_photos() -> list[list[str]]:
        from tasks.storage import library_photos_prefix

        keys = sorted(run_context().store.list_keys(library_photos_prefix()))
        return [keys[i : i + CHUNK] for i in range(0, len(keys), CHUNK)]

    @task
    def preprocess(keys: list[str]) -> dict[str, Any]:
        from tasks.preprocess.library_stage import preprocess_model_photos

        return preprocess_model_photos(run_context(), keys)

    @task(outlets=[LIBRARY_INDEX])
    def build_index(chunks: list[dict[str, Any]]) -> dict[str, Any]:
        from tasks.preprocess.library_stage import build_index as run

        # index by length: iterating the lazy sequence probes one past its end, which Airflow
        # logs as an error
        return run(run_context(), [chunks[i] for i in range(len(chunks))])

    build_index(preprocess.expand(keys=list_photos()))


model_library()
