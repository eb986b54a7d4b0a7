"""The name Airflow records as a task instance's ``hostname`` (``[core] hostname_callable =
tasks.airflow_glue.worker_name.worker_name``): ``TRYON_WORKER_NAME`` when a worker sets it (several workers
on one host, e.g. a GPU and a CPU worker), else the host's FQDN as Airflow's default."""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    return os.environ.get("TRYON_WORKER_NAME") or socket.getfqdn()
