"""Airflow assets shared by the DAGs (imported only by dags/)."""

from __future__ import annotations

from airflow.sdk import Asset

from tasks.settings import get_settings

# named by its URI: one asset per bucket (two buckets are two libraries, never one asset
# whose URI changes, which Airflow marks inactive)
LIBRARY_INDEX = Asset(uri=f"s3://{get_settings().bucket}/library/index.parquet")
