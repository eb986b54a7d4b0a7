"""Erasure of a model photo (``tryon library erase PHOTO --reason ...``, the ``erase`` param of
model_library; docs/rights.md): the person in it asked, or their release was withdrawn for good.

Everything made from the photo goes: the photo, its preprocessing artefacts, every generation
and full-outfit image made on it (their sidecars, credentialed copies, review copies, report
thumbnails), their storefront images, and the look-file entries that showed them. In the
ledger, its generations and their QC results, decisions and publications are deleted, and so
is the photo's row; an :class:`~tasks.ledger.Erasure` record keeps what was removed, when, by
whom and why (no image data). The manifests and QC tables of the dates touched, and their
reports, are written again; model_library then rebuilds the index, the clusters and the
outfits without it (the photos changed) and retrains the looks model when the outfits did.

What counts as derived (:func:`derived`) is one rule, which :func:`erasure_findings` (``tryon
audit --erased``) asks of every object in the bucket: a key with the photo's id or one of its
generations' ids as a path segment; an object with the photo's own content (its ETag); a text
object (JSON, CSV, HTML, YAML) that names the photo's sha256. The garment drops are never
touched: nothing in them came from a model photo.

The talent release's rows stay in the ledger: they are the record of the person's consent and
hold no image.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from tasks.catalog.run_summary import SUMMARY
from tasks.context import RunContext
from tasks.ledger import (
    Erasure,
    Generation,
    LookGeneration,
    ModelPhoto,
    Publication,
    QCResult,
    ReviewDecision,
)
from tasks.states import settle
from tasks.storage import (
    STOREFRONT,
    ObjectInfo,
    generation_stem,
    library_photo_id,
    library_photos_prefix,
    look_file_key,
    qc_table_key,
    report_key,
    storefront_look_key,
)
from tasks.storefront.objects import clear, put_look_file, write_manifest
from tasks.storefront.slots import LIVE
from tasks.storefront.withdrawals import mended_look_files

NEVER_DERIVED = ("drops/",)  # the garment drops: nothing in them came from a model photo
TEXT_SUFFIXES = (".json", ".csv", ".html", ".yaml", ".yml", ".txt")


class ErasureError(ValueError):
    """The photo to erase is not known, or the request is incomplete."""


@dataclass(frozen=True)
class Erased:
    """What one photo's erasure is about: the rule :func:`derived` applies."""

    photo_id: str
    sha256: str | None
    etag: str | None
    generation_ids: frozenset[str]


@dataclass
class ErasureDone:
    photo_id: str
    generations: int = 0
    outfits: int = 0
    removed: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"erased photo {self.photo_id}: {self.generations} generation(s) and {self.outfits} full-outfit image(s) "
            f"made on it, {len(self.removed)} object(s) removed; manifests of {', '.join(self.dates) or 'no date'} written again"
        ]
        return "\n".join(lines + [f"  note: {note}" for note in self.notes])


def _segments(key: str) -> set[str]:
    """Each path segment of ``key``, with and without its extension."""
    names = set()
    for part in key.split("/"):
        names |= {part, part.rsplit(".", 1)[0], generation_stem(part)}
    return names


def derived(key: str, info: ObjectInfo, erased: Erased, text: bytes | None = None) -> bool:
    """Whether the object at ``key`` came from the erased photo (the module docstring's rule);
    ``text``: the object's bytes, for a text object."""
    if key.startswith(NEVER_DERIVED):
        return False
    if _segments(key) & ({erased.photo_id} | erased.generation_ids):
        return True
    if erased.etag is not None and info.etag == erased.etag:
        return True
    return bool(text is not None and erased.sha256 and erased.sha256.encode() in text)


def _is_text(key: str) -> bool:
    return key.lower().endswith(TEXT_SUFFIXES)


def derived_objects(ctx: RunContext, erased: Erased) -> list[str]:
    """Every object in the bucket that :func:`derived` says came from the photo (the bucket
    listed once; a text object is read only when its key does not already decide)."""
    found = []
    for key, info in ctx.store.list_objects(""):
        if derived(key, info, erased):
            found.append(key)
        elif _is_text(key) and not key.startswith(NEVER_DERIVED) and erased.sha256:
            if derived(key, info, erased, ctx.store.get_bytes_or_none(key)):
                found.append(key)
    return found


def _photo(session: Any, ctx: RunContext, photo: str) -> tuple[str, str | None, str | None]:
    """The photo's id, sha256 and ETag, from its id or its file name."""
    photo_id = library_photo_id(photo)
    row = session.get(ModelPhoto, photo_id)
    keys = [k for k in ctx.store.list_keys(library_photos_prefix()) if library_photo_id(k) == photo_id]
    if row is None and not keys:
        raise ErasureError(f"no model photo {photo_id!r} in the ledger or under {library_photos_prefix()}")
    source = row.source_key if row is not None else keys[0]
    info = ctx.store.head(source)
    return photo_id, row.sha256 if row is not None else None, info.etag if info is not None else None


