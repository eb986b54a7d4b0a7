"""The storefront gate: the one module that decides whether an image may enter ``storefront/`` or
must leave it, and the only one that writes there (generation images, full-outfit images, look
files, the manifests). Publishing, a reviewer's approval, a spot check's rejection, the
full-outfit and looks stages and ``tryon audit`` all call it.

What may enter: an image a reviewer approved; otherwise one that passed QC, made by a model
every weight of which the registry marks released *now* (:class:`Gate` asks at publish time,
the same way for every path), into a slot that holds no reviewer's approval. What must leave: a
withdrawn or rejected image, one made from a garment version a re-shoot replaced
(:func:`retire_stale`), one whose garment left its drop.

In the ledger, a slot (``storefront/{sku}/{photo_id}.jpg``) has at most one live publication.
Publishing a generation retires the slot's earlier one in the same transaction; withdrawing one
retires it. The ledger changes first; the objects are copied or deleted after the transaction
commits, and the manifests rewritten last.

A garment is its content, not its file name: a SKU's **current version** is the image sha256
of its latest accepted drop (:func:`current_versions`). Whatever was made from another version
is retired with the reason ``superseded_by_reshoot``; what was made of a garment whose folder
left the drop, with ``withdrawn``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from tasks.context import RunContext
from tasks.inference.engine import Release
from tasks.ledger import (
    IN_LIST,
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    LookGeneration,
    Publication,
    ReviewDecision,
    utcnow,
)
from tasks.settings import Settings
from tasks.states import PublicationState, initial, move
from tasks.storage import STOREFRONT, ObjectStore, look_file_key, storefront_key, storefront_look_key, storefront_manifest_key

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
        move(earlier, SUPERSEDED, f"superseded: the slot now holds {row.generation_id}")
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


PREVIEW, REPLACES_APPROVED = "preview", "replaces_approved"  # why a generation that passed QC still waits for a reviewer


def preview_reason(note: str) -> str:
    return f"{PREVIEW}: passed QC, but {note}; a reviewer decides"


def flag_cause(reason: str | None) -> str:
    """Why a flagged generation waits for a reviewer: ``failed_qc``, or it passed QC and is a
    ``preview`` (its model is not released) or ``replaces_approved`` (its slot holds an approved image)."""
    cause = (reason or "").split(":", 1)[0]
    return cause if cause in (PREVIEW, REPLACES_APPROVED) else "failed_qc"


def manifest_entries(ctx: RunContext, date: str) -> list[dict[str, Any]]:
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(Publication, Generation)
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .where(Publication.drop_date == date, Publication.state == LIVE)
            .order_by(Publication.sku, Publication.photo_id)
        ).all()
        return [
            {
                "sku": pub.sku,
                "photo_id": pub.photo_id,
                "key": pub.storefront_key,
                "generation_id": gen.generation_id,
                "category": gen.category,
                "engine": gen.engine,
                "model_version": gen.model_version,
                "weights_sha256": gen.weights_sha256,
                "seed": gen.seed,
            }
            for pub, gen in rows
        ]


class StorefrontIncomplete(RuntimeError):
    """Published generations whose storefront image is missing: left out of the manifest."""


@dataclass
class ManifestWrite:
    entries: list[dict[str, Any]]
    missing: list[str]  # storefront keys of live publications without their object


@dataclass
class SlotCheck:
    """A live publication held against the objects: ``missing`` when its storefront image is not
    there, ``stale`` when the slot holds another image than its generation's, ``not_published``
    when its generation is no longer in the published state, ``superseded_version`` when it was
    made from another garment version than the SKU's current one (a re-shoot)."""

    publication: Publication
    generation: Generation
    problem: str | None
    source_exists: bool


def check_storefront(ctx: RunContext, date: str) -> list[SlotCheck]:
    """Every live publication of ``date``, each with what is wrong with its storefront slot."""
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(Publication, Generation)
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .where(Publication.drop_date == date, Publication.state == LIVE)
        ).all()
        versions = current_versions(session, {publication.sku for publication, _ in rows})
    checks = []
    for publication, generation in rows:
        slot, source = ctx.store.head(publication.storefront_key), ctx.store.head(generation.object_key or "")
        problem = None
        if generation.state != GenerationState.PUBLISHED.value:
            problem = "not_published"
        elif made_from_old_version(generation, versions):
            problem = "superseded_version"
        elif slot is None:
            problem = "missing"
        elif source is not None and (slot.etag, slot.size) != (source.etag, source.size):
            problem = "stale"
        checks.append(SlotCheck(publication, generation, problem, source is not None))
    return checks


