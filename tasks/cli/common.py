"""What every command group shares: the embedded S3 and the project-local Airflow around a
command, a drop date's lease, running a DAG here and saying how it ended, the sample drop."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from datetime import date as date_type
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.settings import Settings, get_settings

if TYPE_CHECKING:
    from tasks.catalog.run_summary import RunSummary

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
RELEASES_FILE = "releases.csv"  # a library folder's talent releases (tasks.catalog.releases)
REVIEW_PORT = 8090  # tryon review serve's default port
EXIT_NO_DROP = 3  # a run (or every run of a backfill) found no drop for its date: nothing failed, nothing was done


def parse_date(value: str) -> str:
    try:
        return date_type.fromisoformat(value).isoformat()
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from error


def yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


def upload_samples(settings: Settings, drop_date: str) -> int:
    """Put the sample drop under drops/{date}/ and the sample model photos in the library, with
    their releases (``samples/releases.csv``: previews only)."""
    from tasks.storage import ObjectStore, drop_marker_key, drop_prefix

    store = ObjectStore.from_settings(settings)
    count = 0
    for path in sorted((SAMPLES / "drop").rglob("*")):
        if path.is_file():
            store.put_bytes(drop_prefix(drop_date) + path.relative_to(SAMPLES / "drop").as_posix(), path.read_bytes())
            count += 1
    # last, as the catalogue team does: the drop is complete (docs/intake.md)
    store.put_json(drop_marker_key(drop_date, settings.drop_marker), {"uploaded_by": "tryon demo", "files": count})
    # the sample photos' releases allow previews only: they are not the project's to publish
    return count + add_photos(settings, [*sorted((SAMPLES / "library").iterdir()), SAMPLES / RELEASES_FILE])


def add_photos(settings: Settings, paths: list[Path]) -> int:
    """Upload model photos to ``library/photos/``; a file named ``releases.csv`` is the photos'
    talent releases and goes to ``library/releases.csv`` (docs/rights.md). Returns the photos."""
    from tasks.storage import LIBRARY_RELEASES_KEY, ObjectStore, library_photos_prefix

    store = ObjectStore.from_settings(settings)
    photos = 0
    for path in paths:
        if path.name == RELEASES_FILE:
            store.put_bytes(LIBRARY_RELEASES_KEY, path.read_bytes(), "text/csv")
            continue
        store.put_bytes(library_photos_prefix() + path.name, path.read_bytes())
        photos += 1
    return photos


@contextmanager
def pipeline(settings: Settings, *, airflow: bool = True) -> Iterator[Settings]:
    """The configured S3 (or the embedded one, objects kept as files in .tryon/s3/<bucket>/) and, when
    asked, a migrated project-local Airflow. Yields the settings with the S3 endpoint filled."""
    from tasks.airflow_glue.runner import configure_airflow, migrate

    configure_airflow(settings)
    with ExitStack() as stack:
        if settings.s3_endpoint_url is None:
            from tasks.embedded_s3 import embedded_s3

            root = settings.home / "s3"
            endpoint = stack.enter_context(embedded_s3(settings, root))
            settings = settings.model_copy(update={"s3_endpoint_url": endpoint})
            print(f"embedded S3 at {endpoint} (bucket {settings.bucket!r} kept as files in {root / settings.bucket})")
        if airflow:
            migrate()
        yield settings


@contextmanager
def drop_lease(settings: Settings, drop_date: str) -> Iterator[dict[str, str]]:
    """This command's lease on a drop date (``tasks.run_lease``), taken before Airflow starts so
    a second run of the date refuses at once (:class:`LeaseHeld`); yields the run conf through
    which the DAG's tasks renew it. Released however the command ends, SIGTERM and Ctrl-C
    included (``tasks.stopping``: the process stops within seconds)."""
    from tasks.ledger import ledger_from_settings
    from tasks.run_lease import held, new_holder, release
    from tasks.stopping import stop_on_signals

    settings.check_drop_date(drop_date)
    ledger, holder = ledger_from_settings(settings), new_holder("cli")
    try:
        with (
            stop_on_signals(
                f"drop {drop_date}",
                lambda: release(ledger, drop_date, holder),
                "the batch in flight is abandoned, re-run to resume",
            ),
            held(ledger, drop_date, holder, settings.run_lease_s, take=True),
        ):
            yield {"lease": holder}
    finally:
        # a ledger that is down now leaves the lease held: the next run on this machine takes it
        # over at once (run_lease.dead_here), so nothing is printed after the line saying why the run failed
        release(ledger, drop_date, holder)


def run_and_say(dag_id: str, logical_date: str | None = None, conf: dict | None = None) -> str:
    """Run the DAG here, with progress lines while it runs, and say how it ended and how long it took."""
    started = time.monotonic()
    state = run_dag_with_progress(dag_id, logical_date, conf)
    print(f"{dag_id} run state: {state} ({time.monotonic() - started:.0f} s)", flush=True)
    return state


def run_dag_with_progress(dag_id: str, logical_date: str | None = None, conf: dict | None = None) -> str:
    from tasks.airflow_glue.runner import run_dag
    from tasks.progress import ticker

    with ticker(dag_id + (f" {logical_date}" if logical_date else "")):
        return run_dag(dag_id, logical_date, conf)


def drop_summary(settings: Settings, drop_date: str) -> RunSummary | None:
    """The date's summary.json, or None when there is none or the bucket cannot be read now (an
    S3 outage that failed the run may outlast it: that is said, not raised)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tasks.catalog.run_summary import read_summary
    from tasks.stage_times import describe_error
    from tasks.storage import ObjectStore

    try:
        return read_summary(ObjectStore.from_settings(settings), drop_date)
    except (BotoCoreError, ClientError) as error:
        print(f"drop {drop_date}: the report cannot be read now ({describe_error(error)})")
        return None


