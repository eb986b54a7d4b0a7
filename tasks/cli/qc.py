"""QC's calibration commands: fit the suite to what people labelled, compare on held-out folds,
promote a version (who and why, in the ledger), list the versions."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.cli.common import pipeline
from tasks.settings import get_settings


def _rate(flagged: int, total: int) -> str:
    return f"{flagged}/{total} ({flagged / total:.1%})" if total else "-"


def comparison(folds: list[Any]) -> list[str]:
    """The held-out figures of the prior and the fitted suite, pooled over the folds and per
    failure mode, as table lines."""
    lines = [f"{'held out':<26} {'current: caught':>22} {'new: caught':>22}"]
    for side in ("negatives", "positives"):
        flagged = f"{side}_flagged"
        title = "negatives flagged" if side == "negatives" else "positives flagged (false)"
        before = _rate(sum(getattr(f.prior, flagged) for f in folds), sum(getattr(f.prior, side) for f in folds))
        after = _rate(sum(getattr(f.fitted, flagged) for f in folds), sum(getattr(f.fitted, side) for f in folds))
        lines.append(f"{title:<26} {before:>22} {after:>22}")
    for mode in sorted({mode for f in folds for mode in f.fitted.by_failure}):
        before = _rate(*(sum(f.prior.by_failure.get(mode, [0, 0])[i] for f in folds) for i in (1, 0)))
        after = _rate(*(sum(f.fitted.by_failure.get(mode, [0, 0])[i] for f in folds) for i in (1, 0)))
        lines.append(f"  {mode:<24} {before:>22} {after:>22}")
    return lines


def cmd_qc_calibrate(args: argparse.Namespace) -> int:
    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.qc.calibrate import cross_validate, fit
        from tasks.qc.labels import benchmark_labels, ledger_labels
        from tasks.qc.suite_versions import current_suite, next_version, store_candidate

        ctx = RunContext.from_settings(settings)
        prior = current_suite(ctx)
        labels = (benchmark_labels(args.benchmark) if args.benchmark else []) + ledger_labels(ctx)
        reviewed = sum(label.group("source") == "review" for label in labels)
        if not labels:
            print(
                "error: nothing to calibrate on: no reviewer decisions with a metrics row, and no --benchmark table",
                file=sys.stderr,
            )
            return 2
        version = next_version(ctx)
        fitted = fit(prior, labels, version)
        print(
            f"QC suite v{prior.version} (current) against v{version} fitted on {len(labels)} labelled images "
            f"({reviewed} from reviewers' decisions, {len(labels) - reviewed} from the benchmark)\n"
        )
        moved = [(old, new) for old, new in zip(prior.expectations, fitted.expectations, strict=True) if old != new]
        for old, new in moved:
            scope = f" ({old.category})" if old.category else ""
            print(f"  {old.name}{scope}: {old.threshold()} -> {new.threshold()}")
        if not moved:
            print("  no bound moved: the labels agree with the current suite")
        print()
        for line in comparison(cross_validate(prior, labels, version=version)):
            print(line)
        if args.dry_run or not moved:
            return 0
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        header = (
            f"QC suite v{version}: calibrated by `tryon qc calibrate` on {stamp} from v{prior.version}\n"
            f"on {len(labels)} labelled images ({reviewed} reviewers' decisions).\n"
            f"Current only once promoted: tryon qc promote {version} --reason ..."
        )
        key = store_candidate(ctx, fitted, header)
        print(
            f"\nwrote QC suite v{version} to s3://{settings.bucket}/{key}; make it current with:\n"
            f"  tryon qc promote {version} --reason 'WHY'"
        )
    return 0


def cmd_qc_promote(args: argparse.Namespace) -> int:
    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.qc.suite_versions import SuiteVersionError, promote

        try:
            row = promote(RunContext.from_settings(settings), args.version, args.operator, args.reason or "")
        except SuiteVersionError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"QC suite v{row.version} is current (was v{row.previous_version}), promoted by {row.operator}: {row.reason}")
        print("the next QC run judges every generation not yet judged by it again")
    return 0


def cmd_qc_suites(args: argparse.Namespace) -> int:
    with pipeline(get_settings(), airflow=False) as settings:
        from tasks.context import RunContext
        from tasks.qc.suite_versions import versions

        for found in versions(RunContext.from_settings(settings)):
            mark = "*" if found.current else " "
            promoted = (
                f"  promoted by {found.promoted_by} on {found.promoted_at:%Y-%m-%d}: {found.reason}" if found.promoted_by else ""
            )
            print(f"{mark} v{found.version:<4} {found.source}{promoted}")
    return 0


def register(commands: Any) -> None:
    """The subcommands qc."""
    qc = commands.add_parser("qc", help="the QC suite: calibrate on labelled images, promote a version, list them")
    sub = qc.add_subparsers(dest="qc_command", required=True)
    calibrate = sub.add_parser(
        "calibrate",
        help="fit a new suite version on reviewers' decisions (and the benchmark), compare it with the current one on held-out folds",
    )
    calibrate.add_argument("--benchmark", type=Path, help="the QC benchmark's labelled table (bench/qc.py --table FILE)")
    calibrate.add_argument("--dry-run", action="store_true", help="print the comparison, write no version")
    calibrate.set_defaults(func=cmd_qc_calibrate)
    promote = sub.add_parser("promote", help="make a calibrated version the current QC suite (recorded with who and why)")
    promote.add_argument("version", type=int)
    promote.add_argument("--reason", required=True, help="why: recorded in the ledger (qc_suite_promotions)")
    promote.add_argument("--operator", default=getpass.getuser(), help="who decides (default: this user)")
    promote.set_defaults(func=cmd_qc_promote)
    suites = sub.add_parser("suites", help="the QC suite versions: packaged, calibrated, which is current")
    suites.set_defaults(func=cmd_qc_suites)
