"""Airflow under the CeleryExecutor on this machine, as child processes: the api-server,
scheduler, dag-processor and triggerer, and Celery workers, against the machine's PostgreSQL
(metadata database) and Redis (broker). Used by the cluster test (tests/test_celery_cluster.py)
and the scale-out benchmark (bench/scale_out.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CELERY_CONFIG_OPTIONS = "tasks.airflow_glue.celery_config.CELERY_CONFIG"  # as docker/compose.yaml sets it


def celery_env(airflow_home: Path, metadata: str, port: int, redis_db: int, **tryon: str) -> dict[str, str]:
    """The environment of every process of the cluster: this process's without its Airflow
    settings, the CeleryExecutor on ``metadata`` (a psycopg2 URL) and Redis database
    ``redis_db``, the api-server on loopback ``port``, and the ``TRYON_*`` settings given."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tasks.airflow_glue.worker_name.worker_name",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + libpq_url(metadata),
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG_OPTIONS,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API_AUTH__JWT_SECRET": "cluster-" + os.urandom(16).hex(),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # each DAG file parsed once: no file changes during a test, and parsing every 30 s (the
        # default) forked a process that imported the DAG's modules anew each time, 90 s of CPU a run
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        **tryon,
    }


def libpq_url(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg2://`` URL as psycopg2 itself takes it."""
    return url.replace("postgresql+psycopg2", "postgresql")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """The Airflow services and workers as child processes, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.processes = env, logs, []

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True, timeout=300, check=check
        )

    def start(self, name: str, *args: str, **extra_env: str) -> None:
        log = (self.logs / f"{name}.log").open("w")
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env={**self.env, **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def start_services(self, port: int) -> None:
        """The api-server (on ``port``), scheduler, dag-processor and triggerer."""
        self.start("api-server", "api-server", "--port", str(port))
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer")

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120) -> None:
        """Until the dag-processor has parsed ``dag_id`` (its row is in the metadata
        database: asked there, not through ``airflow dags list``, a process of several seconds'
        CPU each time while the services start)."""
        import psycopg2

        deadline = time.time() + timeout_s
        with psycopg2.connect(libpq_url(self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])) as conn:
            conn.autocommit = True
            while True:
                with conn.cursor() as cur:
                    cur.execute("select count(*) from dag where dag_id = %s", (dag_id,))
                    if cur.fetchone()[0]:
                        return
                assert time.time() < deadline, "the dag-processor did not parse the DAGs"
                time.sleep(1)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
