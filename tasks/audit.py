"""``tryon audit --date D [--repair]``: the ledger held against the objects for one drop date.

An audit only reads. It finds:
- a live publication whose storefront image is missing, or that holds another image than its
  generation's (a copy a crash interrupted), or whose generation is no longer published, or
  that was made from another version of the garment than the SKU's current one (a re-shoot);
- a generation past try-on whose image is lost;
- a flagged generation without its review copy;
- a manifest that lists an object that is not there, or that differs from the ledger's live
  publications (or is missing);
- a storefront image of one of the date's SKUs that no live publication stands behind (only in
  the SKU's own slots, ``storefront/{sku}/{photo_id}.jpg``: a SKU of a reserved name owns none,
  so the audit never touches another date's manifest or look files), a full-outfit image of one
  of the date's looks that no published outfit stands behind, a look file of one of the date's
  SKUs none of whose images is on the storefront; a manifest whose full-outfit images differ
  from the ledger's;
- a generation image of one of the date's SKUs that no ledger row knows.

A repair puts each right: it copies the generation's image into its slot, plans a lost
generation again (the next ``tryon run --date D`` makes it, QC judges it; its publication is
withdrawn until then), withdraws what a re-shoot superseded (``superseded_by_reshoot``),
copies the review copy again, deletes orphans, and rewrites the manifests last, so a manifest
never points at a missing object.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tasks.catalog.review_copies import copy_for_review
from tasks.catalog.storefront_manifest import read_manifest
from tasks.context import RunContext
from tasks.ledger import Garment, Generation, GenerationState, LookGeneration, Publication, QCResult, row_of, rows_in
from tasks.states import move
from tasks.storage import (
    STOREFRONT,
    generation_sku_prefix,
    generation_stem,
    is_reserved_sku,
    look_file_key,
    review_key,
    storefront_look_key,
    storefront_manifest_key,
    storefront_sku_prefix,
)
from tasks.storefront import (
    LIVE,
    check_storefront,
    clear,
    manifest_entries,
    outfit_entries,
    restore_storefront,
    retire_stale,
    withdraw_publication,
    write_manifest,
)

PAST_TRYON = (
    GenerationState.GENERATED.value,
    GenerationState.PASSED.value,
    GenerationState.FLAGGED.value,
    GenerationState.PUBLISHED.value,
)


@dataclass
class Finding:
    kind: str
    key: str | None
    generation_id: str | None
    detail: str


@dataclass
class AuditResult:
    date: str
    findings: list[Finding]
    repaired: list[str]  # what the repair did, one line an action


def audit(ctx: RunContext, date: str) -> list[Finding]:
    """Everything about ``date`` on which the ledger and the objects disagree; changes nothing."""
    findings: list[Finding] = []
    for check in check_storefront(ctx, date):
        if check.problem is not None:
            findings.append(
                Finding(
                    f"storefront_{check.problem}",
                    check.publication.storefront_key,
                    check.generation.generation_id,
                    {
                        "missing": "the live publication's storefront image is missing",
                        "stale": "the storefront slot holds another image than its live generation's",
                        "not_published": f"the live publication's generation is {check.generation.state}",
                        "superseded_version": "made from a garment version a re-shoot replaced",
                    }[check.problem],
                )
            )
    generations = ctx.ledger.generations(date)
    with ctx.ledger.session() as session:
        known = set(session.scalars(select(Generation.generation_id).where(Generation.sku.in_({g.sku for g in generations}))))
        skus = set(session.scalars(select(Garment.sku).where(Garment.drop_date == date)))
        live = session.execute(
            select(Publication.sku, Publication.storefront_key).where(Publication.state == LIVE, Publication.sku.in_(skus))
        ).all()
        live_keys, live_skus = {key for _, key in live}, {sku for sku, _ in live}
    for row in generations:
        if row.state in PAST_TRYON and not ctx.store.exists(row.object_key or ""):
            findings.append(
                Finding("generation_lost", row.object_key, row.generation_id, f"the image of a {row.state} generation is missing")
            )
        elif row.state == GenerationState.FLAGGED.value and not ctx.store.exists(_review_key(row)):
            findings.append(
                Finding(
                    "review_copy_missing", _review_key(row), row.generation_id, "a flagged generation's review copy is missing"
                )
            )
    findings += _manifest_findings(ctx, date)
    for sku in sorted(s for s in skus if not is_reserved_sku(s)):
        prefix = storefront_sku_prefix(sku)
        for key in ctx.store.list_keys(prefix):
            if "/" not in key[len(prefix) :] and key not in live_keys:  # a slot of the SKU's, nothing below it
                findings.append(Finding("storefront_orphan", key, None, "a storefront image no live publication stands behind"))
    findings += _look_findings(ctx, date, live_skus)
    for prefix in sorted({generation_sku_prefix(g.model_version, g.sku) for g in generations}):
        for key in ctx.store.list_keys(prefix):
            if generation_stem(key) not in known:
                findings.append(Finding("generation_orphan", key, None, "a generation object no ledger row knows"))
    return findings


def _look_findings(ctx: RunContext, date: str, live_skus: set[str]) -> list[Finding]:
    """Full-outfit images of the date's looks that no published outfit stands behind, and look
    files of the date's SKUs none of whose images is on the storefront."""
    findings = []
    with ctx.ledger.session() as session:
        looks = session.execute(
            select(LookGeneration.look_id, LookGeneration.photo_id, LookGeneration.state).where(LookGeneration.drop_date == date)
        ).all()
        skus = set(session.scalars(select(Garment.sku).where(Garment.drop_date == date)))
    published = {
        storefront_look_key(look_id, photo) for look_id, photo, state in looks if state == GenerationState.PUBLISHED.value
    }
    for look_id in sorted({look_id for look_id, _, _ in looks}):
        for key in ctx.store.list_keys(storefront_look_key(look_id, "").rsplit("/", 1)[0] + "/"):
            if key not in published:
                findings.append(Finding("storefront_orphan", key, None, "a full-outfit image no published outfit stands behind"))
    for sku in sorted(skus - live_skus):
        if not is_reserved_sku(sku) and ctx.store.exists(look_file_key(sku)):
            findings.append(
                Finding(
                    "storefront_orphan",
                    look_file_key(sku),
                    None,
                    "a look file of a SKU none of whose images is on the storefront",
                )
            )
    return findings


