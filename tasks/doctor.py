"""Preflight checks (``tryon doctor``): is what the settings name there and usable, in seconds,
before a run finds out after minutes. Each check is one line; a failed one names the setting to
fix. Nothing is changed: no bucket is created, no schema migrated, no model fetched.

- **S3**: the endpoint answers, accepts the credentials, and holds the bucket (the embedded store
  of the demo is started by each command and needs nothing);
- **ledger**: the database answers, and its schema is one this code knows (behind is fine: the
  next command migrates it);
- **models**: the engine's registry entries (LaDI-VTON's weights) and the cut-out model are there;
- **Airflow home**: the project-local Airflow home can be written (a deployment's is its own).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tasks.settings import Settings

CONNECT_TIMEOUT_S = 3.0  # per check: the whole doctor answers within seconds


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    line: str  # what was found, in words; a failure names the setting to fix
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.check}: {self.line}"


def s3(settings: Settings, client: Any = None) -> tuple[bool, str]:
    """The endpoint answers, takes the credentials and holds the bucket, asked through ``client``
    (an Airflow connection's) or one made from the settings with the pipeline's retries, so a
    fault a run would ride through does not fail the check."""
    if settings.s3_endpoint_url is None and client is None:
        return embedded_bucket(settings)
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from tasks.storage import client_options

    url = settings.s3_endpoint_url or "S3"
    if settings.s3_endpoint_url is not None and not _answers(settings.s3_endpoint_url):
        # asked first: without an endpoint, botocore would blame missing credentials
        return False, f"cannot reach {url}: set TRYON_S3_ENDPOINT_URL"
    if client is None:
        config = Config(**client_options(settings), connect_timeout=CONNECT_TIMEOUT_S, read_timeout=CONNECT_TIMEOUT_S)
        client = boto3.client("s3", endpoint_url=url, region_name=settings.s3_region, config=config)
    try:
        client.head_bucket(Bucket=settings.bucket)
    except NoCredentialsError:
        return False, "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            return False, f"no bucket {settings.bucket!r} at {url}: set TRYON_BUCKET (the pipeline never creates one)"
        if status == 403:
            return (
                False,
                f"{url} refused the credentials for bucket {settings.bucket!r} (403): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )
        return False, f"{url} answered {status} for bucket {settings.bucket!r}: check TRYON_S3_ENDPOINT_URL"
    except BotoCoreError as error:  # nothing answered
        return False, f"cannot reach {url} ({type(error).__name__}): set TRYON_S3_ENDPOINT_URL"
    return True, f"bucket {settings.bucket!r} at {url}"


def _answers(url: str, tries: int = 3) -> bool:
    """Whether anything accepts a connection at ``url``'s host and port (a refusal is asked
    again twice, half a second apart: a restart is not a wrong endpoint)."""
    address = urlsplit(url)
    for attempt in range(tries):
        try:
            socket.create_connection(
                (address.hostname or "", address.port or (443 if address.scheme == "https" else 80)), CONNECT_TIMEOUT_S
            ).close()
            return True
        except ConnectionRefusedError:
            time.sleep(0.5 if attempt < tries - 1 else 0)
        except OSError:
            return False
    return False


def embedded_bucket(settings: Settings) -> tuple[bool, str]:
    """The embedded store: its bucket is a folder under ``home/s3``, made only at the store's first
    start (no bucket there yet), so a mistyped ``TRYON_BUCKET`` is named, never created."""
    root = settings.home / "s3"
    buckets = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if buckets and settings.bucket not in buckets:
        return (
            False,
            f"no bucket {settings.bucket!r} in the embedded store {root} (it holds {', '.join(buckets)}): set TRYON_BUCKET",
        )
    made = "" if buckets else " (made by the first command)"
    return (
        True,
        f"the embedded store (bucket {settings.bucket!r} kept as files in {root / settings.bucket}{made}), started by each command",
    )


def ledger(settings: Settings) -> tuple[bool, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.ledger import ForeignBucket
    from tasks.migrations import head_revision, known_revisions, schema_revision

    url = settings.resolved_ledger_url
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return True, f"{shown}: not made yet (the first command makes it)"
    connect_args = {"connect_timeout": int(CONNECT_TIMEOUT_S)} if parsed.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, connect_args=connect_args)
    try:
        revision = schema_revision(engine)
        recorded = _recorded_bucket(engine)
    except SQLAlchemyError as error:
        return False, f"cannot open {shown} ({type(getattr(error, 'orig', None) or error).__name__}): set TRYON_LEDGER_URL"
    finally:
        engine.dispose()
    if recorded is not None and recorded != settings.bucket:
        return False, str(ForeignBucket(shown, recorded, settings.bucket))
    head = head_revision()
    if revision == head:
        return True, f"{shown}, schema at {head}"
    if revision is not None and revision not in known_revisions():
        return (
            False,
            f"{shown} is at schema {revision}, which this code does not know (newer code wrote it): upgrade tryon-pipeline",
        )
    return True, f"{shown}, schema at {revision or 'none'}: the next command upgrades it to {head}"


def _recorded_bucket(engine: Any) -> str | None:
    """The bucket the ledger records (``Ledger.claim_bucket``); None before any run, or before the schema had it."""
    from sqlalchemy import inspect, text

    if not inspect(engine).has_table("ledger_bucket"):
        return None
    with engine.connect() as connection:
        return connection.execute(text("SELECT bucket FROM ledger_bucket WHERE id = 1")).scalar()


def models(settings: Settings) -> tuple[bool, str]:
    from tasks.models import ModelRegistryError, local_path, lookup

    found = []
    try:
        if settings.engine == "ladi-vton":
            from tasks.inference.ladi_vton.registry import registry_entries

            entries = registry_entries(settings, settings.ladi_vton_dataset)
            found.append(f"LaDI-VTON ({settings.ladi_vton_dataset}) in {settings.model_registry}: {len(entries)} entries")
        if settings.background_backend != "opencv":
            entry = lookup(settings, settings.background_backend, "u2net-onnx")
            local_path(settings, entry)
            found.append(f"cut-outs {entry.name}@{entry.version}")
    except (ModelRegistryError, ValueError) as error:
        named = any(setting in str(error) for setting in ("TRYON_", "tryon models"))
        return False, str(error) if named else f"{error} (TRYON_MODEL_REGISTRY, TRYON_ENGINE, TRYON_BACKGROUND_BACKEND)"
    return True, "; ".join(found) or f"engine {settings.engine} needs no weights"


def evaluation_networks(settings: Settings) -> tuple[bool, str]:
    """The evaluation's feature networks (FID's Inception, LPIPS's AlexNet and heads) are in the
    registry and on disk: asked by ``tryon evaluate``'s preflight, not by the doctor."""
    from tasks.evaluation.features import ALEXNET_BACKEND, INCEPTION_BACKEND, LPIPS_HEADS
    from tasks.models import ModelRegistryError, local_path, lookup

    found = []
    try:
        for name, backend in (
            (settings.evaluation_inception, INCEPTION_BACKEND),
            (settings.evaluation_alexnet, ALEXNET_BACKEND),
            (LPIPS_HEADS, "lpips-linear-heads"),
        ):
            entry = lookup(settings, name, backend)
            local_path(settings, entry)
            found.append(f"{entry.name}@{entry.version}")
    except (ModelRegistryError, ValueError) as error:
        named = "" if "TRYON_MODEL_REGISTRY" in str(error) else "TRYON_MODEL_REGISTRY; "
        return False, f"{error} ({named}`tryon models random` writes random-weight stand-ins, docs/evaluation.md)"
    return True, "evaluation networks " + ", ".join(found)


