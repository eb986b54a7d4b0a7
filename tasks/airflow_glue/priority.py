"""Airflow priority: tasks of the nightly (and manually triggered) runs outrank a backfill's, so
a long backfill cannot starve the night's drop when both wait for a worker slot or the gpu pool.
Registered with Airflow by the ``tryon`` plugin (``tasks/airflow_glue/plugin.py``, an
``airflow.plugins`` entry point); the DAGs use it as their ``weight_rule``."""

from __future__ import annotations

from typing import Any

from airflow.task.priority_strategy import PriorityWeightStrategy

NIGHTLY_BONUS = 1000
BACKFILL_RUN_PREFIX = "backfill__"


class NightlyFirst(PriorityWeightStrategy):
    """The task's own ``priority_weight``, plus ``NIGHTLY_BONUS`` unless its run is a backfill's
    (Airflow names backfill runs ``backfill__<date>``; the run id needs no database read)."""

    def get_weight(self, ti: Any) -> int:
        own = int(getattr(ti.task, "priority_weight", 1) or 1)
        return own if str(ti.run_id).startswith(BACKFILL_RUN_PREFIX) else own + NIGHTLY_BONUS


# how the DAGs name it: the importable path that the plugin registers (an instance would be
# serialised in a form the scheduler cannot look up)
NIGHTLY_FIRST = f"{NightlyFirst.__module__}.{NightlyFirst.__qualname__}"
