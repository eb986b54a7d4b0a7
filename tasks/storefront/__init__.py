"""The storefront gate: the one module that decides whether an image may enter ``storefront/`` or
must leave it, and the only one that writes there (generation images, full-outfit images, look
files, the manifests). Publishing, a reviewer's approval, a spot check's rejection, the
full-outfit and looks stages and ``tryon audit`` all call it.

What may enter: an image a reviewer approved; otherwise one that passed QC, made by a model
every weight of which the registry marks released *now* (:class:`Gate` asks at publish time,
the same way for every path), into a slot that holds no reviewer's approval. Approved or not,
only an image whose weights' licences allow the deployment's use (``TRYON_DEPLOYMENT_USE``,
``tasks.licences``). What must leave: a
withdrawn or rejected image, one made from a garment version a re-shoot replaced
(:func:`retire_stale`), one whose garment left its drop.

In the ledger, a slot (``storefront/{sku}/{photo_id}.jpg``) has at most one live publication.
Publishing a generation retires the slot's earlier one in the same transaction; withdrawing one
retires it. The ledger changes first; the objects are copied or deleted after the transaction
commits, and the manifests rewritten last.

A garment is its content, not its file name: a SKU's **current version** is the image sha256
of its latest accepted drop (:func:`current_versions`). Whatever was made from another version
is retired with the reason ``superseded_by_reshoot``; what was made of a garment whose folder
left the drop, with ``withdrawn``.

The package: ``gate`` decides, ``slots`` keeps the ledger's side, ``objects`` writes the
objects."""

from __future__ import annotations

from tasks.storefront.gate import (
    CAUSE_WORDS,
    NO_CREDENTIALS,
    NO_RELEASE,
    PREVIEW,
    REPLACES_APPROVED,
    UNLICENSED,
    Gate,
    StaleVersion,
    Unlicensed,
    approve_generation,
    flag_cause,
    no_release_reason,
    preview_reason,
    unlicensed_reason,
)
from tasks.storefront.objects import (
    ManifestWrite,
    SlotCheck,
    StorefrontIncomplete,
    check_storefront,
    clear,
    manifest_entries,
    outfit_entries,
    place,
    place_look,
    put_look_file,
    restore_storefront,
    write_manifest,
)
from tasks.storefront.slots import (
    LIVE,
    RESHOOT,
    SUPERSEDED,
    WITHDRAWN,
    Retired,
    current_versions,
    keys_to_clear,
    made_from_old_version,
    record_publication,
    retire_stale,
    undo_approval,
    withdraw_publication,
)

__all__ = [
    "CAUSE_WORDS",
    "Gate",
    "LIVE",
    "SUPERSEDED",
    "WITHDRAWN",
    "ManifestWrite",
    "NO_CREDENTIALS",
    "NO_RELEASE",
    "PREVIEW",
    "REPLACES_APPROVED",
    "RESHOOT",
    "Retired",
    "SlotCheck",
    "StaleVersion",
    "StorefrontIncomplete",
    "UNLICENSED",
    "Unlicensed",
    "approve_generation",
    "check_storefront",
    "clear",
    "current_versions",
    "flag_cause",
    "keys_to_clear",
    "made_from_old_version",
    "manifest_entries",
    "no_release_reason",
    "outfit_entries",
    "place",
    "place_look",
    "preview_reason",
    "put_look_file",
    "record_publication",
    "restore_storefront",
    "retire_stale",
    "undo_approval",
    "unlicensed_reason",
    "withdraw_publication",
    "write_manifest",
]
