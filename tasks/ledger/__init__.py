"""The ledger: every garment, model photo, generation, QC result and publication, each row
with an explicit state (the tables: ``tasks.ledger.tables``; the schema's migrations:
``tasks.migrations``). SQLAlchemy 2; SQLite for the embedded default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from tasks.ledger.tables import (
    GARMENT_TERMINAL_STATES,
    BackfillDecision,
    Base,
    Erasure,
    EvaluationRow,
    Garment,
    GarmentFingerprint,
    GarmentState,
    Generation,
    GenerationState,
    LedgerBucket,
    LookGeneration,
    ModelPhoto,
    PhotoReleaseRow,
    PhotoState,
    Publication,
    QCResult,
    QCSuitePromotion,
    ReviewDecision,
    ReviewSession,
    RightsWithdrawal,
    RunLease,
    SignInAttempts,
    utcnow,
)
from tasks.migrations import head_revision, schema_revision, upgrade
from tasks.settings import Settings

__all__ = [
    "GARMENT_TERMINAL_STATES",
    "IN_LIST",
    "SPOT_APPROVED",
    "SPOT_REJECTED",
    "SuiteMisses",
    "BackfillDecision",
    "PhotoReleaseRow",
    "QCSuitePromotion",
    "RightsWithdrawal",
    "Erasure",
    "Base",
    "EvaluationRow",
    "Garment",
    "GarmentFingerprint",
    "GarmentState",
    "Generation",
    "GenerationState",
    "ForeignBucket",
    "Ledger",
    "LedgerBucket",
    "LookGeneration",
    "ModelPhoto",
    "PhotoState",
    "Publication",
    "QCResult",
    "ReviewDecision",
    "ReviewSession",
    "RunLease",
    "SignInAttempts",
    "SpotTally",
    "head_revision",
    "ledger_from_settings",
    "open_ledger",
    "row_of",
    "rows_in",
    "schema_revision",
    "spot_misses_by_suite",
    "spot_tally",
    "upgrade",
    "utcnow",
]


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

    def bucket(self) -> str | None:
        """The bucket this ledger records (None: no run has written yet)."""
        with self.session() as session:
            row = session.get(LedgerBucket, 1)
            return None if row is None else row.bucket

    def claim_bucket(self, bucket: str, *, record: bool = True) -> None:
        """Refuse (:class:`ForeignBucket`) a command whose bucket is not the one this ledger
        records; the first command that writes (``record``) records its own."""
        with self.session(exclusive=True) as session:
            row = session.get(LedgerBucket, 1)
            if row is None and record:
                session.add(LedgerBucket(id=1, bucket=bucket))
            elif row is not None and row.bucket != bucket:
                raise ForeignBucket(make_url(self.url).render_as_string(hide_password=True), row.bucket, bucket)

    def garments(self, drop_date: str) -> list[Garment]:
        with self.session() as session:
            return list(session.scalars(select(Garment).where(Garment.drop_date == drop_date).order_by(Garment.sku)))

    def generations(self, drop_date: str) -> list[Generation]:
        with self.session() as session:
            return list(
                session.scalars(select(Generation).where(Generation.drop_date == drop_date).order_by(Generation.generation_id))
            )


class ForeignBucket(RuntimeError):
    """The settings name a bucket this ledger (shown by its URL, password hidden) does not record."""

    def __init__(self, ledger: str, recorded: str, bucket: str) -> None:
        super().__init__(
            f"the ledger {ledger} records bucket {recorded!r}, not {bucket!r}: "
            f"set TRYON_BUCKET={recorded} (or TRYON_LEDGER_URL to that bucket's ledger)"
        )


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


@dataclass(frozen=True)
class SuiteMisses:
    """Spot checks of one drop date's generations judged by one QC suite version."""

    suite_version: int | None  # None: judged before versions were recorded
    drop_date: str
    tally: SpotTally


def spot_misses_by_suite(ledger: Ledger) -> list[SuiteMisses]:
    """The spot check's miss rate per QC suite version and drop date, newest version and date first."""
    with ledger.session() as session:
        counts = session.execute(
            select(Generation.qc_suite_version, ReviewDecision.drop_date, ReviewDecision.decision, func.count())
            .join(Generation, Generation.generation_id == ReviewDecision.generation_id)
            .where(ReviewDecision.decision.in_((SPOT_APPROVED, SPOT_REJECTED)))
            .group_by(Generation.qc_suite_version, ReviewDecision.drop_date, ReviewDecision.decision)
        ).all()
    cells: dict[tuple[int | None, str], dict[str, int]] = {}
    for version, date, decision, count in counts:
        cells.setdefault((version, date), {})[decision] = count
    return [
        SuiteMisses(version, date, SpotTally(checked=sum(c.values()), missed=c.get(SPOT_REJECTED, 0)))
        for (version, date), c in sorted(cells.items(), key=lambda item: (item[0][0] or 0, item[0][1]), reverse=True)
    ]


def spot_tally(ledger: Ledger, date: str | None = None) -> SpotTally:
    """Spot checks of what passed QC (``tasks/review/spot_check.py``) for ``date``, or for every
    date so far."""
    with ledger.session() as session:
        query = select(ReviewDecision.decision, func.count()).where(ReviewDecision.decision.in_((SPOT_APPROVED, SPOT_REJECTED)))
        if date is not None:
            query = query.where(ReviewDecision.drop_date == date)
        counts: dict[str, int] = {decision: count for decision, count in session.execute(query.group_by(ReviewDecision.decision))}
    return SpotTally(checked=sum(counts.values()), missed=counts.get(SPOT_REJECTED, 0))