def erase_photo(ctx: RunContext, photo: str, reason: str, by: str) -> ErasureDone:
    """Erase ``photo`` (its id or file name) and everything made from it (the module docstring).
    The ledger changes in one transaction, with the erasure record; the objects are removed
    after it committed (a crash between the two leaves what ``tryon audit --erased`` finds and
    ``--repair`` removes)."""
    if not reason.strip():
        raise ErasureError("an erasure needs a reason (--reason): it is kept in the erasure record")
    if not by.strip():
        raise ErasureError("an erasure needs who asked for it (--by)")
    with ctx.ledger.session(exclusive=True) as session:
        photo_id, sha256, etag = _photo(session, ctx, photo)
        generations = list(session.scalars(select(Generation).where(Generation.photo_id == photo_id)))
        outfits = list(session.scalars(select(LookGeneration).where(LookGeneration.photo_id == photo_id)))
        gids = {g.generation_id for g in generations} | {o.generation_id for o in outfits}
        dates = {g.drop_date for g in generations} | {o.drop_date for o in outfits}
        erased = Erased(photo_id, sha256, etag, frozenset(gids))
        removed = derived_objects(ctx, erased)
        live_before = set(session.scalars(select(Publication.storefront_key).where(Publication.state == LIVE)))
        ids = [g.generation_id for g in generations]
        for table in (QCResult, ReviewDecision, Publication):
            session.execute(delete(table).where(table.generation_id.in_(ids)))
        garments = {g.garment_id for g in generations}
        for row in [*generations, *outfits]:
            session.delete(row)
        photo_row = session.get(ModelPhoto, photo_id)
        if photo_row is not None:
            session.delete(photo_row)
        session.flush()
        settle(session, list(session.scalars(select(Generation).where(Generation.garment_id.in_(garments)))))
        still_live = set(session.scalars(select(Publication.storefront_key).where(Publication.state == LIVE)))
        withdrawn = (live_before - still_live) | {storefront_look_key(o.look_id, o.photo_id) for o in outfits}
        mended = mended_look_files(ctx, withdrawn, still_live)
        removed += [look_file_key(f.sku) for f, _, kept in mended if kept is None]
        session.add(
            Erasure(
                photo_id=photo_id,
                photo_sha256=sha256,
                photo_etag=etag,
                reason=reason,
                erased_by=by,
                generation_ids=sorted(gids),
                removed=removed,
            )
        )
    done = ErasureDone(photo_id, len(generations), len(outfits), removed, sorted(dates))
    remove_remains(ctx, removed)
    for _, _, kept in mended:
        if kept is not None:
            put_look_file(ctx.store, kept)
    for date in done.dates:
        write_manifest(ctx, date)
        _rewrite_qc_table(ctx, date, gids)
        done.notes += _rewrite_report(ctx, date)
    return done


def remove_remains(ctx: RunContext, keys: list[str]) -> None:
    """Delete objects derived from an erased photo (storefront ones through the storefront's own
    ``clear``)."""
    clear(ctx.store, [key for key in keys if key.startswith(STOREFRONT)])
    for key in keys:
        if not key.startswith(STOREFRONT):
            ctx.store.delete(key)


def _rewrite_qc_table(ctx: RunContext, date: str, gids: set[str]) -> None:
    """The date's QC table without the rows of the erased generations."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    key = qc_table_key(date)
    data = ctx.store.get_bytes_or_none(key)
    if data is None:
        return
    table = pq.read_table(io.BytesIO(data))
    kept = table.filter(pc.invert(pc.is_in(table["generation_id"], value_set=pa.array(sorted(gids), pa.string()))))
    if kept.num_rows != table.num_rows:
        out = io.BytesIO()
        pq.write_table(kept, out)
        ctx.store.put_bytes(key, out.getvalue(), "application/vnd.apache.parquet")


def _rewrite_report(ctx: RunContext, date: str) -> list[str]:
    """The date's report written again without the erased images; a note when it cannot be."""
    from tasks.report import write_report

    if not ctx.store.exists(report_key(date, SUMMARY)):
        return []
    try:
        write_report(ctx, date)
    except Exception as error:  # the erasure stands; the report says what it said until the next run
        return [f"the report of {date} was not written again ({type(error).__name__}: {error}); the next run of the date does"]
    return []


def erasure_findings(ctx: RunContext) -> list[tuple[Erasure, str]]:
    """Per erasure on record, every object the bucket still holds that came from its photo."""
    with ctx.ledger.session() as session:
        records = list(session.scalars(select(Erasure).order_by(Erasure.id)))
        session.expunge_all()
    return [
        (record, key)
        for record in records
        for key in derived_objects(
            ctx, Erased(record.photo_id, record.photo_sha256, record.photo_etag, frozenset(record.generation_ids))
        )
    ]