def restore_storefront(ctx: RunContext, date: str) -> list[str]:
    """Copy the generation's image into every slot of ``date`` that is missing it or holds
    another image, and every published full-outfit image of ``date`` that is missing; returns
    the keys copied. A slot whose generation's image is lost too is left to ``tryon audit
    --repair`` (it plans the generation again)."""
    copied = []
    for check in check_storefront(ctx, date):
        if check.problem in ("missing", "stale") and check.source_exists:
            ctx.store.copy(check.generation.stored_key, check.publication.storefront_key)
            copied.append(check.publication.storefront_key)
    with ctx.ledger.session() as session:
        outfits = session.execute(
            select(LookGeneration.look_id, LookGeneration.photo_id, LookGeneration.object_key).where(
                LookGeneration.drop_date == date, LookGeneration.state == GenerationState.PUBLISHED.value
            )
        ).all()
    for look_id, photo_id, source in outfits:
        target = storefront_look_key(look_id, photo_id)
        if source and not ctx.store.exists(target) and ctx.store.exists(source):
            ctx.store.copy(source, target)
            copied.append(target)
    return copied


def _approved_elsewhere(session: Any, row: Generation) -> str | None:
    """The id of another generation whose approved image now holds this one's storefront slot."""
    current = session.scalar(
        select(Publication).where(
            Publication.sku == row.sku,
            Publication.photo_id == row.photo_id,
            Publication.state == LIVE,
            Publication.generation_id != row.generation_id,
        )
    )
    if current is None:
        return None
    approved = session.scalar(
        select(ReviewDecision).where(ReviewDecision.generation_id == current.generation_id, ReviewDecision.decision == "approved")
    )
    return current.generation_id if approved is not None else None


def outfit_entries(ctx: RunContext, date: str) -> list[dict[str, Any]]:
    """The date's published full-outfit images (``storefront/looks/{look_id}/{photo_id}.jpg``)."""
    with ctx.ledger.session() as session:
        rows = session.scalars(
            select(LookGeneration)
            .where(LookGeneration.drop_date == date, LookGeneration.state == GenerationState.PUBLISHED.value)
            .order_by(LookGeneration.look_id, LookGeneration.photo_id)
        ).all()
        return [
            {
                "look_id": row.look_id,
                "photo_id": row.photo_id,
                "key": storefront_look_key(row.look_id, row.photo_id),
                "generation_id": row.generation_id,
                "upper_sku": row.upper_sku,
                "lower_sku": row.lower_sku,
                "engine": row.engine,
                "model_version": row.model_version,
                "weights_sha256": row.weights_sha256,
                "seed": row.seed,
            }
            for row in rows
        ]


def manifest_keys(manifest: dict[str, Any]) -> list[str]:
    """Every storefront object a manifest document lists (``write_manifest``'s sections)."""
    return [entry["key"] for section in ("items", "outfits", "look_files") for entry in manifest.get(section, [])]


def write_manifest(ctx: RunContext, date: str) -> ManifestWrite:
    """The date's storefront manifest, in one PUT (a reader sees the old manifest or the new
    one): every storefront object the date stands behind. ``items``: the live publications of
    its generations; ``outfits``: its published full-outfit images; ``look_files``: the look
    files of its SKUs on the storefront. Every key is checked first: one whose object is not in
    the store is left out (a publication's is returned in ``missing``), so the manifest never
    points at nothing. The looks and full-outfit stages write it again after publishing."""
    entries: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for entry in manifest_entries(ctx, date):
        (entries if ctx.store.exists(entry["key"]) else missing).append(entry)
    outfits = [entry for entry in outfit_entries(ctx, date) if ctx.store.exists(entry["key"])]
    skus = sorted({entry["sku"] for entry in entries})
    look_files = [{"sku": sku, "key": look_file_key(sku)} for sku in skus if ctx.store.exists(look_file_key(sku))]
    document = {"date": date, "count": len(entries), "items": entries, "outfits": outfits, "look_files": look_files}
    ctx.store.put_json(storefront_manifest_key(date), document)
    return ManifestWrite(entries=entries, missing=[entry["key"] for entry in missing])


