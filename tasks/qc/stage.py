"""The QC stage: measure every generated image of a date into the metrics table, judge the
table with the Great Expectations generation suite, record one ledger row per expectation and
move each generation to ``passed`` or ``flagged`` (with the names of what it failed). The
table is kept as ``reports/{date}/metrics.parquet`` for the report and for later analysis.

The measuring is where the work is (a fraction of a second per image), so it is mapped: one
``measure_chunk`` per chunk of the night's generations (``chunk_size``), in parallel across CPU
workers, each writing its part of the table under ``reports/{date}/metrics/{run}/``. ``check_generations`` then gathers the parts,
measures whatever no part holds (a shard whose measuring failed), runs the suite once over the
whole table and records the verdicts. What needs QC: generations whose image is new
(``generated``), and those judged before under another version of the suite; a verdict made by
this version on an image that has not changed stands, so a re-run with nothing new measures
nothing."""

from __future__ import annotations

import hashlib
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

import pandas as pd
from sqlalchemy import select

from tasks.catalog.garments import load_garment
from tasks.catalog.library import load_photo, load_view_labels
from tasks.catalog.qc_table import TableRow
from tasks.context import RunContext
from tasks.images import decode_artifact, thumbnail_jpeg
from tasks.ledger import Garment, Generation, GenerationState, QCResult, row_of, rows_in
from tasks.preprocess.faces import shared_faces
from tasks.qc.appearance import read_cloth
from tasks.qc.data_docs import gx_project
from tasks.qc.judge import measure as measure_image
from tasks.qc.judge import view_inputs, with_cloth
from tasks.qc.metrics import GenerationInputs
from tasks.qc.suite import validate_generations
from tasks.qc.suite_versions import current_suite
from tasks.states import CheckState, move
from tasks.storage import qc_table_key, report_key, report_thumbnail_key
from tasks.worker_threads import cpu_threads

JUDGED = (GenerationState.PASSED.value, GenerationState.FLAGGED.value)
PARTS_PREFIX = "metrics/"
VIEWS_KEPT = 48  # views a measuring task keeps read (a shard holds a few clusters of a few photos each)


class ViewCache:
    """The generation inputs of the views (photo, category) a task measures, each read once: a
    view is asked for by every garment tried on it, from several threads, and the first to ask
    reads it while the others wait for that reading instead of making their own. The least
    recently used views beyond ``size`` are let go (each holds a few full-size masks)."""

    def __init__(self, read: Callable[[str, str], GenerationInputs], size: int) -> None:
        self.read, self.size = read, size
        self.views: OrderedDict[tuple[str, str], Future] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, photo_id: str, category: str) -> GenerationInputs:
        key = (photo_id, category)
        with self.lock:
            known = self.views.get(key)
            first = known is None
            future = self.views[key] = Future() if known is None else known
            if first:
                while len(self.views) > self.size:
                    self.views.popitem(last=False)
            else:
                self.views.move_to_end(key)
        if first:
            try:
                future.set_result(self.read(photo_id, category))
            except BaseException as error:  # the next to ask reads it again
                with self.lock:
                    self.views.pop(key, None)
                future.set_exception(error)
        return future.result()


