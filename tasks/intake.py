"""Discovery and validation of a drop: ``drops/{date}/{sku}/`` with garment image(s) and a
``meta.json`` carrying the category (or a row of the drop's ``manifest.csv``, columns ``sku``
and ``category``, which fills a category the meta.json lacks). Every SKU found gets a ledger
row; the unusable ones end ``quarantined`` (original bytes and ``reason.json`` under
``quarantine/{date}/{sku}/``) or ``rejected`` (unsafe SKU names, never used in a key).

Validation reasons: ``empty_file``, ``not_an_image``, ``unsupported_format`` (not JPEG, PNG or
WebP), ``corrupt_image``, ``too_large`` (over 40 megapixels, refused from the header),
``too_small`` (short side under 256 px), ``extreme_aspect_ratio`` (one side over 3 times the
other), ``trailing_data`` (bytes after the image's end: JPEG EOI, PNG IEND, WebP's RIFF length),
``polyglot_markup`` (its metadata holds HTML or script; ``tasks.image_containers``), ``garment_worn_by_person`` (try-on needs product
shots; ``preprocess.garment.worn_by_person``). Accepted and recorded in the garment's ``meta.intake_notes``: ``alpha_composited``,
``converted_from_cmyk``, ``converted_from_16bit``, ``converted_from_grayscale``,
``exif_rotated``, ``mpo_first_frame``. Several images for one SKU: the first by file name is the primary, the
others are recorded in ``meta.extra_images``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from sqlalchemy import select

from tasks.context import RunContext
from tasks.drop_documents import InputError, Manifest, parse_meta, shown
from tasks.drops import SAFE_SKU, keep_reading, ledger_label, read_drop
from tasks.images import ImageDecodeError, decode_image, sha256_hex
from tasks.items import AcceptedItem, DropItem, made_so, quarantine
from tasks.ledger import Garment, GarmentState, row_of
from tasks.settings import CATEGORIES
from tasks.states import move
from tasks.storage import RESERVED_SKU_NAMES, drop_prefix, garment_artifact_key, is_outage, is_reserved_sku
from tasks.worker_threads import each_on_threads

logger = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MIN_SHORT_SIDE = 256
MAX_ASPECT = 3.0  # a garment photo taller or wider than 3:1 is a banner or a strip: its try-ons come out distorted


# what a garment's meta keeps when discovery writes it anew from the drop's meta.json: facts that
# name the content they hold for and so stay true while it is the same (the intake verdict, for
# the image's listed version; the preprocessing, for the sha256 and the backends that made it)
KEPT_META = ("intake_verdict", "preprocessed")


class GarmentRows:
    """Discovery's writes of a date's garment rows, ``UPSERTS_PER_COMMIT`` to a transaction (a
    drop of thousands of SKUs, not a transaction each). ``commit`` before anything else writes
    a row this one may hold (a quarantine)."""

    def __init__(self, ctx: RunContext, date: str) -> None:
        self.ctx, self.date = ctx, date
        with ctx.ledger.session() as session:  # each SKU's meta.json as read before, and its version in the listing
            self.drop_meta = {
                sku: (meta or {}).get("drop_meta")
                for sku, meta in session.execute(select(Garment.sku, Garment.meta).where(Garment.drop_date == date))
            }
        self.open: ExitStack | None = None
        self.session: Any = None
        self.pending = 0

    def upsert(self, sku: str, state: GarmentState, reason: str | None, **values: Any) -> int:
        """Record the drop's garment ``sku`` (a row for the date, new or found again) in ``state``."""
        if self.open is None:
            self.open = ExitStack()
            self.session = self.open.enter_context(self.ctx.ledger.session())
        garment = self.session.scalar(select(Garment).where(Garment.drop_date == self.date, Garment.sku == sku))
        if garment is None:
            garment = Garment(drop_date=self.date, sku=sku)
            self.session.add(garment)
        if "meta" in values:
            values["meta"] = {**values["meta"], **{k: garment.meta[k] for k in KEPT_META if k in (garment.meta or {})}}
        for key, value in values.items():
            setattr(garment, key, value)
        move(garment, state, reason)
        self.session.flush()
        self.pending += 1
        garment_id = garment.id
        if self.pending >= UPSERTS_PER_COMMIT:
            self.commit()
        return garment_id

    def commit(self) -> None:
        if self.open is not None:
            self.open.close()
            self.open, self.session, self.pending = None, None, 0


UPSERTS_PER_COMMIT = 200