class Gate:
    """Admission to the storefront for one run (or one decision): the release status of each
    model behind an image asked once of the registry, now (``tasks.inference.factory.release_of``)."""

    def __init__(self, settings: Settings) -> None:
        from tasks.inference.factory import ReleaseLookup

        self._releases = ReleaseLookup(settings)

    def release(self, row: Generation | LookGeneration) -> Release:
        return self._releases(row)

    def admit_generation(self, session: Any, row: Generation) -> set[str]:
        """A generation that passed QC enters its slot (``published``; the slot's earlier one
        retired) unless its slot holds a reviewer's approval (``replaces_approved``) or its model
        is not released now (``preview``): then it waits for a reviewer (``flagged``). Returns
        the dates whose manifests change."""
        approved = _approved_elsewhere(session, row)
        if approved is not None:  # a reviewer's approval is never replaced without a reviewer
            move(
                row,
                GenerationState.FLAGGED,
                f"{REPLACES_APPROVED}: the storefront image of {row.sku}/{row.photo_id} was approved in review ({approved})",
            )
            return set()
        release = self.release(row)
        if not release.released:  # a preview waits for a reviewer, whatever QC says
            move(row, GenerationState.FLAGGED, preview_reason(release.note))
            return set()
        return record_publication(session, row)

    def admit_look(self, store: ObjectStore, row: LookGeneration) -> str | None:
        """A full-outfit image that passed QC enters ``storefront/looks/`` only when its model is
        released now (else it waits for a reviewer, ``flagged``); one published already is put
        back if its object went missing. Returns the storefront key, or None."""
        if row.state == GenerationState.PASSED.value:
            release = self.release(row)
            if not release.released:
                move(row, GenerationState.FLAGGED, preview_reason(release.note))
                return None
        if row.state not in (GenerationState.PASSED.value, GenerationState.PUBLISHED.value) or row.object_key is None:
            return None
        target = storefront_look_key(row.look_id, row.photo_id)
        if not store.exists(target):
            store.copy(row.object_key, target)
        move(row, GenerationState.PUBLISHED, row.reason)
        return target


def approve_generation(ctx: RunContext, session: Any, row: Generation) -> set[str]:
    """A reviewer's approval (the row moved to ``published`` by the decision): the generation
    takes its slot, in the caller's transaction; :func:`place` copies it after the commit."""
    if made_from_old_version(row, current_versions(session, {row.sku})):
        raise StaleVersion(
            f"generation {row.generation_id} was made from a photo of {row.sku} that a re-shoot replaced: "
            "the next run of the date makes the new one"
        )
    return record_publication(session, row)


class StaleVersion(ValueError):
    """An image made from a garment version a re-shoot replaced: it may never enter."""


def place(store: ObjectStore, row: Generation) -> str:
    """Copy an admitted generation's image into its slot (after the decision committed)."""
    key = storefront_key(row.sku, row.photo_id)
    store.copy(row.stored_key, key)
    return key


def place_look(store: ObjectStore, row: LookGeneration) -> str:
    """Copy a full-outfit image a reviewer approved into ``storefront/looks/``."""
    key = storefront_look_key(row.look_id, row.photo_id)
    store.copy(row.object_key or "", key)
    return key


def keys_to_clear(session: Any, keys: list[str]) -> list[str]:
    """Of the storefront keys retiring freed, those no live publication holds again (a slot
    another generation took over keeps its object: it is copied again)."""
    live = set(
        session.scalars(
            select(Publication.storefront_key).where(Publication.state == LIVE, Publication.storefront_key.in_(set(keys)))
        )
    )
    return sorted(set(keys) - live)


def clear(store: ObjectStore, keys: list[str] | set[str]) -> None:
    """Delete storefront objects that must leave (after the ledger says so)."""
    for key in sorted(keys):
        if not key.startswith(STOREFRONT):
            raise ValueError(f"not a storefront key: {key}")
        store.delete(key)


def put_look_file(store: ObjectStore, sku: str, document: dict[str, Any]) -> bool:
    """Write the SKU's look file (``storefront/looks/{sku}.json``); False when it already says so."""
    key = look_file_key(sku)
    if store.get_json_or_none(key) == document:
        return False
    store.put_json(key, document)
    return True
