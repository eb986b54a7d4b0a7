"""Storefront slots in the ledger: a slot (``storefront/{sku}/{photo_id}.jpg``) has at most one
live publication. Publishing a generation retires the slot's earlier one in the same
transaction; withdrawing one retires it. These only change rows: the callers copy or delete
the storefront objects after their transaction commits (``tasks/publish.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tasks.ledger import Generation, GenerationState, Publication, utcnow
from tasks.storage import storefront_key

LIVE, SUPERSEDED, WITHDRAWN = "published", "superseded", "withdrawn"  # a publication's states


def record_publication(session: Any, row: Generation) -> set[str]:
    """Make ``row`` the live publication of its storefront slot, in the caller's transaction,
    retiring the slot's earlier live publication (``superseded``): one live publication per
    slot. Nothing is copied here: the caller copies after the commit (:func:`restore_storefront`)
    and rewrites the manifests of the dates returned."""
    key = storefront_key(row.sku, row.photo_id)
    dates = {row.drop_date}
    for earlier in session.scalars(
        select(Publication).where(
            Publication.sku == row.sku,
            Publication.photo_id == row.photo_id,
            Publication.state == LIVE,
            Publication.generation_id != row.generation_id,
        )
    ):
        earlier.state = SUPERSEDED
        dates.add(earlier.drop_date)
    publication = session.scalar(select(Publication).where(Publication.generation_id == row.generation_id))
    if publication is None:
        session.add(
            Publication(
                generation_id=row.generation_id,
                drop_date=row.drop_date,
                sku=row.sku,
                photo_id=row.photo_id,
                storefront_key=key,
                state=LIVE,
            )
        )
    else:
        publication.storefront_key, publication.state, publication.published_at = key, LIVE, utcnow()
    row.state = GenerationState.PUBLISHED.value
    return dates


def withdraw_publication(session: Any, row: Generation) -> str | None:
    """Retire the generation's live publication (``withdrawn``) in the caller's transaction;
    returns the storefront key to delete after the commit, or None when it held no slot."""
    publication = session.scalar(select(Publication).where(Publication.generation_id == row.generation_id))
    if publication is None or publication.state != LIVE:
        return None
    publication.state = WITHDRAWN
    return publication.storefront_key
