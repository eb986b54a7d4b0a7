"""Whether a model photo's release allows its try-on images on the storefront, now.

A library photo is licensed by a talent release (``tasks.catalog.releases``, kept in the ledger
with its history). Its try-on images may reach the storefront only while the newest release
recorded for it allows derived AI images of the person, lists the storefront's channel
(``TRYON_STOREFRONT_CHANNEL``) and covers its territories (``TRYON_STOREFRONT_TERRITORIES``),
has begun, has not ended and was not revoked. A photo without such a release stays ``ready`` for
previews and evaluation: its images are made, judged and reviewed, never published. The
storefront gate asks on every path; the rights DAG withdraws what stopped holding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from tasks.catalog.releases import listed
from tasks.ledger import PhotoReleaseRow, Publication
from tasks.settings import Settings
from tasks.states import PublicationState

EVERY_CHANNEL, EVERYWHERE = "all", "worldwide"


@dataclass(frozen=True)
class PhotoTerms:
    allowed: bool
    note: str  # in words: the release that allows it, or why no release does


def current_releases(session: Any, photo_ids: set[str] | None = None) -> dict[str, PhotoReleaseRow]:
    """Each photo's newest release row (its release now)."""
    newest = select(PhotoReleaseRow.photo_id, func.max(PhotoReleaseRow.id).label("id")).group_by(PhotoReleaseRow.photo_id)
    if photo_ids is not None:
        newest = newest.where(PhotoReleaseRow.photo_id.in_(sorted(photo_ids)))
    ids = [row.id for row in session.execute(newest)]
    return {row.photo_id: row for row in session.scalars(select(PhotoReleaseRow).where(PhotoReleaseRow.id.in_(ids)))}


def terms(settings: Settings, photo_id: str, release: PhotoReleaseRow | None, today: date) -> PhotoTerms:
    """Whether ``release`` (the photo's newest, or None) allows storefront images of ``photo_id`` today."""
    if release is None:
        return PhotoTerms(False, f"no model release is recorded for photo {photo_id}: previews and evaluation only")
    name = f"release {release.release_id} of photo {photo_id}"
    territories = set(listed(settings.storefront_territories))
    channel = settings.storefront_channel.strip().lower()
    if release.revoked:
        why = f"{name} was revoked" + (f" ({release.note})" if release.note else "")
    elif not release.ai_use:
        why = f"{name} does not allow derived AI images of the person"
    elif channel not in release.channels and EVERY_CHANNEL not in release.channels:
        why = f"{name} does not cover the channel {channel} (it covers {', '.join(release.channels)})"
    elif EVERYWHERE not in release.territories and not territories <= set(release.territories):
        missing = sorted(territories - set(release.territories))
        why = f"{name} does not cover {', '.join(missing)} (it covers {', '.join(release.territories)})"
    elif today < release.valid_from:
        why = f"{name} is valid only from {release.valid_from.isoformat()}"
    elif release.valid_until is not None and today > release.valid_until:
        why = f"{name} expired on {release.valid_until.isoformat()}"
    else:
        until = f"until {release.valid_until.isoformat()}" if release.valid_until else "with no end date"
        return PhotoTerms(True, f"{name} allows it {until}")
    return PhotoTerms(False, why)


@dataclass(frozen=True)
class ExpiringRelease:
    photo_id: str
    release_id: str
    valid_until: date
    live_images: int  # the photo's images on the storefront now

    def describe(self, today: date) -> str:
        days = (self.valid_until - today).days
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return (
            f"release {self.release_id} of photo {self.photo_id} ends {when} ({self.valid_until.isoformat()}): "
            f"{self.live_images} storefront image{'s' if self.live_images != 1 else ''} will be withdrawn unless it is renewed"
        )


def expiring_releases(session: Any, settings: Settings, today: date, days: int) -> list[ExpiringRelease]:
    """The releases that allow storefront images today and end within ``days`` days, soonest first."""
    ending = []
    for photo_id, release in current_releases(session).items():
        if release.valid_until is None or (release.valid_until - today).days > days:
            continue
        if not terms(settings, photo_id, release, today).allowed:
            continue
        live = session.scalar(
            select(func.count())
            .select_from(Publication)
            .where(Publication.photo_id == photo_id, Publication.state == PublicationState.LIVE.value)
        )
        ending.append(ExpiringRelease(photo_id, release.release_id, release.valid_until, int(live or 0)))
    return sorted(ending, key=lambda e: (e.valid_until, e.photo_id))


class PhotoTermsLookup:
    """``terms`` for the photos of one decision or one run, each photo's release read once."""

    def __init__(self, settings: Settings, today: date | None = None) -> None:
        self.settings = settings
        self.today = today or datetime.now(UTC).date()
        self._known: dict[str, PhotoTerms] = {}

    def __call__(self, session: Any, photo_id: str) -> PhotoTerms:
        if photo_id not in self._known:
            release = current_releases(session, {photo_id}).get(photo_id)
            self._known[photo_id] = terms(self.settings, photo_id, release, self.today)
        return self._known[photo_id]


def rights_message(ctx: Any, withdrawn: list[str]) -> tuple[str, list[str]]:
    """The rights DAG's message in words (what it withdrew, the releases ending within
    ``TRYON_RIGHTS_WARN_DAYS``), and the endings alone."""
    today = datetime.now(UTC).date()
    with ctx.ledger.session() as session:
        ending = [e.describe(today) for e in expiring_releases(session, ctx.settings, today, ctx.settings.rights_warn_days)]
    lines = [f"tryon rights, {today.isoformat()}:"]
    lines.append(f"withdrawn from the storefront: {len(withdrawn)}" + (":" if withdrawn else ""))
    lines += [f"- {line}" for line in withdrawn]
    lines.append(f"model releases ending within {ctx.settings.rights_warn_days} days: {len(ending)}" + (":" if ending else ""))
    lines += [f"- {line}" for line in ending]
    return "\n".join(lines), ending
