"""The ledger's tables and the states their rows take (``tasks.states`` says which move may
follow which).

Terminal states of a garment (the unit a run report counts):
``published`` (all of its generations passed and were published), ``flagged`` (at least one
generation awaits review), ``rejected`` (nothing could be generated; ``reason`` says why),
``quarantined`` (the input itself is unusable; ``reason`` says why), ``withdrawn`` (its folder
left the drop).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class GarmentState(str, enum.Enum):
    DISCOVERED = "discovered"
    PREPROCESSED = "preprocessed"
    MATCHED = "matched"
    PUBLISHED = "published"
    FLAGGED = "flagged"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"
    WITHDRAWN = "withdrawn"  # its folder left the drop after a run recorded it (``tasks/intake.py``)


GARMENT_TERMINAL_STATES = (
    GarmentState.PUBLISHED,
    GarmentState.FLAGGED,
    GarmentState.REJECTED,
    GarmentState.QUARANTINED,
    GarmentState.WITHDRAWN,
)


class PhotoState(str, enum.Enum):
    READY = "ready"
    REJECTED = "rejected"


class GenerationState(str, enum.Enum):
    PLANNED = "planned"
    GENERATED = "generated"
    PASSED = "passed"
    FLAGGED = "flagged"
    PUBLISHED = "published"
    FAILED = "failed"
    REJECTED = "rejected"  # by a reviewer
    # no longer the pair's current generation: made from a garment version a re-shoot replaced,
    # planned under settings a later run changed, or its slot's publication taken over by a
    # newer generation (``tasks/storefront/``); never generated, published or reviewed again
    SUPERSEDED = "superseded"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Garment(Base):
    __tablename__ = "garments"
    __table_args__ = (UniqueConstraint("drop_date", "sku", name="uq_garment_drop_sku"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    drop_date: Mapped[str] = mapped_column(String(10), index=True)
    sku: Mapped[str] = mapped_column(String(128))
    category: Mapped[str | None] = mapped_column(String(32))
    source_key: Mapped[str | None] = mapped_column(String(1024))
    sha256: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(32), default=GarmentState.DISCOVERED.value)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def content_sha256(self) -> str:
        """The sha256 of the garment's image, which every garment past validation has."""
        if self.sha256 is None:
            raise LookupError(f"garment {self.sku} of {self.drop_date} has no content hash (state {self.state})")
        return self.sha256


class GarmentFingerprint(Base):
    """A preprocessed garment's perceptual fingerprint (``garment.perceptual_hash``), kept apart
    from its row's JSON so a drop reads every earlier one in one narrow query and indexes them
    (``tasks/preprocess/fingerprints.py``). ``original``: not itself a duplicate of another."""

    __tablename__ = "garment_fingerprints"

    garment_id: Mapped[int] = mapped_column(ForeignKey("garments.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    original: Mapped[bool] = mapped_column(Boolean, default=True)


class ModelPhoto(Base):
    __tablename__ = "model_photos"

    photo_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    backends: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Generation(Base):
    __tablename__ = "generations"

    generation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    garment_id: Mapped[int] = mapped_column(ForeignKey("garments.id"), index=True)
    # the garment version (image sha256) it is made from: a re-shoot gives the garment row another
    garment_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_id: Mapped[str] = mapped_column(ForeignKey("model_photos.photo_id"))
    drop_date: Mapped[str] = mapped_column(String(10), index=True)
    sku: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    engine: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(128))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    batch: Mapped[int | None] = mapped_column(Integer)
    object_key: Mapped[str | None] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(32), default=GenerationState.PLANNED.value)
    reason: Mapped[str | None] = mapped_column(Text)
    qc_suite_version: Mapped[int | None] = mapped_column(Integer)  # the QC suite version that judged it
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def stored_key(self) -> str:
        """The key of the generation's image, which every state after try-on has."""
        if self.object_key is None:
            raise LookupError(f"generation {self.generation_id} has no stored image (state {self.state})")
        return self.object_key