def measure(ctx: RunContext, rows: list[Generation], garment_sha: dict[str, str]) -> pd.DataFrame:
    """The metrics table of ``rows``: identifying columns, then the metrics, in generation id order.
    The work is one garment at a time on the process's ``cpu_threads``: what QC reads from a garment
    alone is read once for all its generations, and what it reads from a view (a photo in a
    category) once for every garment tried on it (``ViewCache``). Each image's thumbnail for the
    report is written while it is in memory."""

    def read_view_inputs(photo_id: str, category: str) -> GenerationInputs:
        """The generation inputs of a view, without a garment (a template filled per generation)."""
        photo = load_photo(ctx, photo_id, category)
        labels = load_view_labels(ctx, photo_id, category)
        return view_inputs(category, photo, labels, bool(shared_faces()(photo["person"])))

    view = ViewCache(read_view_inputs, VIEWS_KEPT)

    def one_garment(sha256: str, generations: list[Generation]) -> list[TableRow]:
        cloth_reading = read_cloth(*load_garment(ctx, sha256))
        table: list[TableRow] = []
        for row in generations:
            inputs = with_cloth(view(row.photo_id, row.category), cloth_reading)
            output = decode_artifact(ctx.store.get_bytes(row.stored_key))
            metrics = measure_image(output, inputs, shared_faces())  # the thread's own detector
            ctx.store.put_bytes(report_thumbnail_key(row.drop_date, row.generation_id), thumbnail_jpeg(output), "image/jpeg")
            table.append(
                {
                    "generation_id": row.generation_id,
                    "sku": row.sku,
                    "category": row.category,
                    "photo_id": row.photo_id,
                    "engine": row.engine,
                    "model_version": row.model_version,
                    **metrics,
                }
            )
        return table

    by_garment: dict[str, list[Generation]] = {}
    for row in sorted(rows, key=lambda r: (r.photo_id, r.category)):
        by_garment.setdefault(garment_sha[row.generation_id], []).append(row)
    parts = cpu_threads(ctx.settings.cpu_threads).map(one_garment, by_garment, by_garment.values())
    table = [record for part in parts for record in part]
    return pd.DataFrame(sorted(table, key=lambda r: str(r["generation_id"])))


def needing_check(
    ctx: RunContext, date: str, version: int, generation_ids: list[str] | None = None
) -> tuple[list[Generation], dict[str, str]]:
    """The generations of ``date`` (of ``generation_ids`` when given) that need QC by suite
    ``version``, detached, and each one's garment sha256."""
    judged_by_another = Generation.qc_suite_version.is_(None) | (Generation.qc_suite_version != version)
    query = (
        select(Generation, Garment.sha256)
        .join(Garment, Garment.id == Generation.garment_id)
        .where(
            Generation.drop_date == date,
            (Generation.state == GenerationState.GENERATED.value) | (Generation.state.in_(JUDGED) & judged_by_another),
        )
    )
    if generation_ids is not None:  # a chunk's (at most chunk_size), not the whole date's
        query = query.where(Generation.generation_id.in_(generation_ids))
    with ctx.ledger.session() as session:
        found = session.execute(query.order_by(Generation.generation_id)).all()
        session.expunge_all()
    return [row for row, _ in found], {row.generation_id: sha for row, sha in found}


def _parts_prefix(date: str, run: str) -> str:
    return report_key(date, f"{PARTS_PREFIX}{hashlib.sha256(run.encode()).hexdigest()[:16]}/")


def measure_chunk(ctx: RunContext, date: str, generation_ids: list[str], part: int, run: str) -> dict[str, int]:
    """Measure one chunk of the night's generations that need QC into this run's part ``part`` of
    the metrics table (``run``: the run's lease holder; a part from another run is never read).
    A chunk run again (a retry, a re-run) keeps the rows its part already holds and measures the
    rest."""
    config = current_suite(ctx)
    rows, garment_sha = needing_check(ctx, date, config.version, generation_ids)
    key = f"{_parts_prefix(date, run)}part-{part:05d}.parquet"
    kept = _read_parquet(ctx, key) if ctx.store.exists(key) else pd.DataFrame()
    if not kept.empty:
        kept = kept[kept["generation_id"].isin({row.generation_id for row in rows})]
    done = set(kept["generation_id"]) if not kept.empty else set()
    table = measure(ctx, [row for row in rows if row.generation_id not in done], garment_sha)
    if len(table) or not ctx.store.exists(key):
        whole = pd.concat([kept, table], ignore_index=True) if not kept.empty else table
        ctx.store.put_bytes(key, _parquet(whole), "application/vnd.apache.parquet")
    return {"measured": len(table), "kept": len(kept)}