def why_failed(settings: Settings, drop_date: str) -> str:
    """The failed stage of the date's latest run and its error, in one line."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tasks.context import RunContext
    from tasks.stage_times import describe_error, stage_failures, stage_records

    try:
        failures = stage_failures(stage_records(RunContext.from_settings(settings), drop_date))
    except (BotoCoreError, ClientError) as error:
        return f"failed, and its stage records cannot be read now ({describe_error(error)}): re-run the date when S3 answers"
    if not failures:
        return (
            "it failed outside its stages (the report, or Airflow itself): see the task logs under "
            f"{Path(os.environ.get('AIRFLOW_HOME', settings.home / 'airflow')) / 'logs'}"
        )
    more = f" (and {len(failures) - 1} more failed task(s): see the report)" if len(failures) > 1 else ""
    return f"stage {failures[0].label} failed: {failures[0].error}{more}"


def finish(settings: Settings, drop_date: str, state: str, summary: RunSummary | None, notes: tuple[str, ...] = ()) -> int:
    """Print the drop's summary (then ``notes``) and, when its run failed, a last line naming
    the stage that failed and its error (never a traceback about a missing report)."""
    if summary is not None:
        print_summary(summary)
    else:
        print(f"drop {drop_date}: no report was written")
    for note in notes:
        print(note)
    if state == "success":
        return EXIT_NO_DROP if summary is not None and summary.drop.outcome == "no_drop" else 0
    sys.stdout.flush()
    print(f"error: garment_drop {drop_date} {why_failed(settings, drop_date)}", file=sys.stderr)
    return 1


def no_drop_reason(summary: RunSummary) -> str:
    """Why a date's run found no drop: an unfinished upload whose marker never came, or nothing at all."""
    from tasks.storage import drop_prefix

    drop = summary.drop
    waited = f"{drop.marker} did not appear within {drop.wait_s} s" if drop.wait_s else f"{drop.marker} is not there"
    if drop.waiting:
        return f"{waited} ({len(drop.waiting)} input(s) of an unfinished upload waiting)"
    return f"nothing is under {drop_prefix(summary.date)} and {waited}"


def print_summary(summary: RunSummary) -> None:
    drop = summary.drop
    if drop.outcome == "no_drop":
        print(f"drop {summary.date}: no drop: {no_drop_reason(summary)}; nothing processed")
        return
    counts = ", ".join(f"{n} {s}" for s, n in summary.garments_by_state.items())
    print(f"drop {summary.date}: {summary.inputs} garments: {counts}")
    print(f"generations: {', '.join(f'{n} {s}' for s, n in summary.generations_by_state.items()) or 'none'}")
    looks = summary.looks
    if looks.outfits or looks.files:
        outfits = ", ".join(f"{n} {s}" for s, n in looks.outfits_by_state.items()) or "none"
        print(f"looks: {len(looks.files)} look file(s) on the storefront; full-outfit images: {outfits}")
    for garment in summary.garments:
        if garment.reason:
            print(f"  {garment.sku}: {garment.state}: {garment.reason}")
    print_outcome_in_words(summary)
    for model in summary.models:
        kind = "released model" if model.released else "PREVIEW (nothing published without a reviewer)"
        print(f"images made by {model.model_version}: {kind}: {model.note}")
        if not model.licensed:
            print(f"  NOT LICENSED for this deployment's use, nothing of it can be published: {model.licence_note}")
    for line in summary.releases_ending:
        print(f"release ending: {line}")
    if summary.photos_without_rights:
        print(
            f"{len(summary.photos_without_rights)} model photo(s) whose release keeps their images off the storefront "
            "(previews and evaluation only; docs/rights.md):"
        )
        for photo, why in summary.photos_without_rights.items():
            print(f"  {photo}: {why}")


def print_outcome_in_words(summary: RunSummary) -> None:
    """What reached the storefront, what waits for a reviewer and why, and where review happens."""
    from tasks.storefront import CAUSE_WORDS

    published = summary.generations_by_state.get("published", 0)
    images = f"{published} image{'' if published == 1 else 's'}" if published else "nothing"
    print(f"storefront: {images} published for drop {summary.date}")
    waiting = sum(summary.flagged_by_cause.values())
    if waiting:
        causes = "; ".join(f"{n} {CAUSE_WORDS.get(c, c)}" for c, n in sorted(summary.flagged_by_cause.items()))
        print(f"review: {waiting} generation{'' if waiting == 1 else 's'} wait for a reviewer: {causes}")
        print(
            f"  open the review page: tryon review serve, then http://127.0.0.1:{REVIEW_PORT}/dates/"
            f"{summary.date} (reviewers: TRYON_REVIEWERS, docs/review.md)"
        )


def date_range(first: str, last: str) -> list[str]:
    start, end = date_type.fromisoformat(first), date_type.fromisoformat(last)
    if end < start:
        raise SystemExit(f"error: --to {last} is before --from {first}")
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def run_params(args: argparse.Namespace) -> dict:
    """The runs' params: the model version (a backfill's) and every --set KEY=VALUE, checked
    against the params' schemas before anything runs."""
    from tasks.run_overrides import check_params, model_version_overrides, parse_value

    model_version = getattr(args, "model_version", None)
    params = model_version_overrides(model_version) if model_version else {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        params[key] = parse_value(value)
    try:
        check_params(params)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from error
    return params


def _export_prefix(store, prefix: str, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for key in store.list_keys(prefix):
        target = folder / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))


def _write_sheet(out: Path, render) -> int:
    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.images import encode_png

        sheet = render(RunContext.from_settings(settings))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(encode_png(sheet))
    print(f"contact sheet: {out.resolve()} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0
