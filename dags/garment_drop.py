"""garment_drop: a nightly catalogue drop, from S3 to storefront images.

The logical date is the drop date: the run for 2026-11-20 processes ``drops/2026-11-20/``
once that day is over (a daily data-interval timetable) and the catalogue team has marked the
drop complete (``drops/2026-11-20/_READY``: the first task, a deferrable S3 sensor, waits for it
without holding a worker slot, and ends the run as "no drop" after ``drop_wait_s``); a run
without a logical date takes the date from its ``drop_date`` param. The run's typed params (``tasks/run_overrides.py``: engine, model
weights, sampling, seed, photos per garment) override the deployment's settings for that run; its first
task holds another model version to the evaluation gate (``tasks/evaluation/gate.py``), however the run
was started. Matching reads the model library's
index (the asset ``s3://<bucket>/library/index.parquet`` that model_library produces). Safe to re-run:
generation ids are deterministic and existing objects are not generated again. The CPU-heavy
stages are mapped over chunks of ``chunk_size`` on the ``cpu`` queue and pool. The report task
tells the team's webhook how the night went, and a nightly run still going at
``TRYON_NIGHT_DEADLINE`` is told late by a deadline alert (docs/operations.md). The logic
lives in ``tasks/``; this file only wires the stages.
"""

from __future__ import annotations

from dataclasses import asdict

from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.interval import CronDataIntervalTimetable

from tasks.airflow_glue.common import (
    GATE_TASK,
    chunk_index,
    chunk_stage,
    cpu_chunk,
    dag_defaults,
    drop_date,
    drop_lease,
    drops,
    lease_holder,
    library_index,
    model_version_gate,
    models_on,
    report_lineage,
    run_context,
    run_params,
    skip_if_refused,
    stage,
    storefront,
)
from tasks.airflow_glue.drop_ready import DropReadySensor
from tasks.airflow_glue.kubernetes_pods import tryon_executor_config
from tasks.airflow_glue.notices import deadline_alert
from tasks.airflow_glue.xcom import allow_xcom_classes
from tasks.catalog.run_summary import ShardFigures
from tasks.inference.shard import Shard
from tasks.items import AcceptedItem, DropItem
from tasks.settings import get_settings
from tasks.stage_times import Figures

SETTINGS = get_settings()  # read at each parse of this file
allow_xcom_classes()  # the stages hand each other these dataclasses through XCom


