"""The catalogue team's commands: the demo, a drop date's run and status, the model-photo
library, the looks model, a drop's garment sheet."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tasks.cli.common import (
    RELEASES_FILE,
    _write_sheet,
    add_photos,
    drop_lease,
    drop_summary,
    finish,
    parse_date,
    pipeline,
    run_and_say,
    run_params,
    upload_samples,
    yesterday,
)
from tasks.doctor import preflight
from tasks.progress import repeating
from tasks.settings import Settings, get_settings


def _export_demo(store, drop_date: str, folder: Path) -> None:
    from tasks.catalog.storefront_manifest import read_manifest
    from tasks.qc.data_docs import DATA_DOCS
    from tasks.storage import REPORT_THUMBS, report_key, review_prefix, storefront_manifest_key

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    prefix = report_key(drop_date, "")
    for key in store.list_keys(prefix):  # the report, its pages and the images it shows
        name = key[len(prefix) :]
        if name == "summary.json" or name.endswith((".html", ".png")) or name.startswith((REPORT_THUMBS, DATA_DOCS)):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(store.get_bytes(key))
    manifest = store.get_json(storefront_manifest_key(drop_date))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for key in read_manifest(manifest).keys():
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))
    for key in store.list_keys(review_prefix(drop_date)):
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))


def cmd_demo(args: argparse.Namespace) -> int:
    # the demo shows the pipeline: no full-outfit images of its preview engine unless asked (TRYON_OUTFITS=always)
    # a demonstration on research photos is non-commercial use; the sample photos' releases allow
    # previews only, so nothing of it reaches the storefront whatever the licences say
    os.environ.setdefault("TRYON_DEPLOYMENT_USE", "non_commercial")
    settings = get_settings()
    preflight(settings)
    with drop_lease(settings, args.date) as lease, pipeline(settings) as settings:
        print(f"uploaded {upload_samples(settings, args.date)} sample files for drop {args.date}")
        # nothing of the demo reaches the storefront, whose garments are what look files list: the
        # looks model would serve only full outfits, so it is trained when the engine makes them
        no_outfits = _why_no_outfits(settings)
        if no_outfits is not None:
            print(
                f"looks: the demo trains no looks model, which only full outfits would use here: {no_outfits}; `tryon looks train` trains one"
            )
        library = run_and_say("model_library", conf={"looks": no_outfits is None})
        state = run_and_say("garment_drop", args.date, lease)
        summary = drop_summary(settings, args.date)
        from tasks.storage import ObjectStore

        notes: tuple[str, ...] = ()
        if summary is not None:
            _export_demo(ObjectStore.from_settings(settings), args.date, Path("demo-output"))
            notes = (
                f"report:   {Path('demo-output/report.html').resolve()}",
                f"manifest: {Path('demo-output/manifest.json').resolve()}",
            )
        if library != "success":
            print("error: model_library failed: `tryon library build` shows each photo's state", file=sys.stderr)
            return 1
        return finish(settings, args.date, state, summary, notes)


def _why_no_outfits(settings: Settings) -> str | None:
    from tasks.inference.factory import get_engine
    from tasks.looks.outfit_tryon import why_no_outfits

    return why_no_outfits(settings, get_engine(settings).release)


def cmd_run(args: argparse.Namespace) -> int:
    from tasks.run_overrides import apply_run_overrides

    settings = get_settings()
    # the command waits for the drop's marker only when asked; the scheduled DAG always waits
    params = {"drop_wait_s": settings.drop_wait_s if args.wait is True else args.wait or 0, **run_params(args)}
    preflight(apply_run_overrides(settings, params))
    with drop_lease(settings, args.date) as lease, pipeline(settings) as settings:
        with _countdown(apply_run_overrides(settings, params), args.date):
            state = run_and_say("garment_drop", args.date, {**params, **lease})
        return finish(settings, args.date, state, drop_summary(settings, args.date))


@contextmanager
def _countdown(settings: Settings, drop_date: str) -> Iterator[None]:
    """While a run waits for a drop's marker (``tasks.airflow_glue.drop_ready``), a line after
    ten seconds, then every ten seconds (every minute while more than two minutes are left),
    saying how long the wait has left."""
    from tasks.storage import ObjectStore, drop_marker_key

    store, marker = ObjectStore.from_settings(settings), drop_marker_key(drop_date, settings.drop_marker)
    if store.exists(marker):
        yield
        return
    if not settings.drop_wait_s:
        print(f"drop {drop_date} is not marked complete ({marker} is not there): taken as it is (--wait waits for it)")
        yield
        return
    print(f"drop {drop_date} is not marked complete ({marker} is not there): waiting up to {settings.drop_wait_s} s for it")
    deadline = time.monotonic() + settings.drop_wait_s

    def interval() -> float:
        return 10 if deadline - time.monotonic() <= 120 else 60

    def count() -> float | None:
        if store.exists(marker):
            print(f"drop {drop_date}: {marker} is there", flush=True)
            return None
        left = deadline - time.monotonic()
        print(f"drop {drop_date}: waiting for {marker}, {max(left, 0):.0f} s left", flush=True)
        return interval() if left > 0 else None

    with repeating(10, count):  # the first line after ten seconds, then as ``interval`` says
        yield


def cmd_status(args: argparse.Namespace) -> int:
    from tasks.ledger import ledger_from_settings

    settings = get_settings()
    ledger = ledger_from_settings(settings)
    ledger.claim_bucket(settings.bucket, record=False)  # another bucket's states are not this one's
    garments = ledger.garments(args.date)
    if not garments:
        print(f"no garments recorded for drop {args.date}")
        return 1
    generations = ledger.generations(args.date)
    print(
        f"drop {args.date}: {len(garments)} garments: "
        + ", ".join(f"{n} {s}" for s, n in sorted(Counter(g.state for g in garments).items()))
    )
    print("generations: " + (", ".join(f"{n} {s}" for s, n in sorted(Counter(g.state for g in generations).items())) or "none"))
    for garment in garments:
        print(f"  {garment.sku:<24} {garment.category or '-':<11} {garment.state:<12} {garment.reason or ''}")
    return 0


def cmd_library_add(args: argparse.Namespace) -> int:
    paths = [p for p in args.paths if p.is_file()] + [
        q for p in args.paths if p.is_dir() for q in sorted(p.iterdir()) if q.is_file()
    ]
    with pipeline(get_settings(), airflow=False) as settings:
        print(f"added {add_photos(settings, paths)} photos to library/photos/")
        if any(p.name == RELEASES_FILE for p in paths):
            print("and their talent releases to library/releases.csv (recorded by the next library build)")
    return 0


def cmd_library_build(args: argparse.Namespace) -> int:
    from tasks.catalog.library import read_index
    from tasks.catalog.library_build import read_last_build
    from tasks.context import RunContext
    from tasks.looks.store import current_card
    from tasks.preprocess.library_stage import describe_build

    with pipeline(get_settings()) as settings:
        ctx = RunContext.from_settings(settings)
        before, looks_before = read_last_build(ctx), current_card(ctx)
        state = run_and_say("model_library", None, {"rebuild": not args.if_changed})
        rows, build, card = read_index(ctx), read_last_build(ctx), current_card(ctx)
    if build is None:
        print("library: no build was recorded (the model_library run failed before its index)")
    elif state == "success" and build == before:
        print(f"library: the photos have not changed since the last build ({build.built or 'time not recorded'}): nothing to do")
    if build is not None:
        print(describe_build(build))
    for row in rows:
        suitable = ", ".join(c for c, ok in sorted(row.suitable.items()) if ok) or "-"
        print(f"  {row.photo_id:<20} {row.state:<9} {suitable:<36} {row.reason or ''}")
    print(_looks_line(card, looks_before))
    return 0 if state == "success" else 1


def _looks_line(card, before) -> str:
    if card is None:
        return "looks: no compatibility model (fewer than 3 photos show an outfit; docs/looks.md)"
    new = "trained" if before is None or before.version != card.version else "unchanged"
    return f"looks: compatibility model {card.version} ({new}, {card.outfits} outfits; tryon looks show)"


def cmd_looks_train(args: argparse.Namespace) -> int:
    from tasks.context import RunContext
    from tasks.looks.train_stage import MIN_OUTFITS, train_looks

    with pipeline(get_settings(), airflow=False) as settings:
        result = train_looks(RunContext.from_settings(settings), force=args.force)
    if result.card is None:
        print(f"looks: {result.outfits} library photos show an outfit (a pair of parts); training needs {MIN_OUTFITS}")
        return 1
    if result.outcome == "unchanged":
        print(f"looks: the outfits have not changed since {result.card.version} was trained: nothing to do (--force trains anew)")
    _print_card(result.card)
    return 0


def cmd_looks_show(args: argparse.Namespace) -> int:
    from tasks.context import RunContext
    from tasks.looks.store import current_card

    with pipeline(get_settings(), airflow=False) as settings:
        card = current_card(RunContext.from_settings(settings))
    if card is None:
        print("looks: no compatibility model yet (tryon looks train, or model_library's looks task, trains one)")
        return 1
    _print_card(card)
    return 0


def _print_card(card) -> None:
    import yaml

    from tasks.looks.training import evaluation_table

    print(f"looks model {card.version} ({'released' if card.released else 'preview'}), trained {card.trained}")
    print(f"  weights sha256 {card.sha256}\n  training data sha256 {card.training_data_sha256} ({card.outfits} outfits)")
    print(f"  embedding backend {card.embedding_backend}")
    print(evaluation_table(card.evaluation))
    entry = card.registry_entry()
    fields = {"backend": entry.backend, "uri": entry.uri, "sha256": entry.sha256, "licence": entry.licence}
    print("registry entry (release it: released: true, and TRYON_LOOKS_MODEL=" + entry.name + "):")
    print(yaml.safe_dump({"models": {entry.name: {**fields, "version": entry.version, "config": entry.config}}}, sort_keys=False))


def cmd_library_erase(args: argparse.Namespace) -> int:
    """Run model_library with the ``erase`` param: the photo and all made from it go, then the
    index is built without it; the erasure record is printed."""
    from sqlalchemy import select

    from tasks.context import RunContext
    from tasks.erasure import erasure_findings
    from tasks.ledger import Erasure
    from tasks.storage import library_photo_id

    conf = {"erase": args.photo, "erase_reason": args.reason, "erased_by": args.by}
    with pipeline(get_settings()) as settings:
        state = run_and_say("model_library", None, conf)
        ctx = RunContext.from_settings(settings)
        with ctx.ledger.session() as session:
            record = session.scalars(
                select(Erasure).where(Erasure.photo_id == library_photo_id(args.photo)).order_by(Erasure.id.desc())
            ).first()
        if state != "success" or record is None:
            print(f"error: {args.photo} was not erased (tryon status, or the model_library run's log, says why)", file=sys.stderr)
            return 1
        left = [key for erasure, key in erasure_findings(ctx) if erasure.id == record.id]
    print(
        f"erased {record.photo_id} (sha256 {record.photo_sha256}) at {record.erased_at:%Y-%m-%d %H:%M:%S} UTC "
        f"for {record.erased_by}: {record.reason}"
    )
    print(
        f"  {len(record.generation_ids)} generation(s) and {len(record.removed)} object(s) removed; the index rebuilt without it"
    )
    print(
        f"  audit: {'nothing derived from it remains' if not left else f'{len(left)} object(s) remain: ' + ', '.join(left[:5])}"
    )
    return 0 if not left else 1


def cmd_library_sheet(args: argparse.Namespace) -> int:
    from tasks.preprocess.contact_sheet import render_sheet

    return _write_sheet(args.out, render_sheet)


def cmd_garments_sheet(args: argparse.Namespace) -> int:
    from tasks.preprocess.contact_sheet import render_garment_sheet

    return _write_sheet(args.out or Path(f"garments-{args.date}.png"), lambda ctx: render_garment_sheet(ctx, args.date))


def register(commands: Any) -> None:
    """The subcommands demo, run, status, library, looks and garments."""
    demo = commands.add_parser("demo", help="run the sample drop end to end on the embedded default (writes ./demo-output/)")
    demo.add_argument(
        "--date", type=parse_date, default=yesterday(), help="drop date to file the sample under (default: yesterday, UTC)"
    )
    demo.set_defaults(func=cmd_demo)
    run = commands.add_parser("run", help="run garment_drop for one drop date (embedded S3 unless TRYON_S3_ENDPOINT_URL is set)")
    run.add_argument("--date", type=parse_date, required=True, help="drop date, YYYY-MM-DD")
    run.add_argument(
        "--wait",
        nargs="?",
        const=True,
        type=int,
        metavar="SECONDS",
        help="wait for the drop's _READY marker, up to SECONDS (default TRYON_DROP_WAIT_S), with a countdown; "
        "without it a drop not marked complete is taken as it is",
    )
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="a run param (docs/backfill.md)")
    run.set_defaults(func=cmd_run)
    status = commands.add_parser("status", help="show the ledger's record of a drop date")
    status.add_argument("--date", type=parse_date, required=True, help="drop date, YYYY-MM-DD")
    status.set_defaults(func=cmd_status)
    library = commands.add_parser("library", help="the model-photo library").add_subparsers(dest="library_command", required=True)
    add = library.add_parser(
        "add", help="upload model photos (files or folders) to library/photos/, and a releases.csv to library/releases.csv"
    )
    add.add_argument(
        "paths", nargs="+", type=Path, help="photo files or folders of them; a file named releases.csv holds their releases"
    )
    add.set_defaults(func=cmd_library_add)
    build = library.add_parser("build", help="run model_library: preprocess new photos, cluster, write the index")
    build.add_argument(
        "--if-changed",
        action="store_true",
        help="only when the photos (or the preprocessing backends) changed since the last build, as the DAG's schedule does",
    )
    build.set_defaults(func=cmd_library_build)
    erase = library.add_parser(
        "erase",
        help="erase a model photo and everything made from it (storefront and review images, generations, artefacts), "
        "keeping an erasure record (docs/rights.md)",
    )
    erase.add_argument("photo", help="the photo's id or file name")
    erase.add_argument("--reason", required=True, help="why (kept in the erasure record), e.g. 'GDPR request 2026-118'")
    erase.add_argument("--by", default=getpass.getuser(), help="who asked for it (default: you)")
    erase.set_defaults(func=cmd_library_erase)
    sheet = library.add_parser("sheet", help="draw every photo's views with keypoints and masks into one PNG")
    sheet.add_argument("--out", type=Path, default=Path("library-contact-sheet.png"), help="where to write the PNG")
    sheet.set_defaults(func=cmd_library_sheet)
    looks = commands.add_parser("looks", help="outfit compatibility (complete the look)").add_subparsers(
        dest="looks_command", required=True
    )
    looks_train = looks.add_parser(
        "train", help="embed the library photos' outfits and train a compatibility model when they changed"
    )
    looks_train.add_argument("--force", action="store_true", help="train even when the outfits have not changed")
    looks_train.set_defaults(func=cmd_looks_train)
    looks.add_parser("show", help="print the current compatibility model's card").set_defaults(func=cmd_looks_show)
    garments = commands.add_parser("garments", help="a drop's garments").add_subparsers(dest="garments_command", required=True)
    garment_sheet = garments.add_parser(
        "sheet", help="draw every garment of a drop (photo, cut-out with its mask, state, notes) into one PNG"
    )
    garment_sheet.add_argument("date", type=parse_date, help="the drop date, YYYY-MM-DD")
    garment_sheet.add_argument("--out", type=Path, help="where to write the PNG (default garments-DATE.png)")
    garment_sheet.set_defaults(func=cmd_garments_sheet)