def discover(ctx: RunContext, date: str) -> list[DropItem]:
    """Find the drop's SKUs and record each; return the ones worth validating. One SKU's bad
    input (or an error while reading it) ends that SKU quarantined with its reason; the drop
    goes on. The drop is read once (``tasks.drops.read_drop``) and the reading kept for the
    stages after this one."""
    reading = read_drop(ctx, date)
    listing, manifest = reading.listing, reading.manifest
    rows = GarmentRows(ctx, date)
    for key in listing.root_files:  # a file beside the SKU folders: recorded, never silently skipped
        name, label = key.rsplit("/", 1)[-1], listing.root_label(key)
        reason = f"outside_sku_folder: {shown(name)} is not inside a drops/{date}/{{sku}}/ folder"
        if ledger_label(name) != name:  # never used in a key
            rows.upsert(label, GarmentState.REJECTED, reason, source_key=None)
            continue
        garment_id = rows.upsert(label, GarmentState.DISCOVERED, None, source_key=key)
        rows.commit()
        quarantine(ctx, date, DropItem(sku=label, garment_id=garment_id, image_key=None, category=None), reason, [key])

    items = []
    try:
        for sku, keys in sorted(listing.by_sku.items()):
            if not SAFE_SKU.fullmatch(sku):
                rows.upsert(
                    ledger_label(sku), GarmentState.REJECTED, f"unsafe_sku: {shown(sku)} is not a safe name", source_key=None
                )
                continue
            try:
                item = _discover_sku(ctx, date, sku, keys, manifest, listing.versions, rows)
            except Exception as error:  # one SKU's surprise never ends the drop's discovery (an outage does)
                if is_outage(error):
                    raise
                logger.exception("discovering %s failed", sku)
                rows.commit()
                garment_id = rows.upsert(sku, GarmentState.DISCOVERED, None)
                rows.commit()
                quarantine(
                    ctx,
                    date,
                    DropItem(sku=sku, garment_id=garment_id, image_key=None, category=None),
                    f"intake_error: {type(error).__name__}: {shown(str(error), 300)}",
                    keys,
                )
                continue
            if item is not None:
                items.append(item)
    finally:
        rows.commit()
    withdrawn = withdraw_missing(ctx, date, set(listing.input_labels()))
    if withdrawn:
        reading.warnings.append(
            f"withdrawn: {len(withdrawn)} SKU(s) recorded by an earlier run are no longer in the drop: {', '.join(withdrawn[:20])}"
        )
    keep_reading(ctx, reading)
    return items


def withdraw_missing(ctx: RunContext, date: str, labels: set[str]) -> list[str]:
    """Garments an earlier run of the date recorded whose input has left the drop (a SKU folder
    deleted, a stray file removed) end ``withdrawn``: publishing retires what was made of them
    (``tasks/publish.py``). Returns their labels."""
    gone = []
    with ctx.ledger.session() as session:
        for garment in session.scalars(select(Garment).where(Garment.drop_date == date)):
            if garment.sku not in labels and garment.state != GarmentState.WITHDRAWN.value:
                move(
                    garment,
                    GarmentState.WITHDRAWN,
                    f"withdrawn: no longer in drops/{date}/ (was {garment.state}); its images are withdrawn too",
                )
                gone.append(garment.sku)
    return sorted(gone)


def _discover_sku(
    ctx: RunContext, date: str, sku: str, keys: list[str], manifest: Manifest, versions: dict[str, str], rows: GarmentRows
) -> DropItem | None:
    """Record one SKU folder; None when it ended quarantined."""
    images = sorted(k for k in keys if k.lower().endswith(IMAGE_EXTENSIONS))
    meta_key = f"{drop_prefix(date)}{sku}/meta.json"
    meta: dict[str, Any] = {}
    problem = None
    read_before = rows.drop_meta.get(sku) or {}
    if meta_key in keys and read_before.get("version") == versions.get(meta_key):  # the same meta.json as last run
        meta = read_before["meta"]
    elif meta_key in keys:
        try:
            meta = parse_meta(ctx.store.get_bytes(meta_key))
        except InputError as error:
            problem = str(error)
    drop_meta = {"drop_meta": {"version": versions.get(meta_key), "meta": meta}} if meta_key in keys and problem is None else {}
    category = meta.get("category")
    if category is None and sku in manifest.row_errors:
        problem = problem or manifest.row_errors[sku]
    elif category is None and manifest.error:
        problem = problem or f"manifest_unreadable: {manifest.error}"
    elif category is None:
        category = manifest.rows.get(sku, {}).get("category") or None
    # the garment image's rights owner (issue 34): meta.json's ``rights_owner``, else the manifest's column
    owner = meta.get("rights_owner") or manifest.rows.get(sku, {}).get("rights_owner")
    # the primary image is the first by name; the others are recorded, not generated
    garment_id = rows.upsert(
        sku,
        GarmentState.DISCOVERED,
        None,
        category=category if category in CATEGORIES else None,
        source_key=images[0] if images else None,
        meta={**meta, "extra_images": images[1:], **drop_meta, **({"rights_owner": str(owner)} if owner else {})},
    )
    item = DropItem(
        sku=sku,
        garment_id=garment_id,
        image_key=images[0] if images else None,
        category=category,
        extra_keys=images[1:],
        image_version=versions.get(images[0]) if images else None,
    )
    if is_reserved_sku(sku):
        problem = (
            f"reserved_name: {shown(sku)} names a prefix the storefront and review layouts keep for themselves "
            f"({', '.join(sorted(RESERVED_SKU_NAMES))}); rename the SKU folder"
        )
    elif not images:
        problem = "no_image: no image file (.jpg, .jpeg, .png, .webp)"
    elif problem is None and category not in CATEGORIES:
        reason = "category_missing" if category is None else f"category_unknown: {shown(category)}"
        problem = f"{reason} (expected one of {', '.join(CATEGORIES)} in meta.json or manifest.csv)"
    if problem is not None:
        rows.commit()
        quarantine(ctx, date, item, problem, keys)
        return None
    return item