def airflow_home(settings: Settings) -> tuple[bool, str]:
    from tasks.airflow_glue.runner import airflow_environment

    home = Path(os.environ.get("AIRFLOW_HOME") or airflow_environment(settings)["AIRFLOW_HOME"])
    existing = next((p for p in (home, *home.parents) if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        return False, f"{home} cannot be written: set AIRFLOW_HOME or TRYON_HOME"
    return True, f"{home}" + ("" if home.exists() else " (made by the first command)")


CHECKS: dict[str, Callable[[Settings], tuple[bool, str]]] = {
    "S3": s3,
    "ledger": ledger,
    "models": models,
    "Airflow home": airflow_home,
}


# asked only where they matter, never by the doctor alone
CHECKS_ON_DEMAND: dict[str, Callable[[Settings], tuple[bool, str]]] = {"evaluation": evaluation_networks}


def examine(settings: Settings, checks: tuple[str, ...] = tuple(CHECKS), s3_client: Any = None) -> list[Finding]:
    """The ``checks`` (every one by default), in order, each timed; S3 through ``s3_client`` when given."""
    findings, known = [], {**CHECKS, **CHECKS_ON_DEMAND}
    for name in checks:
        started = time.perf_counter()
        check = known[name]
        ok, line = s3(settings, s3_client) if name == "S3" and s3_client is not None else check(settings)
        findings.append(Finding(name, ok, line, round(time.perf_counter() - started, 2)))
    return findings


class PreflightFailed(RuntimeError):
    """A command or a DAG run that cannot work as configured: one line per failed check, each
    naming the setting to fix. Never worth a retry."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("; ".join(f"{f.check}: {f.line}" for f in findings))


def preflight(settings: Settings, checks: tuple[str, ...] = ("S3", "ledger", "models"), s3_client: Any = None) -> None:
    """The doctor's checks before a run starts (``tryon run``, ``backfill``, ``evaluate``,
    ``demo`` and each DAG's first task): raise :class:`PreflightFailed` with what failed. When
    they pass, the ledger records the settings' bucket if it records none yet (the first run
    claims it), and refuses another one from then on."""
    from tasks.ledger import ForeignBucket, ledger_from_settings

    failed = [finding for finding in examine(settings, checks, s3_client) if not finding.ok]
    if not failed and "ledger" in checks:
        try:
            ledger_from_settings(settings).claim_bucket(settings.bucket)
        except ForeignBucket as foreign:
            failed.append(Finding("ledger", False, str(foreign)))
    if failed:
        raise PreflightFailed(failed)
