"""QC suite versions: the packaged suite (``expectations.yaml``), calibrated versions written to
the bucket by ``tryon qc calibrate`` (``qc/suites/v{N}.yaml``), and the promotions that make one
current (``tryon qc promote``, a ledger row with who and why). Every stage that judges images
asks :func:`current_suite`: an operator's ``TRYON_QC_EXPECTATIONS`` file first, then the newest
promoted version, then the packaged file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tasks.context import RunContext
from tasks.ledger import QCSuitePromotion
from tasks.qc.suite import CONFIG, SuiteConfig, dump_config, load_config, parse_config
from tasks.storage import QC_SUITES, qc_suite_key


class SuiteVersionError(ValueError):
    """A suite version that cannot be promoted (not in the bucket, already current)."""


@dataclass(frozen=True)
class SuiteVersion:
    version: int
    source: str  # "packaged", the bucket key, or the operator's file
    current: bool
    promoted_by: str | None = None
    reason: str | None = None
    promoted_at: datetime | None = None


def _promotion(ctx: RunContext) -> QCSuitePromotion | None:
    with ctx.ledger.session() as session:
        return session.scalars(select(QCSuitePromotion).order_by(QCSuitePromotion.id.desc()).limit(1)).first()


def _version_text(ctx: RunContext, version: int) -> tuple[bytes, str]:
    """Version ``version``'s YAML and where it is: the packaged file, or a calibrated one in the bucket."""
    packaged = load_config().version
    if version == packaged:
        return CONFIG.read_bytes(), str(CONFIG)
    key = qc_suite_key(version)
    if not ctx.store.exists(key):
        raise SuiteVersionError(
            f"no QC suite v{version}: neither the packaged suite (v{packaged}) nor s3://{ctx.settings.bucket}/{key}"
        )
    return ctx.store.get_bytes(key), key


def read_version(ctx: RunContext, version: int) -> SuiteConfig:
    """Version ``version``: the packaged suite, or a calibrated one from the bucket."""
    text, source = _version_text(ctx, version)
    return parse_config(text.decode(), source)


def current_suite(ctx: RunContext) -> SuiteConfig:
    """The suite the stages judge with now."""
    if ctx.settings.qc_expectations is not None:
        return load_config(ctx.settings.qc_expectations)
    promotion = _promotion(ctx)
    return read_version(ctx, promotion.version) if promotion else load_config()


def stored_versions(ctx: RunContext) -> list[int]:
    """The calibrated versions in the bucket."""
    found = []
    for key in ctx.store.list_keys(QC_SUITES):
        name = key[len(QC_SUITES) :]
        if name.startswith("v") and name.endswith(".yaml") and name[1:-5].isdigit():
            found.append(int(name[1:-5]))
    return sorted(found)


def next_version(ctx: RunContext) -> int:
    return max([load_config().version, current_suite(ctx).version, *stored_versions(ctx)]) + 1


def store_candidate(ctx: RunContext, config: SuiteConfig, header: str) -> str:
    """Write a calibrated version to the bucket (not current until promoted); its key."""
    key = qc_suite_key(config.version)
    if ctx.store.exists(key):
        raise SuiteVersionError(f"QC suite v{config.version} exists already ({key})")
    ctx.store.put_bytes(key, dump_config(config, header).encode(), "application/yaml")
    return key


def promote(ctx: RunContext, version: int, operator: str, reason: str) -> QCSuitePromotion:
    """Make ``version`` the current suite, recorded with who and why."""
    if not reason.strip():
        raise SuiteVersionError("a promotion needs a reason (--reason)")
    current = current_suite(ctx)
    if version == current.version:
        raise SuiteVersionError(f"QC suite v{version} is current already")
    text, source = _version_text(ctx, version)
    parse_config(text.decode(), source)  # refused when it does not parse
    row = QCSuitePromotion(
        version=version,
        previous_version=current.version,
        suite_sha256=hashlib.sha256(text).hexdigest(),
        operator=operator,
        reason=reason.strip(),
    )
    with ctx.ledger.session() as session:
        session.add(row)
    return row


def versions(ctx: RunContext) -> list[SuiteVersion]:
    """Every version known: the packaged one and the bucket's, with the promotions' record."""
    current = current_suite(ctx).version
    with ctx.ledger.session() as session:
        promotions = {row.version: row for row in session.scalars(select(QCSuitePromotion).order_by(QCSuitePromotion.id))}
    packaged = load_config().version
    found = []
    for version in sorted({packaged, *stored_versions(ctx)}):
        row = promotions.get(version)
        found.append(
            SuiteVersion(
                version=version,
                source="packaged" if version == packaged else qc_suite_key(version),
                current=version == current,
                promoted_by=row.operator if row else None,
                reason=row.reason if row else None,
                promoted_at=row.promoted_at if row else None,
            )
        )
    return found
