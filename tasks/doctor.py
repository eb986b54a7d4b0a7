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


def s3(settings: Settings) -> tuple[bool, str]:
    if settings.s3_endpoint_url is None:
        return (
            True,
            f"the embedded store (bucket {settings.bucket!r} kept as files in {settings.home / 's3'}), started by each command",
        )
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    url = settings.s3_endpoint_url
    address = urlsplit(url)
    try:  # the endpoint first: without it, botocore would blame missing credentials
        socket.create_connection(
            (address.hostname or "", address.port or (443 if address.scheme == "https" else 80)), CONNECT_TIMEOUT_S
        ).close()
    except OSError as error:
        return False, f"cannot reach {url} ({error.strerror or type(error).__name__}): set TRYON_S3_ENDPOINT_URL"
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=CONNECT_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 1},
        s3={"addressing_style": "path"},
    )
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


def ledger(settings: Settings) -> tuple[bool, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

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
    except SQLAlchemyError as error:
        return False, f"cannot open {shown} ({type(getattr(error, 'orig', None) or error).__name__}): set TRYON_LEDGER_URL"
    finally:
        engine.dispose()
    head = head_revision()
    if revision == head:
        return True, f"{shown}, schema at {head}"
    if revision is not None and revision not in known_revisions():
        return (
            False,
            f"{shown} is at schema {revision}, which this code does not know (newer code wrote it): upgrade tryon-pipeline",
        )
    return True, f"{shown}, schema at {revision or 'none'}: the next command upgrades it to {head}"


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


def examine(settings: Settings) -> list[Finding]:
    """Every check, in order, each timed."""
    findings = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        ok, line = check(settings)
        findings.append(Finding(name, ok, line, round(time.perf_counter() - started, 2)))
    return findings
