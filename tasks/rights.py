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

from tasks.ledger import PhotoReleaseRow
from tasks.settings import Settings

EVERY_CHANNEL, EVERYWHERE = "all", "worldwide"


@dataclass(frozen=True)
class PhotoTerms:
    allowed: bool
    note: str  # in words: the release that allows it, or why no release does
    release_id: str | None = None
    valid_until: date | None = None


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
    territories = {t.strip().lower() for t in settings.storefront_territories.split(";") if t.strip()}
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
        return PhotoTerms(True, f"{name} allows it {until}", release.release_id, release.valid_until)
    return PhotoTerms(False, why, release.release_id, release.valid_until)


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
