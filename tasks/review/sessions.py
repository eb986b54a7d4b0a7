"""The review page's sessions and sign-in throttle, both held in the ledger so that every
process serving the page (several workers, several pods) sees the same.

Sessions: the cookie carries a random token; the ledger keeps its SHA-256 with the reviewer,
the session's CSRF token and its expiry. Signing out deletes the row, so a cookie captured
before sign-out is worth nothing after it.

Throttle: every sign-in attempt counts against the name tried and the client's address before
the password is checked (so parallel guesses count too). Over the limit within the window, the
name or address is locked out until the window ends; a correct password for a locked name is
refused like a wrong one. A successful sign-in clears its name's count and takes its own
attempt back off the address's.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tasks.ledger import Ledger, ReviewSession, SignInAttempts, utcnow
from tasks.settings import Settings


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


@dataclass(frozen=True)
class SignedIn:
    reviewer: str
    csrf: str


def open_session(ledger: Ledger, reviewer: str, seconds: float) -> str:
    """A new session for ``reviewer``; returns the cookie's token."""
    token, now = secrets.token_urlsafe(32), utcnow()
    with ledger.session() as session:
        session.execute(delete(ReviewSession).where(ReviewSession.expires_at < now))
        session.add(
            ReviewSession(
                token_sha256=_digest(token),
                reviewer=reviewer,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + timedelta(seconds=seconds),
            )
        )
    return token


def find_session(ledger: Ledger, token: str | None) -> SignedIn | None:
    if not token or len(token) > 128:
        return None
    with ledger.session() as session:
        row = session.scalars(
            select(ReviewSession).where(ReviewSession.token_sha256 == _digest(token), ReviewSession.expires_at > utcnow())
        ).first()
        return SignedIn(row.reviewer, row.csrf) if row else None


def end_session(ledger: Ledger, token: str | None) -> None:
    if token:
        with ledger.session() as session:
            session.execute(delete(ReviewSession).where(ReviewSession.token_sha256 == _digest(token)))


@dataclass(frozen=True)
class Throttle:
    """The sign-in limits (from settings): attempts per name and per address within
    ``window_s``, after which that name or address waits out the window."""

    per_name: int
    per_address: int
    window_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(settings.review_max_attempts_per_name, settings.review_max_attempts_per_address, settings.review_lockout_s)

    def subjects(self, name: str, address: str) -> dict[str, int]:
        return {f"name:{name[:128]}": self.per_name, f"address:{address[:128]}": self.per_address}

    def admit(self, ledger: Ledger, name: str, address: str) -> float:
        """Count this attempt against the name and the address; 0 when it may go on, else the
        seconds until it may be tried again."""
        now = utcnow()
        limits = self.subjects(name, address)
        with ledger.session() as session:
            known = set(session.scalars(select(SignInAttempts.subject).where(SignInAttempts.subject.in_(limits))))
        for subject in set(limits) - known:  # the rows exist before they are locked (two first attempts at once)
            try:
                with ledger.session() as session:
                    session.add(SignInAttempts(subject=subject, attempts=0, window_start=now))
            except IntegrityError:
                pass
        wait = 0.0
        with ledger.session(exclusive=True) as session:
            rows = session.scalars(select(SignInAttempts).where(SignInAttempts.subject.in_(limits)).with_for_update()).all()
            for row in rows:
                if row.locked_until is not None and _aware(row.locked_until) > now:
                    wait = max(wait, (_aware(row.locked_until) - now).total_seconds())
                    continue
                if row.locked_until is not None or _aware(row.window_start) + timedelta(seconds=self.window_s) < now:
                    row.attempts, row.window_start, row.locked_until = 0, now, None
                row.attempts += 1
                if row.attempts > limits[row.subject]:
                    row.locked_until = now + timedelta(seconds=self.window_s)
                    wait = max(wait, self.window_s)
        return wait

    def succeeded(self, ledger: Ledger, name: str, address: str) -> None:
        name_subject, address_subject = self.subjects(name, address)
        with ledger.session() as session:
            session.execute(
                update(SignInAttempts)
                .where(SignInAttempts.subject == name_subject)
                .values(attempts=0, locked_until=None)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(SignInAttempts)
                .where(SignInAttempts.subject == address_subject, SignInAttempts.attempts > 0)
                .values(attempts=SignInAttempts.attempts - 1)
                .execution_options(synchronize_session=False)
            )
