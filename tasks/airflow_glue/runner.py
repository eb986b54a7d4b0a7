"""Running a DAG in-process with a project-local Airflow (the embedded default).

Airflow reads its configuration when it is first imported, so :func:`configure_airflow`
must run before anything imports ``airflow``; the CLI calls it first thing.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import date as date_type
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tasks import progress
from tasks.settings import Settings

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def airflow_environment(settings: Settings) -> dict[str, str]:
    home = settings.home / "airflow"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # task errors still show; set INFO to follow every step
        "HF_HUB_OFFLINE": "1",
        "MPLCONFIGDIR": str(settings.home / "matplotlib"),
    }


def configure_airflow(settings: Settings) -> None:
    """Point this process (and its children) at the project-local Airflow home, unless the
    environment already names one (a real deployment)."""
    if "airflow" in sys.modules and "AIRFLOW_HOME" not in os.environ:
        raise RuntimeError("configure_airflow() must run before airflow is imported")
    for key, value in airflow_environment(settings).items():
        os.environ.setdefault(key, value)
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)


def migrate() -> bool:
    """Create or upgrade Airflow's metadata database when it is behind the installed Airflow;
    return whether a migration ran. ``airflow db migrate`` costs 4-15 s even with nothing to do,
    so after it succeeds the database's revision is noted (``migrated.json`` in the Airflow home,
    with the Airflow version): the next command migrates only when Airflow changed or the
    database is not at that revision (new, replaced, or downgraded). While the migration runs in
    its own process, this one warms the execution API its DAG runs will need
    (:func:`warm_execution_api`) on the other core."""
    stamp = Path(os.environ["AIRFLOW_HOME"]) / "migrated.json"
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    wanted = {"airflow": version("apache-airflow"), "database": url}
    try:
        noted = json.loads(stamp.read_text())
    except (OSError, ValueError):
        noted = {}
    if url and noted.get("revision") and {k: noted.get(k) for k in wanted} == wanted and _revision(url) == noted["revision"]:
        return False
    command = [sys.executable, "-m", "airflow", "db", "migrate"]
    migrating = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    try:
        warm_execution_api()
    finally:
        if migrating.wait():
            raise subprocess.CalledProcessError(migrating.returncode, command)
    if url and (revision := _revision(url)):
        stamp.write_text(json.dumps({**wanted, "revision": revision}))
    return True


def warm_execution_api() -> None:
    """Build the in-process execution API that ``dag.test`` runs this process's tasks through, and
    answer one request with it: the first request makes Cadwyn build the API's routers for each of
    its versions, 3-5 s of one core that the process's first task would otherwise wait for. It
    reads no database: it can run while the metadata database is being migrated. What Cadwyn
    builds is kept for the process, so the request goes to a throwaway app, over ASGI, for a
    path no route serves: Cadwyn builds the routers before routing it, and no endpoint runs on a
    worker thread that would outlive the call (a process may fork after this: tests/forked_cli.py)."""
    import asyncio

    import httpx
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    async def ask() -> int:
        transport = httpx.ASGITransport(app=in_process_api_server().app)
        async with httpx.AsyncClient(transport=transport, base_url="http://in-process.invalid.") as client:
            return (await client.get("/tryon-warm-up")).status_code

    if (status := asyncio.run(ask())) != 404:
        raise RuntimeError(f"the in-process execution API answered {status} for a path it has no route for")


def _revision(url: str) -> str | None:
    """The alembic revision Airflow's metadata database is at (None: no database yet)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def ensure_pool(settings: Settings) -> None:
    """The try-on pool (``gpu_pool_slots`` slots) and the CPU stages' pool (``cpu_pool_slots``),
    each created if it does not exist (an operator's own size is left alone)."""
    from airflow.models.pool import Pool

    for name, slots, description in (
        (settings.tryon_pool, settings.gpu_pool_slots, "try-on engine slots (one per GPU)"),
        (settings.cpu_pool, settings.cpu_pool_slots, "CPU stage slots (garment preprocessing, QC's measuring)"),
    ):
        if Pool.get_pool(name) is None:
            Pool.create_or_update_pool(name, slots, description, include_deferred=False)


class _DagTestPolls:
    """How long ``dag.test``'s loop sleeps when no task is ready. It sleeps a whole second each
    time, and a skip spreads one level of tasks per pass (a mapped task expands a pass after its
    upstream): a run that found no drop spent 7 of its 26 s asleep. Here the first ``QUICK``
    sleeps after a task starts are ``QUICK_S``; then each is the second Airflow asks for (a
    deferred sensor's wait polls once a second, as before)."""

    QUICK, QUICK_S = 20, 0.05

    def __init__(self) -> None:
        self.quick_left = self.QUICK

    def task_started(self) -> None:
        self.quick_left = self.QUICK

    def sleep_s(self, asked: float) -> float:
        if self.quick_left <= 0:
            return asked
        self.quick_left -= 1
        return min(asked, self.QUICK_S)


_POLLS = _DagTestPolls()


@contextmanager
def _quick_polls() -> Iterator[None]:
    """``time.sleep`` called from ``DAG.test`` itself sleeps as :class:`_DagTestPolls` says; every
    other caller (a task, a thread) sleeps as asked. ``DAG.test`` imports ``time`` inside the
    function, so its sleeps are told apart by the calling frame."""
    from airflow.sdk.definitions.dag import DAG

    real, test_code = time.sleep, inspect.unwrap(DAG.test).__code__

    def sleep(seconds: float) -> None:
        real(_POLLS.sleep_s(seconds) if sys._getframe(1).f_code is test_code else seconds)

    time.sleep = sleep  # type: ignore[assignment]
    try:
        yield
    finally:
        time.sleep = real


def _dag_test_lines(record: logging.LogRecord) -> bool:
    """What of ``dag.test``'s own log reaches the terminal: its warnings, but not the "No tasks
    to run" it repeats every second while tasks wait on others (a skip spreading, a deferred
    sensor: hundreds of lines that say nothing the run's end does not). The task it starts is
    noted for the command's progress lines (``tasks.progress``)."""
    message = str(record.msg)
    if message.startswith("[DAG TEST] starting task_id") and record.args:
        progress.task_started(str(record.args[0]))  # type: ignore[index]
        _POLLS.task_started()
    return record.levelno >= logging.WARNING and not message.startswith("No tasks to run")


def run_dag(dag_id: str, logical_date: str | None = None, conf: dict | None = None) -> str:
    """Run one DAG run in this process with ``dag.test()`` (for ``logical_date``, a drop date,
    or now); return its state."""
    from airflow.dag_processing.dagbag import DagBag

    from tasks.settings import get_settings

    settings = get_settings()
    if logical_date is not None:
        settings.check_drop_date(logical_date)
    ensure_pool(settings)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[dag_id]
    dag_test_log = logging.getLogger("airflow.sdk.definitions.dag")
    dag_test_log.setLevel(logging.INFO)  # its task starts, for the progress lines; the filter passes only warnings on
    dag_test_log.addFilter(_dag_test_lines)
    started = datetime.now(UTC)
    with _quick_polls():
        if logical_date is None:
            run = dag.test(run_conf=conf)
        else:
            day = date_type.fromisoformat(logical_date)
            run = dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC), run_conf=conf)
    _record_start(run, started)
    return str(run.state)


def _record_start(run: Any, started: datetime) -> None:
    """``dag.test`` records a run's start as its logical date (a drop date: days before it ran),
    so the UI showed a CLI run lasting "1d 3h": the run keeps when it really started."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagRun).where(DagRun.id == run.id).values(start_date=started))
