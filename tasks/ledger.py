"""The ledger: every garment, model photo, generation, QC result and publication, each row
with an explicit state. SQLAlchemy 2; SQLite for the embedded default, PostgreSQL by URL.

Terminal states of a garment (the unit a run report counts):
``published`` (all of its generations passed and were published), ``flagged`` (at least one
generation awaits review), ``rejected`` (nothing could be generated; ``reason`` says why),
``quarantined`` (the input itself is unusable; ``reason`` says why).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from tasks.settings import Settings


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
    """One reviewer's decision on one flagged generation: approve or reject (with a reason)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.generation_id"), index=True)
    drop_date: Mapped[str] = mapped_column(String(10), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # approved | rejected
    reason: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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


class Ledger:
    """The database behind the ledger tables; one per URL per process."""

    def __init__(
        self, url: str, lock_timeout_s: float = 30.0, statement_timeout_s: float = 300.0, *, migrate: bool = True
    ) -> None:
        self.url = url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql":
            # a lock or a statement that never ends fails the task (which Airflow retries), never hangs the run
            connect_args["options"] = (
                f"-c lock_timeout={int(lock_timeout_s * 1000)} -c statement_timeout={int(statement_timeout_s * 1000)}"
            )
            # ...and a connection the network silently lost (no reset reaches us, the server never
            # sees the query) fails too, instead of waiting for an answer forever
            connect_args |= {
                "connect_timeout": 10,
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
                "tcp_user_timeout": int(lock_timeout_s * 1000) + 30_000,
            }
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", partial(_sqlite_pragmas, busy_ms=int(lock_timeout_s * 1000)))
            event.listen(self.engine, "begin", _sqlite_begin)
        if migrate and (revision := schema_revision(self.engine)) != head_revision():
            try:
                upgrade(self.engine)
            except ProgrammingError as error:  # a role that may not change the schema (the review page's)
                raise RuntimeError(
                    f"the ledger's schema is at revision {revision or 'none'}, this code needs {head_revision()}, "
                    "and this role may not upgrade it: run `tryon db upgrade` as the ledger's owner"
                ) from error
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self, *, exclusive: bool = False) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error. ``exclusive`` for a
        decision that reads, then writes what it read: on SQLite, where ``FOR UPDATE`` does
        nothing, the transaction takes the database's write lock when it begins (``BEGIN
        IMMEDIATE``), so two such decisions run one after the other; PostgreSQL's row locks
        (``with_for_update``) do that per row."""
        with self._sessions() as session, session.begin():
            if exclusive:
                session.connection(execution_options={"tryon_exclusive": True})
            yield session

    def garments(self, drop_date: str) -> list[Garment]:
        with self.session() as session:
            return list(session.scalars(select(Garment).where(Garment.drop_date == drop_date).order_by(Garment.sku)))

    def generations(self, drop_date: str) -> list[Generation]:
        with self.session() as session:
            return list(
                session.scalars(select(Generation).where(Generation.drop_date == drop_date).order_by(Generation.generation_id))
            )


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# a ledger made before migrations (by create_all) is stamped with the newest revision whose table
# (or ``table.column``) it already holds, then upgraded from there
LEGACY_MARKERS = (
    ("0004", "generations.garment_sha256"),
    ("0003", "look_generations"),
    ("0002", "evaluations"),
    ("0001", "garments"),
)


def _holds(tables: Any, marker: str) -> bool:
    table, _, column = marker.partition(".")
    if not tables.has_table(table):
        return False
    return not column or column in {c["name"] for c in tables.get_columns(table)}


def _alembic_config(connection: Any = None, metadata: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    if metadata is not None:
        config.attributes["metadata"] = metadata
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS}"
    return head


def schema_revision(engine: Engine) -> str | None:
    """The ledger's schema revision (None: empty, or made before migrations)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the ledger's schema to the newest revision, in one transaction; return the revisions
    before and after. Two processes upgrading at once take turns (PostgreSQL: an advisory lock;
    SQLite: the write lock of ``BEGIN IMMEDIATE``); the second finds nothing left to do."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect, text

    with engine.connect() as plain, plain.execution_options(tryon_exclusive=True) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7405311)"))
        before = MigrationContext.configure(connection).get_current_revision()
        config = _alembic_config(connection)
        if before is None:
            tables = inspect(connection)
            legacy = next((rev for rev, marker in LEGACY_MARKERS if _holds(tables, marker)), None)
            if legacy is not None:
                command.stamp(config, legacy)
                before = legacy
        command.upgrade(config, "head")
    return before, head_revision()


IN_LIST = 500  # values a query's IN list holds at most


RowT = TypeVar("RowT", bound=Base)


def row_of(session: Session, model: type[RowT], key: Any) -> RowT:
    """The ledger row of ``model`` with this primary key; one that must exist and does not is a
    broken ledger, said as such (``LookupError``) rather than as an attribute of None."""
    row = session.get(model, key)
    if row is None:
        raise LookupError(f"the ledger has no {model.__tablename__} row {key!r}")
    return row


def rows_in(session: Session, column: Any, values: list[Any]) -> list[Any]:
    """The rows of ``column``'s table whose ``column`` is one of ``values``, ``IN_LIST`` values a
    query: what a stage reads for its items in a few queries instead of one per item (kept
    referenced by the caller: the session's identity map alone would let them go)."""
    entity = column.class_
    rows: list[Any] = []
    for start in range(0, len(values), IN_LIST):
        rows.extend(session.scalars(select(entity).where(column.in_(values[start : start + IN_LIST]))))
    return rows


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """pysqlite begins a transaction by itself only before the first write, which keeps readers
    out of each other's way; an exclusive session begins at once, holding the write lock."""
    if connection.get_execution_options().get("tryon_exclusive"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def open_ledger(url: str, lock_timeout_s: float = 30.0, statement_timeout_s: float = 300.0) -> Ledger:
    """The process-wide ledger for ``url`` (its schema brought up to date on first use)."""
    return Ledger(url, lock_timeout_s, statement_timeout_s)


def ledger_from_settings(settings: Settings) -> Ledger:
    return open_ledger(settings.resolved_ledger_url, settings.ledger_lock_timeout_s, settings.ledger_statement_timeout_s)


SPOT_APPROVED, SPOT_REJECTED = "spot_approved", "spot_rejected"  # review decisions of the spot check


@dataclass
class SpotTally:
    checked: int  # spot-check decisions taken
    missed: int  # of them, rejections: generations QC passed that a person would not publish

    @property
    def miss_rate(self) -> float | None:
        return self.missed / self.checked if self.checked else None


def spot_tally(ledger: Ledger, date: str | None = None) -> SpotTally:
    """Spot checks of what passed QC (``tasks/review/spot_check.py``) for ``date``, or for every
    date so far."""
    with ledger.session() as session:
        query = select(ReviewDecision.decision, func.count()).where(ReviewDecision.decision.in_((SPOT_APPROVED, SPOT_REJECTED)))
        if date is not None:
            query = query.where(ReviewDecision.drop_date == date)
        counts: dict[str, int] = {decision: count for decision, count in session.execute(query.group_by(ReviewDecision.decision))}
    return SpotTally(checked=sum(counts.values()), missed=counts.get(SPOT_REJECTED, 0))