class QCResult(Base):
    __tablename__ = "qc_results"
    __table_args__ = (UniqueConstraint("generation_id", "check", name="uq_qc_generation_check"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.generation_id"), index=True)
    check: Mapped[str] = mapped_column(String(64))
    passed: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Publication(Base):
    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("generation_id", name="uq_publication_generation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.generation_id"))
    drop_date: Mapped[str] = mapped_column(String(10), index=True)
    sku: Mapped[str] = mapped_column(String(128))
    photo_id: Mapped[str] = mapped_column(String(128))
    storefront_key: Mapped[str] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(32), default="published")
    reason: Mapped[str | None] = mapped_column(Text)  # why it is no longer live (``superseded_by_reshoot: ...``)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LookGeneration(Base):
    """One full-outfit image (``tasks/looks/outfit_tryon.py``): a look (an upper-body and a
    lower-body garment the compatibility model paired) worn on one photo, made by the engine in
    two passes. Its own table: a generation of one garment is a ``Generation``."""

    __tablename__ = "look_generations"

    generation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    look_id: Mapped[str] = mapped_column(String(32), index=True)
    drop_date: Mapped[str] = mapped_column(String(10), index=True)
    photo_id: Mapped[str] = mapped_column(String(128))
    upper_sku: Mapped[str] = mapped_column(String(128))
    upper_garment_sha256: Mapped[str] = mapped_column(String(64))
    lower_sku: Mapped[str] = mapped_column(String(128))
    lower_garment_sha256: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    looks_model_version: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(128))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str | None] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(32), default=GenerationState.PLANNED.value)
    reason: Mapped[str | None] = mapped_column(Text)
    failed_checks: Mapped[list[Any]] = mapped_column(default=list)
    reviewer: Mapped[str | None] = mapped_column(String(128))  # who approved or rejected it on the review page
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ReviewDecision(Base):
    """One reviewer's decision on one generation: approved, rejected (with a reason and failure
    mode), regenerated, spot_approved, spot_rejected; an undo deletes the decision and leaves an
    ``undone`` row saying which decision it was, by whom and when."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.generation_id"), index=True)
    drop_date: Mapped[str] = mapped_column(String(10), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # approved | rejected
    reason: Mapped[str | None] = mapped_column(Text)
    # a rejection's failure mode: a QC expectation's name (``qc.labels.failure_modes``) or "other"
    failure_mode: Mapped[str | None] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the generation's state reason before the decision: what an undo (``tasks.review.undo``) restores
    reason_before: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReviewSession(Base):
    """A signed-in reviewer's session on the review page (``tasks/review/sessions.py``): held
    here, not in the cookie, so signing out ends it everywhere. The cookie's token is stored
    only as its SHA-256."""

    __tablename__ = "review_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInAttempts(Base):
    """Sign-in attempts of one reviewer name or one client address in the current window, and
    the end of its lockout (``tasks/review/sessions.py``)."""

    __tablename__ = "review_sign_in_attempts"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RunLease(Base):
    """Who is processing a drop date now: one run per date at a time (``tasks/run_lease.py``)."""

    __tablename__ = "run_leases"

    drop_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EvaluationRow(Base):
    """One model version's figures on one category of an evaluation set (``tasks/evaluation``)."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("evaluation_id", "version", "category", name="uq_evaluation_version_category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(String(64), index=True)
    set_name: Mapped[str] = mapped_column(String(128))
    set_sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(256))  # as asked: ENGINE[/DATASET][:setting=value,...]
    engine: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(128), index=True)
    weights_sha256: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    random_weights: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(32))
    paired: Mapped[int] = mapped_column(Integer, default=0)
    unpaired: Mapped[int] = mapped_column(Integer, default=0)
    ssim: Mapped[float | None] = mapped_column(Float)
    ssim_masked: Mapped[float | None] = mapped_column(Float)
    lpips: Mapped[float | None] = mapped_column(Float)
    lpips_masked: Mapped[float | None] = mapped_column(Float)
    fid: Mapped[float | None] = mapped_column(Float)
    kid: Mapped[float | None] = mapped_column(Float)
    kid_std: Mapped[float | None] = mapped_column(Float)
    seconds_per_image: Mapped[float | None] = mapped_column(Float)
    qc_pass_rate: Mapped[float | None] = mapped_column(Float)
    feature_networks: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BackfillDecision(Base):
    """Why a backfill with a model version went ahead: the evaluation that showed it at least as
    good as the current version, or an operator's ``--force`` with who and why."""

    __tablename__ = "backfill_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(256))
    model_version: Mapped[str] = mapped_column(String(128))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    current_model_version: Mapped[str] = mapped_column(String(128))
    date_from: Mapped[str] = mapped_column(String(10))
    date_to: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(32))  # "evaluated" or "forced"
    evaluation_id: Mapped[str | None] = mapped_column(String(64))
    operator: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QCSuitePromotion(Base):
    """A QC suite version made current (``tryon qc promote``): who, why, and the file's sha256.
    The newest row is the suite the QC stage judges with."""

    __tablename__ = "qc_suite_promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)
    previous_version: Mapped[int] = mapped_column(Integer)
    suite_sha256: Mapped[str] = mapped_column(String(64))
    operator: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    promoted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PhotoReleaseRow(Base):
    """A library photo's talent release as ``library/releases.csv`` stated it when the library
    was built (``tasks.catalog.releases``). A row per change, never updated: the newest row of a
    photo is its release now, the older ones its history. A photo the file stopped listing gets
    a row that says so (``revoked``, ``note``)."""

    __tablename__ = "photo_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    photo_id: Mapped[str] = mapped_column(String(128), index=True)
    release_id: Mapped[str] = mapped_column(String(128))
    channels: Mapped[list[Any]] = mapped_column(default=list)
    territories: Mapped[list[Any]] = mapped_column(default=list)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    ai_use: Mapped[bool] = mapped_column(Boolean)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RightsWithdrawal(Base):
    """Something the rights DAG took off the storefront because the terms of an input behind it
    stopped holding (a release expired or was revoked, a weight's licence withdrawn): what, which
    storefront object, and why, in words."""

    __tablename__ = "rights_withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # generation, outfit, look_file
    subject: Mapped[str] = mapped_column(String(1024))  # the generation id, or the look file's SKU
    storefront_key: Mapped[str] = mapped_column(String(1024))
    reason: Mapped[str] = mapped_column(Text)
    withdrawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Erasure(Base):
    """A model photo erased (``tryon library erase``, ``tasks.erasure``): which photo, by its id
    and content (sha256, and the ETag its copies would carry), why, by whom and when, the
    generations it took with it and the objects removed. No image data."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    photo_id: Mapped[str] = mapped_column(String(128), index=True)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_etag: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    erased_by: Mapped[str] = mapped_column(String(128))
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    generation_ids: Mapped[list[Any]] = mapped_column(default=list)
    removed: Mapped[list[Any]] = mapped_column(default=list)  # the object keys removed


class LedgerBucket(Base):
    """The bucket this ledger records (one row): the first run that writes claims it, and a
    command set to another bucket is refused (``Ledger.claim_bucket``), so a mistyped
    ``TRYON_BUCKET`` never reads this bucket's states as its own or "repairs" the wrong one."""

    __tablename__ = "ledger_bucket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    bucket: Mapped[str] = mapped_column(String(255))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
