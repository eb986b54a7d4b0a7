"""A drop as the pipeline reads it: everything under ``drops/{date}/``, listed and its
``manifest.csv`` parsed once, here (:func:`read_drop`). Discovery records one ledger row per
input the reading names and keeps the reading as ``reports/{date}/drop.json``; the inputs
check and the run report read that, and the report holds the ledger against the same listing,
so an input that was never recorded shows up as a report that does not add up.

How a listing is read, as catalogue teams' tools lay drops out:
- a key ending in ``/`` is a folder marker (the S3 console writes a zero-byte ``drops/D/SKU/``
  and sometimes ``drops/D/`` when a folder is created): never an input;
- a file at the drop's root is an input of its own; one named like a SKU folder of the same
  drop is recorded under ``{name}~file`` so the two never share a ledger row;
- a SKU recorded by an earlier run of the date whose folder is gone is ``withdrawn`` by
  discovery (``tasks/intake.py``), not a report that fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tasks.catalog.documents import from_document, to_document
from tasks.context import RunContext
from tasks.drop_documents import Manifest, parse_manifest, shown
from tasks.images import sha256_hex
from tasks.storage import ObjectInfo, drop_prefix, report_key

SAFE_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ROOT_FILE_SUFFIX = "~file"  # a root file's label when a SKU folder has its name ("~" is never in a SKU)
READING = "drop.json"  # the reading, kept beside the date's report


@dataclass
class DropListing:
    """Everything under ``drops/{date}/``: the SKU folders with their keys, the drop's
    ``manifest.csv`` (if any), its completion marker (``Settings.drop_marker``, if written),
    every other file at the drop's root (each one an input too) and the folder markers left
    aside."""

    by_sku: dict[str, list[str]] = field(default_factory=dict)
    root_files: list[str] = field(default_factory=list)
    manifest_key: str | None = None
    marker_key: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # key -> its content's version as listed (``content_version``)
    folder_markers: list[str] = field(default_factory=list)

    def root_label(self, key: str) -> str:
        """The ledger label of a file at the drop's root (kept apart from a SKU folder's)."""
        name = key.rsplit("/", 1)[-1]
        return ledger_label(name) + (ROOT_FILE_SUFFIX if name in self.by_sku else "")

    def input_labels(self) -> list[str]:
        """The ledger's garment ``sku`` of every input of the listing, one per input."""
        return sorted([ledger_label(sku) for sku in self.by_sku] + [self.root_label(key) for key in self.root_files])


def content_version(info: ObjectInfo) -> str:
    """An object's content as a listing names it (ETag and size): another upload of other bytes
    under the same key has another one, so a verdict kept with it holds while it is the same."""
    return f"{info.etag}:{info.size}"


def ledger_label(name: str) -> str:
    """The name a drop entry is recorded under: itself when safe, else a hash of it."""
    return name if SAFE_SKU.fullmatch(name) else f"unsafe-{sha256_hex(name.encode())[:12]}"


def list_drop(ctx: RunContext, date: str) -> DropListing:
    prefix = drop_prefix(date)
    listing = DropListing()
    for key, info in ctx.store.list_objects(prefix):
        if key.endswith("/"):  # a console's folder marker (drops/D/ or drops/D/SKU/), never an input
            listing.folder_markers.append(key)
            continue
        listing.versions[key] = content_version(info)
        sku, _, name = key[len(prefix) :].partition("/")
        if name:
            listing.by_sku.setdefault(sku, []).append(key)
        elif sku == "manifest.csv":
            listing.manifest_key = key
        elif sku == ctx.settings.drop_marker:
            listing.marker_key = key
        else:
            listing.root_files.append(key)
    return listing


@dataclass
class DropReading:
    """The one reading of a drop: its listing, its manifest parsed, and what the catalogue team
    should hear about it (``warnings``: manifest rows for SKUs that never arrived, duplicates,
    re-encoded rows, folder markers left aside)."""

    date: str
    listing: DropListing
    manifest: Manifest
    warnings: list[str] = field(default_factory=list)


def read_drop(ctx: RunContext, date: str) -> DropReading:
    """List the drop and parse its manifest.csv, once."""
    listing = list_drop(ctx, date)
    manifest = parse_manifest(ctx.store.get_bytes(listing.manifest_key)) if listing.manifest_key else Manifest()
    warnings = list(manifest.warnings)
    if manifest.error:
        warnings.append(f"manifest_unreadable: {manifest.error} (only SKUs without their own meta.json category need it)")
    absent = sorted(set(manifest.rows) - set(listing.by_sku))
    if absent:
        warnings.append(
            f"manifest_sku_absent: {len(absent)} SKU(s) listed in manifest.csv have no folder in the drop: "
            + ", ".join(shown(sku, 40) for sku in absent[:20])
            + (f" and {len(absent) - 20} more" if len(absent) > 20 else "")
        )
    if listing.folder_markers:
        warnings.append(f"folder_markers: {len(listing.folder_markers)} folder object(s) (keys ending in '/') left aside")
    return DropReading(date=date, listing=listing, manifest=manifest, warnings=warnings)


def keep_reading(ctx: RunContext, reading: DropReading) -> None:
    ctx.store.put_json(report_key(reading.date, READING), to_document(reading))


def kept_reading(ctx: RunContext, date: str) -> DropReading | None:
    """The reading discovery kept for ``date`` (None before discovery ran)."""
    data = ctx.store.get_json_or_none(report_key(date, READING))
    return from_document(DropReading, data) if data is not None else None
