"""One run per drop date at a time: a lease row in the ledger (``run_leases``), taken when a run
starts, renewed while its stages run, released when its report is written. A second run of the
same date refuses at once with a message naming the holder. A lease whose run died without
releasing it expires (``TRYON_RUN_LEASE_S``) and the next run takes it over; when the dead run
was a process of the same machine (a `tryon run` killed), the next run takes it over at once.

The lease is a row, not a database session lock, because one run spans many processes (every
Airflow task is one) and machines; taking it is an INSERT or a conditional UPDATE, so it holds
on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from threading import Event, Thread

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tasks.ledger import Ledger, RunLease, utcnow


class LeaseHeld(RuntimeError):
    """Another run holds the date."""


def new_holder(kind: str) -> str:
    """A holder name that says who and where: ``cli:host:pid:random``."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _held_message(lease: RunLease | None, date: str) -> str:
    if lease is None:
        return f"drop {date}: this run's lease was lost"
    return (
        f"drop {date} is being processed by another run ({lease.holder}, since {lease.acquired_at:%Y-%m-%d %H:%M:%S} "
        f"UTC, lease until {_aware(lease.expires_at):%H:%M:%S} UTC); this run refuses: wait for it to end, or, if that run "
        "is dead, for its lease to expire"
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def dead_here(holder: str) -> bool:
    """The holder was a process of this machine that is gone (a run killed with SIGKILL, a
    closed terminal): its lease need not wait to expire. A holder elsewhere cannot be checked."""
    parts = holder.split(":")
    if len(parts) != 4 or parts[1] != socket.gethostname() or not parts[2].isdigit():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def acquire(ledger: Ledger, date: str, holder: str, seconds: float) -> None:
    """Take the date's lease for ``holder`` (or renew it when ``holder`` has it already); a
    lease that expired, or whose holder was a process of this machine that has died, is taken over."""
    now = utcnow()
    try:
        with ledger.session() as session:
            session.add(RunLease(drop_date=date, holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=seconds)))
        return
    except IntegrityError:
        pass
    with ledger.session() as session:
        current = session.get(RunLease, date)
        takeable = (RunLease.holder == holder) | (RunLease.expires_at < now)
        if current is not None and dead_here(current.holder):
            takeable = takeable | (RunLease.holder == current.holder)
        taken = session.execute(
            update(RunLease)
            .where(RunLease.drop_date == date, takeable)
            .values(holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        if taken != 1:
            raise LeaseHeld(_held_message(session.get(RunLease, date), date))


def renew(ledger: Ledger, date: str, holder: str, seconds: float) -> None:
    """Extend ``holder``'s lease; :class:`LeaseHeld` when it no longer has it (another run took
    over an expired lease)."""
    with ledger.session() as session:
        kept = session.execute(
            update(RunLease)
            .where(RunLease.drop_date == date, RunLease.holder == holder)
            .values(expires_at=utcnow() + timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        if kept != 1:
            raise LeaseHeld(_held_message(session.get(RunLease, date), date))


def release(ledger: Ledger, date: str, holder: str) -> str | None:
    """Give the date back. A ledger that cannot be reached now (an outage) does not fail the run
    that is ending: the lease expires, or is taken over at once on this machine (``dead_here``);
    returns that error's description, None when released."""
    try:
        with ledger.session() as session:
            session.execute(
                delete(RunLease)
                .where(RunLease.drop_date == date, RunLease.holder == holder)
                .execution_options(synchronize_session=False)
            )
    except SQLAlchemyError as error:
        from tasks.stage_times import describe_error

        return describe_error(error)
    return None


@contextmanager
def held(ledger: Ledger, date: str, holder: str, seconds: float, *, take: bool = False) -> Iterator[None]:
    """Hold the lease while the block runs: taken (``take``) or renewed first, then renewed in
    the background every third of its time, so a long stage keeps it."""
    (acquire if take else renew)(ledger, date, holder, seconds)
    stop = Event()

    def keep() -> None:
        while not stop.wait(seconds / 3):
            try:
                renew(ledger, date, holder, seconds)
            except Exception:  # the stage ends on its own; the next stage's renewal says what happened
                return

    thread = Thread(target=keep, daemon=True, name=f"lease-{date}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