@dag(
    dag_id="garment_drop",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    params=run_params(),
    deadline=deadline_alert(SETTINGS),
    doc_md=__doc__,
    **dag_defaults(SETTINGS),
)
def garment_drop() -> None:
    @task(task_id=GATE_TASK, retries=0)
    def check_model_version() -> str:
        """The evaluation gate: a model version other than the deployment's (the run's params)
        runs only when an evaluation shows it at least as good, or when forced with a reason
        (the params force_reason and operator); recorded in the ledger."""
        return model_version_gate()

    @task(inlets=[drops(SETTINGS)])
    def discover() -> list[list[DropItem]]:
        """The drop's SKUs, in chunks of ``chunk_size`` (at least one, an empty drop's empty)."""
        from tasks.intake import discover as run
        from tasks.items import chunked

        with stage("discover") as (ctx, date, _):
            return chunked(run(ctx, date), ctx.settings.chunk_size) or [[]]

    @task(**cpu_chunk(SETTINGS))
    def validate(items: list[DropItem]) -> list[AcceptedItem]:
        """One chunk's images decoded and checked (on the CPU queue, chunks side by side)."""
        from tasks.intake import validate as run

        with chunk_stage("validate", items) as (ctx, date, details):
            models_on(ctx, details, "pose")
            return run(ctx, date, items)

    @task(**cpu_chunk(SETTINGS))
    def preprocess_garments(items: list[AcceptedItem]) -> list[AcceptedItem]:
        """One chunk's cut-outs, canvases, fingerprints and embeddings."""
        from tasks.preprocess.garment_stage import prepare_garments

        with chunk_stage("preprocess_garments", items) as (ctx, date, details):
            models_on(ctx, details, "background", "embedding")
            return prepare_garments(ctx, date, items)

    @task
    def keep_originals(chunks: list[list[AcceptedItem]]) -> list[AcceptedItem]:
        """The chunks gathered: a garment the same as one seen first is a duplicate."""
        from tasks.preprocess.garment_stage import keep_originals as run

        with stage("keep_originals") as (ctx, date, _):
            # index by length: iterating the lazy sequence probes one past its end (an error in the log)
            return run(ctx, date, [item for i in range(len(chunks)) for item in chunks[i]])

    @task(retries=0)
    def check_inputs(items: list[AcceptedItem]) -> list[AcceptedItem]:
        """Great Expectations on the drop's items and the library index, before any try-on."""
        from tasks.qc.inputs import validate_inputs

        with stage("check_inputs") as (ctx, date, _):
            return validate_inputs(ctx, date, items)

    @task(inlets=[library_index(SETTINGS)])
    def match(items: list[AcceptedItem]) -> list[Shard]:
        from tasks.match import match as run

        with stage("match") as (ctx, date, _):
            return run(ctx, date, items)

    @task
    def measure_chunks(shards: list[Shard]) -> list[list[str]]:
        """The shards' generations again, in chunks of ``chunk_size`` for QC's measuring (a CPU
        stage: its tasks need not be as few as try-on's weight loads)."""
        from tasks.items import chunked

        return chunked([gid for shard in shards for gid in shard.generation_ids], run_context().settings.chunk_size)

    @task(
        map_index_template="{{ shard_label }}",
        queue=SETTINGS.tryon_queue,
        pool=SETTINGS.tryon_pool,
        executor_config=tryon_executor_config(SETTINGS),
    )
    def tryon(shard: Shard) -> ShardFigures:
        """One shard: the engine loads its weights once and generates every batch of the shard."""
        from tasks.inference.tryon_stage import run_shard

        get_current_context()["shard_label"] = shard.label
        with stage("tryon", shard.index) as (ctx, _, details):
            figures = run_shard(ctx, shard)
            details.update(asdict(figures))
            return figures

    @task(trigger_rule="all_done", **cpu_chunk(SETTINGS))
    def measure(generation_ids: list[str]) -> Figures:
        """QC's measuring of one chunk of the night's generations, once try-on is done."""
        from tasks.qc.stage import measure_chunk

        with chunk_stage("measure", generation_ids, "generations") as (ctx, date, details):
            details.update(measure_chunk(ctx, date, generation_ids, chunk_index(), lease_holder()))
            return details

    @task(trigger_rule="all_done")
    def qc() -> Figures:
        """The suite over the whole table, gathered from the shards' parts."""
        from tasks.qc.stage import check_generations

        with stage("qc") as (ctx, date, details):
            details.update(check_generations(ctx, date, lease_holder()))
            return details

    @task(trigger_rule="all_done", outlets=[storefront(SETTINGS)])
    def publish() -> Figures:
        from tasks.publish import publish as run

        with stage("publish") as (ctx, date, details):
            details.update(asdict(run(ctx, date)))
            return details

    @task(trigger_rule="all_done")
    def looks() -> Figures:
        """storefront/looks/{sku}.json for each of the drop's garments on the storefront: the
        compatible garments of the other category (docs/looks.md)."""
        from tasks.looks.drop_looks import write_looks

        with stage("looks") as (ctx, date, details):
            written = write_looks(ctx, date)
            details.update(written=len(written.written), unchanged=len(written.unchanged), model=written.model)
            return details

    @task(
        trigger_rule="all_done",
        queue=SETTINGS.tryon_queue,
        pool=SETTINGS.tryon_pool,
        executor_config=tryon_executor_config(SETTINGS),
    )
    def outfits() -> Figures:
        """Each new garment worn with its best partner on one photo (the engine twice), judged by
        QC and published or sent to review like every image (docs/looks.md)."""
        from tasks.looks.outfit_tryon import make_outfits

        with stage("outfits") as (ctx, date, details):
            details.update(make_outfits(ctx, date).figures())
            return details

    @task(trigger_rule="all_done")
    def report() -> dict[str, object]:
        """Written whatever happened (unless another run holds the date); the run's lease on the
        date ends here."""
        from tasks.airflow_glue.notices import send_notice
        from tasks.night_notice import run_notice
        from tasks.report import write_report
        from tasks.run_end import stop_unfinished

        skip_if_refused()
        ctx, date = run_context(), drop_date()
        with drop_lease(ctx, date, release_after=True):
            stop_unfinished(ctx, date)
            written = write_report(ctx, date)
        report_lineage(ctx.settings, "report", date)
        send_notice(ctx.settings, run_notice(ctx, date))
        return asdict(written)

    @task(trigger_rule="one_failed", retries=0)
    def fail_run_if_a_stage_failed() -> None:
        """The report runs whatever happened, so it cannot be the run's verdict: this leaf
        fails the run when any stage failed (and is skipped otherwise)."""
        raise AirflowFailException("a stage of garment_drop failed; the report accounts for every input, re-run the date")

    gate = check_model_version()
    ready = DropReadySensor()
    found = discover()
    valid = validate.expand(items=found)
    prepared = preprocess_garments.expand(items=valid)
    items = keep_originals(prepared)
    checked = check_inputs(items)
    shards = match(checked)
    generated = tryon.expand(shard=shards)
    chunks_to_measure = measure_chunks(shards)
    measured = measure.expand(generation_ids=chunks_to_measure)
    qc_done = qc()
    published = publish()
    looked = looks()
    outfit_images = outfits()
    reported = report()
    gate >> ready >> found
    generated >> measured >> qc_done >> published >> looked >> outfit_images >> reported
    [
        gate,
        ready,
        found,
        valid,
        prepared,
        items,
        checked,
        shards,
        chunks_to_measure,
        generated,
        measured,
        qc_done,
        published,
        looked,
        outfit_images,
        reported,
    ] >> fail_run_if_a_stage_failed()


garment_drop()
