"""The pipeline's Celery workers import the tasks' modules once, when the worker starts and
before its pool forks, so that every task process inherits them (tasks.airflow_glue.preload)."""

import subprocess
import sys

from tasks.airflow_glue.preload import MODULES
from tests.cluster import CELERY_CONFIG_OPTIONS, celery_env, free_port

WORKER = """
import json, sys
from airflow.providers.celery.executors.celery_executor_utils import app
modules = json.loads(sys.argv[1])
before = [m for m in modules if m in sys.modules]
app.WorkController(app=app, pool_cls="solo", hostname="preload@localhost")  # set up, not started: no pool, no broker
print(json.dumps({"before": before, "after": [m for m in modules if m in sys.modules]}))
"""


def test_a_worker_imports_the_tasks_modules_before_its_pool_starts(tmp_path):
    import json

    env = celery_env(tmp_path / "airflow", f"sqlite:///{tmp_path / 'airflow.db'}", free_port(), 12)
    assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == CELERY_CONFIG_OPTIONS
    modules = [*MODULES, "rembg"]
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(modules)], env=env, capture_output=True, text=True, timeout=300
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    seen = json.loads(worker.stdout.strip().splitlines()[-1])
    assert seen["after"] == modules
    assert not {"torch", "great_expectations.data_context", "tasks.qc.stage", "rembg"} & set(seen["before"]), seen
