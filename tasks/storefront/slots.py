"""The storefront's slots in the ledger: a slot (``storefront/{sku}/{photo_id}.jpg``) has at most
one live publication; publishing a generation retires the slot's earlier one in the same
transaction, withdrawing one retires it. What was made from a garment version a re-shoot
replaced, or of a garment that left its drop, is retired here (:func:`retire_stale`). These
only change rows: the objects follow after the transaction commits (``objects``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from tasks.ledger import (
    IN_LIST,
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    LookGeneration,
    Publication,
    utcnow,
)
from tasks.states import PublicationState, initial, move, move_back
from tasks.storage import look_file_key, storefront_key, storefront_look_key

LIVE, SUPERSEDED, WITHDRAWN = PublicationState.LIVE.value, PublicationState.SUPERSEDED.value, PublicationState.WITHDRAWN.value


RESHOOT = "superseded_by_reshoot"


# generation states a retirement ends: what is not yet decided, and what is live
_OPEN = {
    GenerationState.PLANNED.value,
    GenerationState.GENERATED.value,
    GenerationState.PASSED.value,
    GenerationState.FLAGGED.value,
    GenerationState.FAILED.value,
    GenerationState.PUBLISHED.value,
}


def others_in_slot(row: Generation) -> Any:
    """The query of the live publications of ``row``'s slot that are not ``row``'s."""
    return select(Publication).where(
        Publication.sku == row.sku,
        Publication.photo_id == row.photo_id,
        Publication.state == LIVE,
        Publication.generation_id != row.generation_id,
    )


def record_publication(session: Any, row: Generation) -> set[str]:
    """Make ``row`` the live publication of its storefront slot, in the caller's transaction,
    retiring the slot's earlier live publication (``superseded``): one live publication per
    slot. Nothing is copied here: the caller copies after the commit (:func:`restore_storefront`)
    and rewrites the manifests of the dates returned."""
    key = storefront_key(row.sku, row.photo_id)
    dates = {row.drop_date}
    for earlier in session.scalars(others_in_slot(row)):
        move(earlier, SUPERSEDED, _superseded_by(row.generation_id))
        replaced = session.get(Generation, earlier.generation_id)
        if replaced is not None and replaced.state == GenerationState.PUBLISHED.value:
            move(replaced, GenerationState.SUPERSEDED, earlier.reason)
        dates.add(earlier.drop_date)
    publication = session.scalar(select(Publication).where(Publication.generation_id == row.generation_id))
    if publication is None:
        session.add(
            initial(
                Publication(
                    generation_id=row.generation_id,
                    drop_date=row.drop_date,
                    sku=row.sku,
                    photo_id=row.photo_id,
                    storefront_key=key,
                ),
                LIVE,
            )
        )
    else:
        publication.storefront_key, publication.published_at = key, utcnow()
        move(publication, LIVE)
    move(row, GenerationState.PUBLISHED, row.reason)
    return dates


def _superseded_by(generation_id: str) -> str:
    return f"superseded: the slot now holds {generation_id}"


def undo_approval(session: Any, row: Generation, reason: str) -> tuple[str | None, list[Generation]]:
    """A reviewer's approval of ``row`` undone, in the caller's transaction: its publication
    withdrawn, and the slot given back to what the approval superseded there when that is still
    the garment's current version. Returns the slot's key to delete after the commit (None when
    the slot was given back or held nothing) and the generations given back (to place)."""
    withdrawn = withdraw_publication(session, row, reason)
    versions = current_versions(session, {row.sku})
    given_back = []
    superseded = session.scalars(
        select(Publication).where(
            Publication.sku == row.sku,
            Publication.photo_id == row.photo_id,
            Publication.state == SUPERSEDED,
            Publication.reason == _superseded_by(row.generation_id),
        )
    )
    for publication in list(superseded):
        earlier = session.get(Generation, publication.generation_id)
        if earlier is None or earlier.state != GenerationState.SUPERSEDED.value or made_from_old_version(earlier, versions):
            continue
        move_back(earlier, GenerationState.PASSED, f"given its slot back: {reason}")
        record_publication(session, earlier)
        given_back.append(earlier)
    return (None if given_back else withdrawn), given_back


def withdraw_publication(session: Any, row: Generation, reason: str | None = None) -> str | None:
    """Retire the generation's live publication (``withdrawn``, with ``reason``) in the caller's
    transaction; returns the storefront key to delete after the commit, or None when it held no
    slot."""
    publication = session.scalar(select(Publication).where(Publication.generation_id == row.generation_id))
    if publication is None or publication.state != LIVE:
        return None
    move(publication, WITHDRAWN, reason)
    return publication.storefront_key


def current_versions(session: Any, skus: set[str]) -> dict[str, str]:
    """Each SKU's current garment version: the image sha256 of its latest drop that accepted
    one (a withdrawn or quarantined row holds none). A SKU never accepted is absent."""
    versions: dict[str, str] = {}
    ordered = sorted(skus)
    for start in range(0, len(ordered), IN_LIST):
        for sku, sha256 in session.execute(
            select(Garment.sku, Garment.sha256)
            .where(
                Garment.sku.in_(ordered[start : start + IN_LIST]),
                Garment.sha256.is_not(None),
                Garment.state.not_in((GarmentState.WITHDRAWN.value, GarmentState.QUARANTINED.value)),
            )
            .order_by(Garment.drop_date)
        ):
            versions[sku] = sha256  # the latest date's wins
    return versions


def made_from_old_version(row: Generation, versions: dict[str, str]) -> bool:
    """Whether ``row`` was made from another version of its garment than the SKU's current one
    (``versions``: :func:`current_versions`); a row whose version is not recorded is not judged."""
    current = versions.get(row.sku)
    return current is not None and row.garment_sha256 is not None and row.garment_sha256 != current


@dataclass
class Retired:
    """What :func:`retire_stale` ended: storefront objects to delete once the transaction
    commits, and the drop dates whose manifests must be written again."""

    deletions: list[str] = field(default_factory=list)
    dates: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)  # one per retirement, for the audit's repair and the logs


def _stale_reason(made_from: str | None, current: str) -> str:
    return (
        f"{RESHOOT}: made from garment version {str(made_from)[:12]}, the SKU's current version is {current[:12]} "
        "(a new photo under the same name)"
    )


def retire_stale(session: Any, skus: set[str]) -> Retired:
    """In the caller's transaction, end everything of ``skus`` not made from their current
    versions, and everything of a garment that left its drop: live publications withdrawn,
    open generations and full outfits superseded (a published outfit's storefront image and
    the SKU's look file to delete). ``IN_LIST`` SKUs a query."""
    retired = Retired()
    ordered = sorted(skus)
    for start in range(0, len(ordered), IN_LIST):
        _retire(session, set(ordered[start : start + IN_LIST]), retired)
    return retired


def _retire(session: Any, skus: set[str], retired: Retired) -> None:
    versions = current_versions(session, skus)
    gone = set(session.scalars(select(Garment.id).where(Garment.sku.in_(skus), Garment.state == GarmentState.WITHDRAWN.value)))
    for row in session.scalars(select(Generation).where(Generation.sku.in_(skus), Generation.state.in_(_OPEN))):
        if row.garment_id in gone:
            reason = f"withdrawn: {row.sku} left the drop of {row.drop_date}"
        elif made_from_old_version(row, versions):
            reason = _stale_reason(row.garment_sha256, versions[row.sku])
        else:
            continue
        key = withdraw_publication(session, row, reason)
        if key is not None:
            retired.deletions.append(key)
            retired.dates.add(row.drop_date)
            retired.deletions.append(look_file_key(row.sku))  # made with the old images; the looks task writes it again
        move(row, GenerationState.SUPERSEDED, reason)
        retired.lines.append(f"{row.generation_id} ({row.sku}/{row.photo_id}): {reason}")
    for look in session.scalars(
        select(LookGeneration).where(
            (LookGeneration.upper_sku.in_(skus)) | (LookGeneration.lower_sku.in_(skus)), LookGeneration.state.in_(_OPEN)
        )
    ):
        stale = [
            (sku, made_from)
            for sku, made_from in ((look.upper_sku, look.upper_garment_sha256), (look.lower_sku, look.lower_garment_sha256))
            if versions.get(sku, made_from) != made_from
        ]
        if not stale:
            continue
        if look.state == GenerationState.PUBLISHED.value:
            retired.deletions.append(storefront_look_key(look.look_id, look.photo_id))
            retired.dates.add(look.drop_date)
        move(look, GenerationState.SUPERSEDED, _stale_reason(stale[0][1], versions[stale[0][0]]))
        retired.lines.append(f"outfit {look.generation_id} ({look.upper_sku} + {look.lower_sku}): {look.reason}")


def keys_to_clear(session: Any, keys: list[str]) -> list[str]:
    """Of the storefront keys retiring freed, those no live publication holds again (a slot
    another generation took over keeps its object: it is copied again)."""
    live = set(
        session.scalars(
            select(Publication.storefront_key).where(Publication.state == LIVE, Publication.storefront_key.in_(set(keys)))
        )
    )
    return sorted(set(keys) - live)
