"""The Celery configuration of the pipeline's workers (``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS``
names ``CELERY_CONFIG``; docker/compose.yaml sets it): Airflow's default, and each worker
imports the tasks' modules once when it starts, before its pool forks (:mod:`tasks.airflow_glue.preload`)."""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery import signals

CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)


@signals.worker_init.connect
def _preload(**_: Any) -> None:
    from tasks.airflow_glue.preload import preload

    preload()
