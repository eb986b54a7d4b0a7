"""The run report of a date: ``reports/{date}/summary.json`` (counts by state that add up to
the inputs, per category, every item with its state and reason, time per stage) and
``report.html`` (the same, with thumbnails of the published and flagged images and histograms
of the QC metrics, paged, the images as files beside it; ``metrics.parquet`` holds every
generation's metrics)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import select

from tasks.catalog.documents import from_document, to_document
from tasks.catalog.look_files import read_look_file
from tasks.catalog.run_summary import (
    SUMMARY,
    DropWait,
    FailedStage,
    GarmentLine,
    GenerationLine,
    LookFileLine,
    LooksSummary,
    ModelUsed,
    OutfitLine,
    Partner,
    PhotoLine,
    RunSummary,
    SpotChecks,
    SpotCheckTally,
    TryonTask,
)
from tasks.context import RunContext
from tasks.drops import DropListing, kept_reading, list_drop
from tasks.images import decode_rgb, thumbnail_jpeg
from tasks.inference.factory import StandingLookup
from tasks.ledger import (
    GARMENT_TERMINAL_STATES,
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    LookGeneration,
    ModelPhoto,
    Publication,
    spot_tally,
)
from tasks.qc.data_docs import DATA_DOCS_INDEX, data_docs_key
from tasks.qc.histograms import metrics_histograms
from tasks.qc.suite_versions import current_suite
from tasks.rendering import TEMPLATES
from tasks.rights import PhotoTermsLookup, expiring_releases
from tasks.stage_times import StageRecord, stage_failures, stage_records, stage_tasks, stage_times
from tasks.storage import (
    REPORT_THUMBS,
    drop_marker_key,
    qc_table_key,
    report_key,
    report_thumbnail_key,
    storefront_manifest_key,
)
from tasks.storefront import CAUSE_WORDS, LIVE, flag_cause, manifest_entries, outfit_entries
from tasks.storefront.credentialed import credentials_tally

_TERMINAL = {s.value for s in GARMENT_TERMINAL_STATES}
PAGE_THUMBNAILS = 200  # thumbnails on a page of the report
PAGE_ROWS = 500  # garments in a table page
HISTOGRAMS = "qc-histograms.png"


def models_used(ctx: RunContext, generations: list[Generation]) -> list[ModelUsed]:
    """Each model that made generations of the date, with whether it is a released production
    model or a preview (and why), and which licences stood behind its images, in words."""
    standings = StandingLookup(ctx.settings)
    models: dict[tuple[str, str, str], ModelUsed] = {}
    for row in generations:
        key = (row.engine, row.model_version, row.weights_sha256)
        if key not in models:
            standing = standings(row)
            models[key] = ModelUsed(
                row.engine,
                row.model_version,
                row.weights_sha256,
                standing.release.released,
                standing.release.note,
                standing.licence.allowed,
                standing.licence.note,
            )
        models[key].generations += 1
    return sorted(models.values(), key=lambda m: -m.generations)


def photos_without_rights(ctx: RunContext, photo_ids: set[str]) -> dict[str, str]:
    """The night's model photos whose release does not allow storefront images now, each with why."""
    lookup = PhotoTermsLookup(ctx.settings)
    with ctx.ledger.session() as session:
        refused = {photo: lookup(session, photo) for photo in sorted(photo_ids)}
    return {photo: terms.note for photo, terms in refused.items() if not terms.allowed}


def releases_ending(ctx: RunContext) -> list[str]:
    """The model releases that end within ``TRYON_RIGHTS_WARN_DAYS``, in words (the rights DAG
    withdraws their images the day after)."""
    today = datetime.now(UTC).date()
    with ctx.ledger.session() as session:
        ending = expiring_releases(session, ctx.settings, today, ctx.settings.rights_warn_days)
    return [release.describe(today) for release in ending]


def check_inputs_add_up(date: str, listing: DropListing, garments: list[Garment]) -> None:
    """Every input the drop lists (each SKU folder and each file at its root) has exactly one
    ledger row, and every row is in a terminal state; otherwise the report refuses to claim it."""
    listed = listing.input_labels()
    recorded = sorted(g.sku for g in garments if g.state != GarmentState.WITHDRAWN.value)  # withdrawn: left the drop
    problems = []
    if listed != recorded:
        unrecorded = sorted(set(listed) - set(recorded))
        unlisted = sorted(set(recorded) - set(listed))
        problems.append(
            f"the drop lists {len(listed)} inputs, the ledger records {len(recorded)}"
            + (f"; never recorded: {', '.join(unrecorded)}" if unrecorded else "")
            + (f"; recorded but not in the drop: {', '.join(unlisted)}" if unlisted else "")
        )
    open_states = sorted(f"{g.sku} ({g.state})" for g in garments if g.state not in _TERMINAL)
    if open_states:
        problems.append(f"not in a terminal state: {', '.join(open_states)}")
    if problems:
        raise AssertionError(f"report for {date} does not add up: " + "; ".join(problems))


