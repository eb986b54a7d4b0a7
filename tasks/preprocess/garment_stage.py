"""The garment stage of a drop: mask, canvas, perceptual hash and embedding for each valid
garment, stored content-addressed under ``garments/{sha256}/`` so the same bytes are processed
once; duplicates are recorded, not generated twice."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from sqlalchemy import select

from tasks.catalog.garments import GarmentEmbedding, GarmentMeta, load_garment, read_meta, write_cutout, write_meta
from tasks.context import RunContext
from tasks.images import decode_rgb
from tasks.items import AcceptedItem, made_so, quarantine, set_garment_state
from tasks.ledger import Garment, GarmentFingerprint, GarmentState, rows_in
from tasks.preprocess.backends import background_backend, embedding_backend
from tasks.preprocess.fingerprints import FingerprintIndex, Owner
from tasks.preprocess.garment import CUT_CHECKS, GarmentMaskDoubtful, GarmentMaskError, perceptual_hash, prepare_garment
from tasks.preprocess.masks import MODEL_HEIGHT, MODEL_WIDTH
from tasks.states import move
from tasks.worker_threads import each_on_threads


def embed_garment(ctx: RunContext, cloth: np.ndarray, mask: np.ndarray) -> GarmentEmbedding:
    """The garment's appearance embedding with the library's backend, at the size the library
    embeds worn garments (512x384), so the two are comparable."""
    embedder = embedding_backend(ctx.settings)
    small = cv2.resize(cloth, (MODEL_WIDTH, MODEL_HEIGHT), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.uint8), (MODEL_WIDTH, MODEL_HEIGHT), interpolation=cv2.INTER_NEAREST) > 0
    return GarmentEmbedding(embedder.backend, embedder(small, small_mask).tolist())


def known_fingerprints(ctx: RunContext, date: str) -> FingerprintIndex:
    """The fingerprints of garments from earlier drops that were generated (published or
    flagged; one that never got images must not block a later copy) and were not duplicates
    themselves, indexed in (drop date, SKU) order. Garments a ledger holds from before the
    fingerprint table are filed in it first (once)."""
    generated = (GarmentState.PUBLISHED.value, GarmentState.FLAGGED.value)
    earlier = (Garment.drop_date < date) & Garment.state.in_(generated)
    with ctx.ledger.session() as session:
        unfiled = (
            select(Garment)
            .outerjoin(GarmentFingerprint, GarmentFingerprint.garment_id == Garment.id)
            .where(earlier, GarmentFingerprint.garment_id.is_(None))
        )
        for garment in session.scalars(unfiled):
            if garment.meta.get("phash"):
                session.add(
                    GarmentFingerprint(
                        garment_id=garment.id, fingerprint=garment.meta["phash"], original=not garment.meta.get("duplicate_of")
                    )
                )
    index = FingerprintIndex()
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(GarmentFingerprint.fingerprint, Garment.sku, Garment.drop_date)
            .join(Garment, Garment.id == GarmentFingerprint.garment_id)
            .where(earlier, GarmentFingerprint.original)
            .order_by(Garment.drop_date, Garment.sku)
        )
        for fingerprint, sku, drop_date in rows:
            index.add(fingerprint, Owner(sku, drop_date))
    return index


def preprocess_garments(ctx: RunContext, date: str, items: list[AcceptedItem]) -> list[AcceptedItem]:
    """The whole garment stage in one call: ``prepare_garments`` over every item, then
    ``keep_originals`` (the DAG runs the first as mapped chunks and the second once)."""
    return keep_originals(ctx, date, prepare_garments(ctx, date, items))


def prepare_garments(ctx: RunContext, date: str, items: list[AcceptedItem]) -> list[AcceptedItem]:
    """Cloth mask, canvas, perceptual hash and embedding per garment (content-addressed under
    garments/{sha256}/), for one chunk of the drop: the items that were cut, with their hash and
    what made it recorded in the ledger (``preprocessed``) for ``keep_originals`` and a re-run;
    a garment that could not be cut is rejected, a doubtful cut quarantined. The garments are
    spread over the process's CPU threads. Chunks of one drop run side by side: each writes only
    its own garments' rows."""
    masker = background_backend(ctx.settings)
    embedder = embedding_backend(ctx.settings).backend
    made_by = _made_by(ctx, masker.backend, embedder)
    with ctx.ledger.session() as session:  # what earlier runs recorded, one query
        rows = rows_in(session, Garment.id, [item.garment_id for item in items])
        recorded = {g.id: g.meta.get("preprocessed") for g in rows}
    ordered = sorted(items, key=lambda item: item.sku)
    needed = [item for item in ordered if not made_so(recorded.get(item.garment_id), {"sha256": item.sha256, **made_by})]
    phashes = each_on_threads(lambda item: _prepare(ctx, date, item, masker, embedder), needed, ctx.settings.cpu_threads)
    made: dict[int, str] = {}  # garment id -> hash, not yet in the ledger
    not_cut: set[int] = set()
    for item, phash in zip(needed, phashes):
        if phash is None:
            not_cut.add(item.garment_id)
            continue
        made[item.garment_id] = phash
        if len(made) >= RECORD_CHUNK:
            _record_made(ctx, made, made_by, items)
    _record_made(ctx, made, made_by, items)
    return [item for item in ordered if item.garment_id not in not_cut]