def _review_key(row: Generation) -> str:
    return review_key(row.drop_date, row.sku, row.photo_id, row.generation_id)


def _manifest_findings(ctx: RunContext, date: str) -> list[Finding]:
    key = storefront_manifest_key(date)
    expected = sorted(entry.generation_id for entry in manifest_entries(ctx, date))
    if not ctx.store.exists(key):
        return [Finding("manifest_missing", key, None, f"no manifest, {len(expected)} live publication(s)")] if expected else []
    manifest = read_manifest(ctx.store.get_json(key))
    items = manifest.items
    by_key = {item.key: item.generation_id for item in manifest.items} | {o.key: o.generation_id for o in manifest.outfits}
    findings = [
        Finding(
            "manifest_entry_without_object", listed, by_key.get(listed), "the manifest lists an object that is not in the store"
        )
        for listed in manifest.keys()
        if not ctx.store.exists(listed)
    ]
    outfits = sorted(entry.generation_id for entry in outfit_entries(ctx, date))
    if sorted(outfit.generation_id for outfit in manifest.outfits) != outfits:
        findings.append(
            Finding(
                "manifest_out_of_date",
                key,
                None,
                f"the manifest lists {len(manifest.outfits)} full-outfit image(s), the ledger has {len(outfits)} published",
            )
        )
    if sorted(item.generation_id for item in items) != expected:
        findings.append(
            Finding(
                "manifest_out_of_date",
                key,
                None,
                f"the manifest lists {len(items)} item(s), the ledger has {len(expected)} live publication(s)",
            )
        )
    return findings


def repair(ctx: RunContext, date: str, findings: list[Finding]) -> list[str]:
    """Put right what :func:`audit` found; returns one line per action."""
    done = [f"copied {key} from its generation" for key in restore_storefront(ctx, date)]
    kinds = {f.kind for f in findings}
    if "storefront_superseded_version" in kinds:
        stale = [f.generation_id for f in findings if f.kind == "storefront_superseded_version" and f.generation_id]
        with ctx.ledger.session() as session:
            retired = retire_stale(session, {row.sku for row in rows_in(session, Generation.generation_id, stale)})
        clear(ctx.store, [key for key in retired.deletions if ctx.store.exists(key)])
        done += [f"withdrew {line}" for line in retired.lines]
        extra_dates = retired.dates
    else:
        extra_dates = set()
    lost = {f.generation_id for f in findings if f.kind == "generation_lost" and f.generation_id}
    unpublished = {f.generation_id for f in findings if f.kind == "storefront_not_published" and f.generation_id}
    deletions: list[str] = []
    dates = {date} | extra_dates
    with ctx.ledger.session() as session:
        for generation_id in sorted(lost | unpublished):
            row = row_of(session, Generation, generation_id)
            publication = session.scalar(select(Publication).where(Publication.generation_id == generation_id))
            withdrawn = withdraw_publication(session, row)
            if withdrawn is not None and publication is not None:
                deletions.append(withdrawn)
                dates.add(publication.drop_date)
                done.append(f"withdrew {generation_id} from {withdrawn}")
            if generation_id in lost:
                if row.state == GenerationState.FLAGGED.value:
                    deletions += [_review_key(row), _review_key(row).rsplit(".", 1)[0] + ".json"]
                move(row, GenerationState.PLANNED, f"planned again by tryon audit: its {row.state} image was lost")
                done.append(f"planned {generation_id} again (the next `tryon run --date {row.drop_date}` makes it)")
        recopy = [
            (
                row,
                sorted(
                    session.scalars(
                        select(QCResult.check).where(QCResult.generation_id == row.generation_id, QCResult.passed.is_(False))
                    )
                ),
            )
            for row in (row_of(session, Generation, f.generation_id) for f in findings if f.kind == "review_copy_missing")
        ]
    for row, failed in recopy:
        copy_for_review(ctx.store, row, failed)
        done.append(f"copied {_review_key(row)} for review again")
    deletions += [f.key for f in findings if f.kind in ("storefront_orphan", "generation_orphan") and f.key]
    existing = [key for key in sorted(set(deletions)) if ctx.store.exists(key)]
    clear(ctx.store, [key for key in existing if key.startswith(STOREFRONT)])  # what leaves the storefront, through its gate
    for key in existing:
        if not key.startswith(STOREFRONT):
            ctx.store.delete(key)
    done += [f"deleted {key}" for key in existing]
    if kinds & {"manifest_missing", "manifest_entry_without_object", "manifest_out_of_date"} or len(done):
        for day in sorted(dates):
            written = write_manifest(ctx, day)
            done.append(f"wrote {storefront_manifest_key(day)}: {len(written.entries)} item(s)")
    return done


def audit_and_repair(ctx: RunContext, date: str, *, fix: bool) -> AuditResult:
    findings = audit(ctx, date)
    repaired = repair(ctx, date, findings) if fix and findings else []
    return AuditResult(date=date, findings=findings, repaired=repaired)