def drop_wait(ctx: RunContext, date: str, listing: DropListing, records: list[StageRecord]) -> DropWait:
    """Whether the drop was marked complete and what the run's wait for it came to
    (``tasks.airflow_glue.drop_ready``): ready, not_waited (``drop_wait_s`` 0), no_drop (the wait ran out: the
    run processed nothing, and the inputs listed are ``waiting``), error. A run of the stages
    without the wait (no record) counts as processed."""
    waits = stage_tasks(records, "wait_for_drop")
    details = waits[-1].details if waits else {}
    outcome = details.get("outcome")
    processed = outcome not in ("no_drop", "error")
    return DropWait(
        marker=drop_marker_key(date, ctx.settings.drop_marker),
        marked_complete=listing.marker_key is not None,
        outcome=None if outcome is None else str(outcome),
        processed=processed,
        wait_s=_seconds(details.get("wait_s")),
        waited_s=_seconds(details.get("waited_s")),
        waiting=[] if processed else listing.input_labels(),
    )


def _seconds(figure: object) -> int | float | None:
    return figure if isinstance(figure, int | float) and not isinstance(figure, bool) else None


def looks_summary(ctx: RunContext, date: str, garments: list[Garment]) -> LooksSummary:
    """The drop's looks (docs/looks.md): each garment's look file (its partners and their
    scores) and the full-outfit images with their pairing, score and state."""
    with ctx.ledger.session() as session:
        outfits = list(
            session.scalars(select(LookGeneration).where(LookGeneration.drop_date == date).order_by(LookGeneration.look_id))
        )
        # only a garment on the storefront has a look file: the others are never asked for
        live = set(session.scalars(select(Publication.sku).where(Publication.drop_date == date, Publication.state == LIVE)))
    files = []
    for garment in (g for g in garments if g.sku in live):
        document = read_look_file(ctx.store, garment.sku)
        if document is not None and document.drop_date == date:
            files.append(
                LookFileLine(garment.sku, document.model.version, [Partner(look.sku, look.score) for look in document.looks])
            )
    return LooksSummary(
        files=files,
        outfits_by_state=dict(sorted(Counter(o.state for o in outfits).items())),
        outfits=[
            OutfitLine(
                generation_id=o.generation_id,
                look_id=o.look_id,
                photo_id=o.photo_id,
                upper_sku=o.upper_sku,
                lower_sku=o.lower_sku,
                score=o.score,
                looks_model=o.looks_model_version,
                engine=o.engine,
                state=o.state,
                reason=o.reason,
                key=o.object_key,
            )
            for o in outfits
        ],
    )


def build_summary(ctx: RunContext, date: str) -> RunSummary:
    with ctx.ledger.session() as session:
        garments = list(session.scalars(select(Garment).where(Garment.drop_date == date).order_by(Garment.sku)))
        generations = list(
            session.scalars(select(Generation).where(Generation.drop_date == date).order_by(Generation.sku, Generation.photo_id))
        )
        photos = list(session.scalars(select(ModelPhoto).order_by(ModelPhoto.photo_id)))
    # the drop listed again, read by the same rules as discovery read it: an input that arrived
    # after discovery is never recorded, and the report refuses to claim the drop adds up
    records, reading, listing = stage_records(ctx, date), kept_reading(ctx, date), list_drop(ctx, date)
    drop = drop_wait(ctx, date, listing, records)
    drop.warnings = reading.warnings if reading is not None else []
    if drop.processed:
        check_inputs_add_up(date, listing, garments)
    tally = spot_tally(ctx.ledger, date), spot_tally(ctx.ledger)
    return RunSummary(
        date=date,
        drop=drop,
        inputs=len(garments),
        manifest=storefront_manifest_key(date),
        models=models_used(ctx, generations),
        spot_checks=SpotCheckTally(*(SpotChecks(t.checked, t.missed) for t in tally)),
        garments_by_state=_tally(g.state for g in garments),
        garments_by_category=_tally(g.category or "unknown" for g in garments),
        category_by_state={
            category: _tally(g.state for g in garments if (g.category or "unknown") == category)
            for category in sorted({g.category or "unknown" for g in garments})
        },
        generations_by_state=_tally(g.state for g in generations),
        flagged_by_cause=_tally(flag_cause(g.reason) for g in generations if g.state == GenerationState.FLAGGED.value),
        photos_without_rights=photos_without_rights(ctx, {g.photo_id for g in generations}),
        releases_ending=releases_ending(ctx),
        credentials=credentials_tally(
            ctx, [e.key for e in manifest_entries(ctx, date)] + [e.key for e in outfit_entries(ctx, date)]
        ),
        model_photos_by_state=_tally(p.state for p in photos),
        garments=[GarmentLine(g.sku, g.category, g.state, g.reason, g.source_key) for g in garments],
        generations=[
            GenerationLine(
                generation_id=g.generation_id,
                sku=g.sku,
                photo_id=g.photo_id,
                category=g.category,
                state=g.state,
                reason=g.reason,
                engine=g.engine,
                model_version=g.model_version,
                key=g.object_key,
            )
            for g in generations
        ],
        model_photos=[PhotoLine(p.photo_id, p.state, p.reason, list(p.categories)) for p in photos],
        looks=looks_summary(ctx, date, garments),
        stages=stage_times(records),
        failed_stages=[FailedStage(f.label, f.error) for f in stage_failures(records)],
        tryon_tasks=[
            from_document(TryonTask, {"task": r.part, "attempt": r.attempt, "seconds": r.seconds, "ok": r.ok, **r.details})
            for r in stage_tasks(records, "tryon")
        ],
    )


