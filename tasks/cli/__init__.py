"""``tryon``: the command line of the pipeline. The same stage code runs here as in Airflow.

tryon demo [--date D]     embedded S3 + sample drop + the DAG in-process -> ./demo-output/
tryon run --date D [--wait [S]] [--set KEY=VALUE]
                          run garment_drop for one drop date (--wait: for drops/D/_READY; exit 3: no drop)
tryon status --date D     what the ledger says about a drop date
tryon doctor              preflight checks in seconds: S3, the ledger, the models, the Airflow home
tryon airflow ui [--port P]
                          Airflow's UI, scheduler and triggerer on the project's Airflow home (Ctrl-C stops it)
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
tryon qc calibrate [--benchmark FILE] [--dry-run]
                          fit a new QC suite version on reviewers' decisions; compare on held-out folds
tryon qc promote N --reason WHY
                          make suite version N current (who and why in the ledger)
tryon qc suites           the QC suite versions and which is current
tryon models list|hash|pull|convert|random
                          the model registry: entries, hashes, S3 -> local cache, .pth -> safetensors,
                          random-weight stand-ins (LaDI-VTON and the evaluation's feature networks)
"""

from __future__ import annotations

import argparse
import gc
import sys

from tasks.cli import catalogue, engineering, qa, qc
from tasks.cli.common import add_photos, drop_summary, finish, pipeline, upload_samples

__all__ = ["add_photos", "build_parser", "drop_summary", "finish", "main", "pipeline", "upload_samples"]


class _Version(argparse.Action):
    """``--version``: the package's version and the engine in use (``TRYON_ENGINE``), read when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import version

        from tasks.settings import get_settings

        print(f"tryon-pipeline {version('tryon-pipeline')}, engine {get_settings().engine} (TRYON_ENGINE)")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The commands, grouped by who uses them: the catalogue team's, the data engineers', QA's."""
    parser = argparse.ArgumentParser(prog="tryon", description="Batch virtual try-on: garment drops to storefront images.")
    parser.add_argument("--version", action=_Version, help="print the version and the engine the settings choose, and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (catalogue, engineering, qa, qc):
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tasks.doctor import PreflightFailed
    from tasks.ledger import ForeignBucket
    from tasks.models import ModelRegistryError
    from tasks.run_lease import LeaseHeld
    from tasks.settings import DropDateRefused
    from tasks.stopping import stop_on_signals

    try:
        if getattr(args, "own_signals", False):  # a server that stops itself cleanly (review serve, airflow ui)
            return args.func(args)
        with stop_on_signals(f"tryon {args.command}", lambda: None):  # Ctrl-C or SIGTERM: one line, within seconds
            return args.func(args)
    except PreflightFailed as failed:  # before anything started: each check that failed, naming its setting
        for finding in failed.findings:
            print(f"error: {finding.check}: {finding.line}", file=sys.stderr)
        print("(tryon doctor runs every check)", file=sys.stderr)
        return 2
    except (
        ModelRegistryError,
        LeaseHeld,
        DropDateRefused,
        ForeignBucket,
    ) as error:  # WeightsError too: a message that names what is wrong
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        # Whatever the command loaded (Airflow, torch, Great Expectations, boto3) is kept alive to the
        # end: leave it out of the interpreter's last collection, which otherwise walks it for 4-5 s
        # after the closing summary.
        gc.freeze()
