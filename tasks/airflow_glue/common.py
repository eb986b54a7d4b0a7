"""What the DAG files share: the library index asset, the DAG defaults, the run context.
Imported only by dags/ (the rest of tasks/ stays free of Airflow)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, Param, get_current_context

from tasks.airflow_glue.priority import NIGHTLY_FIRST
from tasks.context import RunContext
from tasks.settings import Settings, get_settings

if TYPE_CHECKING:
    from tasks.stage_times import Figures

# What a DAG file takes from the settings, it takes when it is parsed: each DAG file reads
# ``get_settings()`` at its own top and hands them here. (A module-level copy in this shared module
# kept the first parse's settings for every later parse in the same process.)


# named by its URI: one asset per bucket (two buckets are two libraries, never one asset
# whose URI changes, which Airflow marks inactive)
def library_index(settings: Settings) -> Asset:
    return Asset(uri=f"s3://{settings.bucket}/library/index.parquet")


# the prefixes the DAGs read and write as a whole (Airflow's asset graph: drops -> garment_drop ->
# storefront, photos -> model_library -> index); each run's dated objects: report_lineage
def drops(settings: Settings) -> Asset:
    return Asset(uri=f"s3://{settings.bucket}/drops")


def storefront(settings: Settings) -> Asset:
    return Asset(uri=f"s3://{settings.bucket}/storefront")


def library_photos(settings: Settings) -> Asset:
    return Asset(uri=f"s3://{settings.bucket}/library/photos")


def cpu_chunk(settings: Settings) -> dict[str, Any]:
    """A CPU-heavy mapped stage's task: on the CPU queue and pool (never holding a try-on worker),
    labelled by its chunk in the UI (``chunk_stage`` sets the label)."""
    return {"queue": settings.cpu_queue, "pool": settings.cpu_pool, "map_index_template": "{{ chunk_label }}"}


def dag_defaults(settings: Settings) -> dict[str, Any]:
    """Arguments every tryon DAG takes: no catch-up, one run at a time, retries from settings,
    nightly runs ahead of backfills."""
    return {
        "start_date": datetime.combine(settings.first_drop_date, time(), tzinfo=UTC),
        "catchup": False,
        "max_active_runs": 1,
        "default_args": {
            "retries": settings.task_retries,
            "retry_delay": timedelta(seconds=settings.retry_delay_s),
            "weight_rule": NIGHTLY_FIRST,
        },
        "tags": ["tryon"],
    }


def param(default: Any, description: str, **schema: Any) -> Param:
    """A DAG param: ``default``, its trigger form's ``description``, its JSON schema (in
    ``tasks.run_overrides.PARAM_DIALECT``)."""
    from tasks.run_overrides import with_dialect

    return Param(default, description, schema=with_dialect(schema))


def run_params() -> dict[str, Param]:
    """The typed params of a run (``tasks.run_overrides.PARAMS``): Airflow validates them when a run
    is triggered and draws them as the trigger form."""
    from tasks.run_overrides import PARAMS

    return {name: param(None, **schema) for name, schema in PARAMS.items()}


def run_context() -> RunContext:
    """Built inside each task, from the worker's environment and the run's params (a backfill's
    model version or seed, ``tasks.run_overrides``).

    The task's lineage starts empty here: Airflow's hook-lineage collector lives as long as the
    process, which is the task's under a scheduler but the whole run's under ``dag.test``."""
    from airflow.sdk.lineage import get_hook_lineage_collector

    from tasks.run_overrides import apply_run_overrides

    get_hook_lineage_collector.cache_clear()

    settings = apply_run_overrides(get_settings(), get_current_context().get("params"))
    if settings.ledger_conn_id:
        settings = Settings(**{**settings.model_dump(), "ledger_url": ledger_url_of(settings.ledger_conn_id)})
    client = None
    if settings.aws_conn_id:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from tasks.storage import client_config

        client = S3Hook(aws_conn_id=settings.aws_conn_id, config=client_config(settings)).get_conn()
    return RunContext.from_settings(settings, client)


def checked_run_context(checks: tuple[str, ...] = ("S3", "ledger", "models")) -> RunContext:
    """``run_context()`` for a DAG's first task, after the doctor's ``checks`` on this worker
    (``tasks.doctor.preflight``: S3 through the task's own client): a configuration that cannot
    work fails the task at once and without retries, each failure naming the setting to fix, and
    the ledger claims the bucket on a first run."""
    from airflow.sdk.exceptions import AirflowFailException

    from tasks.doctor import PreflightFailed, preflight

    ctx = run_context()
    try:
        preflight(ctx.settings, checks, s3_client=ctx.store.client)
    except PreflightFailed as failed:
        raise AirflowFailException(f"the configuration cannot work: {failed} (tryon doctor runs every check)") from None
    return ctx


def ledger_url_of(conn_id: str) -> str:
    """The SQLAlchemy URL of an Airflow connection to the ledger (type postgres or sqlite)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    if conn.conn_type not in ("postgres", "postgresql"):
        raise ValueError(f"connection {conn_id!r} is of type {conn.conn_type!r}: the ledger's must be postgres or sqlite")
    from sqlalchemy.engine import URL

    return URL.create(
        "postgresql+psycopg2",
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host,
        port=conn.port,
        database=conn.schema or None,
    ).render_as_string(hide_password=False)


def drop_date(context: Any = None) -> str:
    """The run's drop date: its ``drop_date`` param, else its logical date. A run with neither (a
    manual run without a logical date, allowed in Airflow 3) fails at once, saying so."""
    from airflow.sdk.exceptions import AirflowFailException

    context = context or get_current_context()
    date = (context.get("params") or {}).get("drop_date") or context.get("ds")
    if not date:
        raise AirflowFailException("this run has no logical date and no drop_date param: trigger it with drop_date=YYYY-MM-DD")
    return str(date)


def report_lineage(settings: Settings, stage: str, date: str | None = None) -> None:
    """Tell Airflow's hook-lineage collector what the stage read and wrote (``tasks.lineage``: the
    drop date's own objects), which the OpenLineage provider emits with the task's events. A
    no-op unless a lineage reader (the OpenLineage provider) is enabled."""
    from airflow.sdk.lineage import get_hook_lineage_collector

    from tasks.airflow_glue.s3_hook import TryonS3Hook
    from tasks.lineage import stage_lineage

    inputs, outputs = stage_lineage(stage, date)
    if not inputs and not outputs:
        return
    collector, hook = get_hook_lineage_collector(), TryonS3Hook(aws_conn_id=settings.aws_conn_id)
    for key in inputs:
        collector.add_input_asset(hook, uri=f"s3://{settings.bucket}/{key}")
    for key in outputs:
        collector.add_output_asset(hook, uri=f"s3://{settings.bucket}/{key}")


def lease_holder() -> str:
    """Who this run is to the lease (and to the parts of its QC table): the CLI's token from the
    run's conf (``lease``), else the run id."""
    dag_run = get_current_context()["dag_run"]
    return (getattr(dag_run, "conf", None) or {}).get("lease") or f"airflow:{dag_run.run_id}"


@contextmanager
def drop_lease(ctx: RunContext, date: str, *, release_after: bool = False) -> Iterator[None]:
    """This run's hold on the drop date (``tasks.run_lease``) around a garment_drop task: taken
    (or renewed, when this run holds it already) by every stage, released by the report. The
    holder is the CLI's token from the run's conf (``lease``), else the run id. A run the lease
    refuses (another run holds the date) fails at once, without retries, naming that run."""
    from airflow.sdk.exceptions import AirflowFailException

    from tasks.run_lease import LeaseHeld, held, release

    holder = lease_holder()
    try:
        with held(ctx.ledger, date, holder, ctx.settings.run_lease_s, take=True):
            yield
    except LeaseHeld as refused:
        raise AirflowFailException(str(refused)) from refused
    finally:
        if release_after:
            release(ctx.ledger, date, holder)


@contextmanager
def stage(name: str, part: str | int | None = None) -> Iterator[tuple[RunContext, str, Figures]]:
    """(run context, drop date, details) for a garment_drop task, holding the date's lease, with
    the task's wall time and the details it fills in recorded for the report
    (``tasks.stage_times``). Skipped when the run's evaluation gate refused it."""
    from airflow.sdk.exceptions import AirflowFailException

    from tasks.models import ModelRegistryError
    from tasks.stage_times import timed_stage

    skip_if_refused()  # the stages that run whatever happened upstream too
    context = get_current_context()
    ctx, date = run_context(), drop_date(context)
    with (
        # taken, or renewed when this run has it: a run that found no drop never reached discover,
        # and its later stages (which run whatever happened upstream) hold the date all the same
        drop_lease(ctx, date),
        timed_stage(ctx, date, name, part, attempt=context["ti"].try_number) as details,
    ):
        try:
            yield ctx, date, details
        except ModelRegistryError as error:  # weights that are not there or not the registry's: no retry mends that
            raise AirflowFailException(str(error)) from error
    report_lineage(ctx.settings, name, date)


def chunk_index() -> int:
    """This mapped task's chunk (its map index)."""
    return get_current_context()["ti"].map_index or 0


@contextmanager
def chunk_stage(name: str, chunk: list[Any], what: str = "garments") -> Iterator[tuple[RunContext, str, Figures]]:
    """``stage`` for one chunk of a mapped CPU stage: recorded as part ``chunk_index()``, labelled
    in the UI with the chunk's size."""
    index = chunk_index()
    get_current_context()["chunk_label"] = f"chunk {index}: {len(chunk)} {what}"  # type: ignore[typeddict-unknown-key]
    with stage(name, index) as entered:
        yield entered


def models_on(ctx: RunContext, details: Figures | None, *kinds: str) -> None:
    """Where this task's preprocessing models run (``cpu`` or ``cuda``, per backend kind), logged
    and, for a task with a stage record (``details``), kept in it (``devices``)."""
    from tasks.preprocess.backends import model_devices

    devices = model_devices(ctx.settings, *kinds)
    print(f"models on: {devices}")
    if details is not None:
        details["devices"] = devices


GATE_TASK = "check_model_version"


def skip_if_refused() -> None:
    """Skip this garment_drop task when the run's evaluation gate refused the run: nothing of a
    refused run runs, the tasks that run whatever happened upstream (publish, the report) included."""
    from airflow.sdk.exceptions import AirflowSkipException

    if get_current_context()["ti"].xcom_pull(task_ids=GATE_TASK) is None:
        raise AirflowSkipException("the evaluation gate refused the run: nothing of it runs")


def model_version_gate() -> str:
    """garment_drop's first task: the preflight checks (``checked_run_context``), then the
    evaluation gate (``tasks.evaluation.gate``) for this run's model version, whoever started it.
    A refused run fails at once, without retries, saying what to do; nothing else of it runs."""
    from airflow.sdk.exceptions import AirflowFailException

    from tasks.evaluation.gate import ModelVersionRefused, hold_to_evaluation
    from tasks.run_overrides import RUN_SETTINGS
    from tasks.stage_times import timed_stage

    context = get_current_context()
    ctx, date, params = checked_run_context(), drop_date(context), context.get("params") or {}
    with timed_stage(ctx, date, GATE_TASK, attempt=context["ti"].try_number) as details:
        try:
            decision = hold_to_evaluation(
                ctx.ledger,
                get_settings(),
                ctx.settings,
                (date, date),
                force_reason=params.get("force_reason"),
                operator=params.get("operator") or lease_holder(),
                spec=",".join(f"{k}={params[k]}" for k in RUN_SETTINGS if params.get(k) is not None) or "deployment",
            )
        except ModelVersionRefused as refused:
            raise AirflowFailException(str(refused)) from refused
        details["decision"] = decision
    return decision