def _tally(states: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(states).items()))


def _histograms(ctx: RunContext, date: str) -> tuple[str | None, list[int]]:
    """The QC metrics histograms written beside the report (its file name), when QC wrote a
    metrics table for the date, and the QC suite versions that judged the table's rows."""
    key = qc_table_key(date)
    if not ctx.store.exists(key):
        return None, []
    table = pd.read_parquet(io.BytesIO(ctx.store.get_bytes(key)))
    versions = sorted(int(v) for v in table["qc_suite_version"].dropna().unique()) if "qc_suite_version" in table else []
    png = metrics_histograms(table, current_suite(ctx))
    if png is None:
        return None, versions
    ctx.store.put_bytes(report_key(date, HISTOGRAMS), png, "image/png")
    return HISTOGRAMS, versions


Shown = TypeVar("Shown", GenerationLine, OutfitLine)  # a line of the summary with an image


def _thumbnails(ctx: RunContext, date: str, lines: Sequence[Shown]) -> list[tuple[Shown, str]]:
    """The published and flagged images, each with its thumbnail's path relative to the
    report; a thumbnail QC did not leave (an image measured before thumbnails were kept) is made."""
    shown = [
        line for line in lines if line.state in (GenerationState.PUBLISHED.value, GenerationState.FLAGGED.value) and line.key
    ]
    kept = set(ctx.store.list_keys(report_key(date, REPORT_THUMBS)))
    for line in shown:
        if report_thumbnail_key(date, line.generation_id) not in kept:
            assert line.key is not None
            ctx.store.put_bytes(
                report_thumbnail_key(date, line.generation_id),
                thumbnail_jpeg(decode_rgb(ctx.store.get_bytes(line.key))),
                "image/jpeg",
            )
    return [(line, f"{REPORT_THUMBS}{line.generation_id}.jpg") for line in shown]


def _pages(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def write_report(ctx: RunContext, date: str) -> ReportWritten:
    """``summary.json`` and ``report.html`` (the summary first, then the first page of the
    thumbnails and of the garments), with the further pages as ``generations-NNNN.html`` and
    ``garments-NNNN.html`` and the images as files beside them: a night of 20,000 generations
    opens as fast as one of ten. It only reads: the run's end (``tasks.run_end``) settles the
    garments a failed stage stopped before it."""
    summary = build_summary(ctx, date)
    thumbnails = _pages(_thumbnails(ctx, date, summary.generations), PAGE_THUMBNAILS)
    outfits = _thumbnails(ctx, date, summary.looks.outfits)
    garments = _pages(summary.garments, PAGE_ROWS)
    histograms, qc_suites = _histograms(ctx, date)
    html = TEMPLATES.get_template("report.html").render(
        summary=summary,
        thumbnails=thumbnails[0],
        thumbnails_total=sum(map(len, thumbnails)),
        page_size=PAGE_THUMBNAILS,
        generation_pages=len(thumbnails),
        garments=garments[0],
        garment_pages=len(garments),
        histograms=histograms,
        qc_suites=qc_suites,
        outfits=outfits,
        data_docs=DATA_DOCS_INDEX if ctx.store.exists(data_docs_key(date)) else None,  # relative to the report
        cause_words=CAUSE_WORDS,
    )
    page = TEMPLATES.get_template("report_page.html")
    for kind, pages in (("generations", thumbnails), ("garments", garments)):
        for number, items in enumerate(pages[1:], start=2):
            ctx.store.put_bytes(
                report_key(date, f"{kind}-{number:04d}.html"),
                page.render(summary=summary, kind=kind, items=items, current=number, pages=len(pages)).encode(),
                "text/html; charset=utf-8",
            )
    ctx.store.put_json(report_key(date, SUMMARY), to_document(summary))
    ctx.store.put_bytes(report_key(date, "report.html"), html.encode(), "text/html; charset=utf-8")
    return ReportWritten(report_key(date, SUMMARY), report_key(date, "report.html"), summary.garments_by_state, summary.inputs)


@dataclass
class ReportWritten:
    """What the report task hands Airflow: where the report is, and the night's counts."""

    summary: str
    report: str
    garments_by_state: dict[str, int]
    inputs: int
