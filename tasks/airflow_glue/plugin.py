"""The ``tryon`` Airflow plugin (entry point ``airflow.plugins``): registers the priority weight
strategy the DAGs use, in every Airflow process that loads plugins."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tasks.airflow_glue.priority import NightlyFirst


class TryonPlugin(AirflowPlugin):
    name = "tryon"
    priority_weight_strategies = [NightlyFirst]
