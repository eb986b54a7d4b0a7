"""What a process that forks task processes imports ahead, so that each task finds it loaded.

A Celery worker runs each task in a process forked from one of its pool processes; that process
parses the task's DAG file and imports what the task needs (Airflow's task SDK, Great
Expectations, torch, rembg, the stages): seconds of one core before each task's work, each time.
With :func:`preload` run in the worker before its pool starts (``tasks.airflow_glue.celery_config``),
every task process inherits the modules, shared copy-on-write. The tests' forked commands
(``tests/forked_cli.py``) load the same. Nothing here starts a thread: the process forks after it."""

from __future__ import annotations

import importlib

# what the tasks and the tryon commands import on their way to their work (python -X importtime)
MODULES = (
    "airflow.sdk.execution_time.task_runner",
    "tasks.cli",
    "great_expectations.data_context",
    "torch",
    "matplotlib.pyplot",
    "tasks.looks.drop_looks",
    "tasks.looks.train_stage",
    "tasks.qc.inputs",
    "tasks.qc.stage",
    "tasks.report",
)


def preload() -> None:
    """Import :data:`MODULES` and rembg (without compiling pymatting's kernels)."""
    from tasks.preprocess.garment_mask import import_rembg

    for module in MODULES:
        importlib.import_module(module)
    import_rembg()