def keep_originals(ctx: RunContext, date: str, items: list[AcceptedItem]) -> list[AcceptedItem]:
    """The gathering step after ``prepare_garments``: the prepared garments that are not the same
    as one seen first, earlier in this drop (by SKU order) or generated in an earlier drop; each
    other one is rejected as ``duplicate_of`` it and not generated again (``garment.same_garment``:
    hash within 8 bits of 64 and the same colour; re-shots and re-encodings measure 0-2 bits,
    distinct fixture garments 18 or more), found through the fingerprint index
    (``fingerprints.py``), not by comparing with every garment."""
    seen = known_fingerprints(ctx, date)
    with ctx.ledger.session() as session:
        phashes = {g.id: g.meta["preprocessed"]["phash"] for g in rows_in(session, Garment.id, [i.garment_id for i in items])}
    kept: list[AcceptedItem] = []
    decided: list[tuple[AcceptedItem, str, Owner | None]] = []  # not yet in the ledger
    for item in sorted(items, key=lambda item: item.sku):
        phash = phashes[item.garment_id]
        original = seen.find(phash)
        decided.append((item, phash, original))
        if original is None:
            seen.add(phash, Owner(item.sku, date))
            kept.append(item)
        if len(decided) >= RECORD_CHUNK:
            _record(ctx, decided)
    _record(ctx, decided)
    return kept


RECORD_CHUNK = 200  # garments whose outcome is written to the ledger in one transaction


def _made_by(ctx: RunContext, backend: str, embedder: str) -> dict[str, str]:
    """What the recorded outcome of a garment's preprocessing must match to stand: the backends
    that made its artifacts, the checks its cut-out passed, and the bucket they are in (a ledger
    pointed at another bucket finds none of them there)."""
    return {"backend": backend, "embedding_backend": embedder, "checks": CUT_CHECKS, "bucket": ctx.store.bucket}


def _record_made(ctx: RunContext, made: dict[int, str], made_by: dict[str, str], items: list[AcceptedItem]) -> None:
    """Record for these garments (id -> hash) what made their artifacts, in one transaction, and
    empty the dict."""
    if not made:
        return
    sha = {item.garment_id: item.sha256 for item in items}
    with ctx.ledger.session() as session:
        for row in rows_in(session, Garment.id, list(made)):
            phash = made[row.id]
            row.meta = row.meta | {"phash": phash, "preprocessed": {**made_by, "sha256": sha[row.id], "phash": phash}}
    made.clear()


def _record(ctx: RunContext, decided: list[tuple[AcceptedItem, str, Owner | None]]) -> None:
    """Write what was decided for these garments (their fingerprint, and preprocessed or
    rejected as a duplicate) in one transaction, and empty the list."""
    if not decided:
        return
    ids = [item.garment_id for item, _, _ in decided]
    with ctx.ledger.session() as session:
        rows = {g.id: g for g in rows_in(session, Garment.id, ids)}
        filed = {f.garment_id: f for f in rows_in(session, GarmentFingerprint.garment_id, ids)}
        for item, phash, original in decided:
            row = rows[item.garment_id]
            row.meta = {k: v for k, v in row.meta.items() if k != "duplicate_of"} | {"phash": phash}
            fingerprint = filed.get(item.garment_id) or GarmentFingerprint(garment_id=item.garment_id)
            fingerprint.fingerprint, fingerprint.original = phash, original is None
            session.add(fingerprint)
            if original:
                row.meta = row.meta | {"duplicate_of": {"sku": original.sku, "drop_date": original.drop_date}}
                move(row, GarmentState.REJECTED, f"duplicate_of: {original.sku} ({original.drop_date})")
            else:
                move(row, GarmentState.PREPROCESSED)
    decided.clear()


def _prepare(ctx: RunContext, date: str, item: AcceptedItem, masker: Any, embedder: str) -> str | None:
    """Cut, canvas, fingerprint and embed one garment unless its content-addressed artifacts
    were made so already; its perceptual hash, or None when it was rejected (no garment cut) or quarantined (a doubtful cut)."""
    meta = read_meta(ctx, item.sha256)
    if meta is None or meta.backend != masker.backend or meta.checks != CUT_CHECKS:
        try:
            garment = prepare_garment(decode_rgb(ctx.store.get_bytes(item.image_key)), masker)
        except GarmentMaskDoubtful as error:  # a person should look at it: the photo kept with the reason
            quarantine(ctx, date, item, str(error), [item.image_key])
            return None
        except GarmentMaskError as error:
            set_garment_state(ctx, item.garment_id, GarmentState.REJECTED, str(error))
            return None
        write_cutout(ctx, item.sha256, garment.cloth, garment.mask)
        meta = GarmentMeta(
            sha256=item.sha256,
            source_key=item.image_key,
            backend=garment.backend,
            mask_method=garment.method,
            phash=perceptual_hash(garment.cloth, garment.mask),
            embedding=embed_garment(ctx, garment.cloth, garment.mask),
            checks=CUT_CHECKS,
        )
        write_meta(ctx, meta)
    elif meta.embedding.backend != embedder:
        meta.embedding = embed_garment(ctx, *load_garment(ctx, item.sha256))
        write_meta(ctx, meta)
    return meta.phash