def validate(ctx: RunContext, date: str, items: list[DropItem]) -> list[AcceptedItem]:
    """Decode each primary image with a named reason for every refusal; quarantine photos of
    the garment worn by a person. Adds the sha256; records what was converted. The items are
    spread over the process's CPU threads."""
    from tasks.preprocess.backends import pose_backend

    pose = pose_backend(ctx.settings)
    with ctx.ledger.session() as session:  # what earlier runs recorded, one query
        recorded = {g.id: (g.sha256, dict(g.meta)) for g in session.scalars(select(Garment).where(Garment.drop_date == date))}

    def one(item: DropItem) -> tuple[DropItem | None, Exception | None]:
        try:
            return _validate_item(ctx, date, item, pose, recorded.get(item.garment_id, (None, {}))), None
        except Exception as error:  # one SKU's surprise never ends the drop's validation (an outage does)
            if is_outage(error):
                raise
            return None, error

    valid = []
    for item, (checked, error) in zip(items, each_on_threads(one, items, ctx.settings.cpu_threads)):
        if error is not None:
            logger.error("validating %s failed", item.sku, exc_info=error)
            quarantine(
                ctx,
                date,
                item,
                f"intake_error: {type(error).__name__}: {shown(str(error), 300)}",
                [item.image_key] if item.image_key else [],
            )
            continue
        if checked is not None:
            valid.append(AcceptedItem.of(checked))
    return valid


def _validate_item(
    ctx: RunContext, date: str, item: DropItem, pose: Any, recorded: tuple[str | None, dict[str, Any]]
) -> DropItem | None:
    """Decode the primary image and ask whether a person wears the garment. The verdict on a
    decodable image is kept with the content (``garments/{sha256}/intake.json``, with the pose
    backend and the version of the test that made it), so the same bytes are not decoded and
    asked again by a re-run or a later drop; and with the garment's ledger row (``recorded``:
    its sha256 and meta) under the image's version in the listing, so a re-run of an
    unchanged drop does not read the image at all."""
    from tasks.preprocess.garment import WORN_BY_PERSON_VERSION, worn_by_person

    if item.image_key is None:  # discovery quarantines a SKU without an image
        raise ValueError(f"{item.sku} reached validation without an image")
    image_key = item.image_key
    made_by = {"pose_backend": getattr(pose, "backend", type(pose).__name__), "check_version": WORN_BY_PERSON_VERSION}
    sha256, meta = recorded
    verdict = meta.get("intake_verdict")
    if sha256 and item.image_version and made_so(verdict, {**made_by, "image_version": item.image_version}):
        return _accepted(ctx, date, item, sha256, verdict, recorded)
    data = ctx.store.get_bytes(image_key)
    sha256 = sha256_hex(data)
    verdict_key = garment_artifact_key(sha256, "intake.json")
    verdict = ctx.store.get_json_or_none(verdict_key)
    if not made_so(verdict, made_by):
        try:
            decoded = decode_image(data, min_short_side=MIN_SHORT_SIDE, max_aspect=MAX_ASPECT)
        except ImageDecodeError as error:
            quarantine(ctx, date, item, str(error), [image_key])
            return None
        verdict = {
            "worn_by_person": worn_by_person(decoded.image, pose),
            "notes": decoded.notes,
            "format": decoded.format,
            **made_by,
        }
        ctx.store.put_json(verdict_key, verdict)
    return _accepted(ctx, date, item, sha256, {**verdict, "image_version": item.image_version}, recorded)


def _accepted(
    ctx: RunContext,
    date: str,
    item: DropItem,
    sha256: str,
    verdict: Mapping[str, Any],
    recorded: tuple[str | None, dict[str, Any]],
) -> DropItem | None:
    """The item with its sha256 once its verdict lets it through (recorded with the garment
    when that changed it); None when it is quarantined as worn by a person."""
    if verdict["worn_by_person"]:
        quarantine(
            ctx,
            date,
            item,
            "garment_worn_by_person: the photo shows the garment on a person; try-on needs a product shot",
            [item.image_key] if item.image_key else [],
        )
        return None
    item.sha256 = sha256
    known_sha256, meta = recorded
    facts = {"intake_notes": verdict["notes"], "format": verdict["format"], "intake_verdict": verdict}
    if known_sha256 != sha256 or any(meta.get(key) != value for key, value in facts.items()):
        with ctx.ledger.session() as session:
            garment = row_of(session, Garment, item.garment_id)
            garment.sha256 = sha256
            garment.meta = {**garment.meta, **facts}
    return item