def _parquet(table: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _read_parquet(ctx: RunContext, key: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(ctx.store.get_bytes(key)))


def check_generations(ctx: RunContext, date: str, run: str | None = None) -> dict[str, int]:
    """Judge every generation that needs QC with the suite, from this run's measured parts and
    what this task measures itself; record the verdicts; write the date's whole metrics table."""
    config = current_suite(ctx)
    rows, garment_sha = needing_check(ctx, date, config.version)
    wanted = {row.generation_id for row in rows}
    parts = sorted(ctx.store.list_keys(_parts_prefix(date, run))) if run else []
    measured = [part[part["generation_id"].isin(wanted)] for part in (_read_parquet(ctx, key) for key in parts) if not part.empty]
    gathered = pd.concat(measured, ignore_index=True).drop_duplicates("generation_id") if measured else pd.DataFrame()
    done = set(gathered["generation_id"]) if not gathered.empty else set()
    missing = [row for row in rows if row.generation_id not in done]
    metrics = pd.concat([gathered, measure(ctx, missing, garment_sha)], ignore_index=True) if missing else gathered
    counts = {"passed": 0, "flagged": 0, "measured_in_shards": len(done), "measured_here": len(missing)}
    with gx_project(ctx, date, "qc") as project:  # a Checkpoint, its results and Data Docs kept with the report
        outcome = validate_generations(metrics, config, project)
    with ctx.ledger.session() as session:
        judging = list(metrics["generation_id"]) if not metrics.empty else []
        earlier: dict[str, dict[str, QCResult]] = {}
        for result in rows_in(session, QCResult.generation_id, judging):  # their earlier rows
            earlier.setdefault(result.generation_id, {})[result.check] = result
        # the generations' rows in a few queries, not one each
        generations = {g.generation_id: g for g in rows_in(session, Generation.generation_id, judging)}
        for record in metrics.to_dict("records"):
            gid = record["generation_id"]
            failed = outcome.failed.get(gid, [])
            existing = earlier.get(gid, {})
            for spec in config.expectations:
                if not spec.applies(record):
                    continue
                value = record[spec.column]
                result = existing.get(spec.name) or QCResult(generation_id=gid, check=spec.name)
                result.passed = spec.name not in failed
                result.value = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
                result.threshold = f"v{outcome.version}: {spec.threshold()}"
                result.reason = None if result.passed else f"{spec.column} = {value:.3g}, expected {spec.threshold()}"
                move(result, CheckState.PASSED if result.passed else CheckState.FAILED, result.reason)
                session.add(result)
            generation = generations.get(gid) or row_of(session, Generation, gid)
            generation.qc_suite_version = outcome.version
            if failed:
                move(generation, GenerationState.FLAGGED, "failed: " + ", ".join(failed))
                counts["flagged"] += 1
            else:
                move(generation, GenerationState.PASSED)
                counts["passed"] += 1
    if not metrics.empty:
        metrics["qc_failed"] = [outcome.failed.get(g, []) for g in metrics["generation_id"]]
        metrics["qc_suite_version"] = outcome.version
    table_key = qc_table_key(date)
    if not metrics.empty or not ctx.store.exists(table_key):  # nothing judged: the date's table stands as it is
        ctx.store.put_bytes(table_key, _parquet(_whole_table(ctx, date, metrics)), "application/vnd.apache.parquet")
    for key in list(ctx.store.list_keys(report_key(date, PARTS_PREFIX))):  # this run's parts, and any a dead run left
        ctx.store.delete(key)
    return counts


def _whole_table(ctx: RunContext, date: str, judged: pd.DataFrame) -> pd.DataFrame:
    """The date's metrics table: the rows judged now, and the earlier rows of generations not
    judged again (their verdicts stand)."""
    key = qc_table_key(date)
    if not ctx.store.exists(key):
        return judged
    earlier = _read_parquet(ctx, key)
    if judged.empty or earlier.empty:
        return judged if earlier.empty else earlier
    kept = earlier[~earlier["generation_id"].isin(set(judged["generation_id"]))]
    return pd.concat([kept, judged], ignore_index=True).sort_values("generation_id", ignore_index=True)
