"""Airflow assets shared by the DAGs (imported only by dags/)."""

from __future__ import annotations

from airflow.sdk import Asset

from tasks.settings import get_settings

LIBRARY_INDEX = Asset(name="tryon_library_index", uri=f"s3://{get_settings().bucket}/library/index.parquet")
