"""A garment is its content, not its file name (issue 31): a re-shoot under the same name
retires everything made from the old photo, a SKU folder deleted before a re-run is
``withdrawn``, and a re-run with other settings never generates what an earlier plan left.
The stages as plain functions on both real S3 APIs (moto, the embedded store) and on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tasks.audit import audit, audit_and_repair
from tasks.context import RunContext
from tasks.drops import kept_reading
from tasks.inference import tryon_stage
from tasks.intake import discover, validate
from tasks.ledger import Garment, Generation, Publication
from tasks.publish import publish
from tasks.report import check_inputs_add_up
from tasks.review import decisions
from tasks.storage import storefront_manifest_key
from tasks.storefront import LIVE, WITHDRAWN
from tests.conftest import GARMENTS, approve_everything, generate_drop, plan_drop

DATE = "2026-11-20"
PHOTOS = ("05997_00.jpg", "049205_0.jpg", "01008_00.jpg")
SKU = "TEE-00055"


def _live(ctx: RunContext) -> list[tuple[Publication, Generation]]:
    with ctx.ledger.session() as session:
        return list(
            session.execute(
                select(Publication, Generation)
                .join(Generation, Generation.generation_id == Publication.generation_id)
                .where(Publication.state == LIVE)
            ).tuples()
        )


def test_a_reshoot_retires_every_image_of_the_old_garment_and_a_deleted_sku_is_withdrawn(each_store_ctx):
    ctx = each_store_ctx
    generate_drop(ctx, DATE, (SKU, "JEANS-051946"), PHOTOS)
    approve_everything(ctx, DATE)
    before = _live(ctx)
    old = {gen.garment_sha256 for _, gen in before if gen.sku == SKU}
    assert len(old) == 1 and len([1 for _, gen in before if gen.sku == SKU]) == 2

    # the catalogue team re-shoots the tee: another photo under the same name
    ctx.store.put_bytes(f"drops/{DATE}/{SKU}/front.jpg", GARMENTS["TEE-03032"][0].read_bytes())
    generate_drop(ctx, DATE, (), PHOTOS)
    with ctx.ledger.session() as session:
        new = session.scalar(select(Garment.sha256).where(Garment.drop_date == DATE, Garment.sku == SKU))
    assert new not in old
    with ctx.ledger.session() as session:
        for row in session.scalars(select(Generation).where(Generation.state == "generated")):
            row.state = "flagged"
    publish(ctx, DATE)

    live = _live(ctx)
    assert all(gen.garment_sha256 == new for _, gen in live if gen.sku == SKU), "the old garment is still on the storefront"
    assert {gen.sku for _, gen in live} == {"JEANS-051946"}  # the new tee waits for a reviewer
    with ctx.ledger.session() as session:
        retired = list(session.scalars(select(Publication).where(Publication.sku == SKU)))
    assert retired and all(p.state == WITHDRAWN and p.reason.startswith("superseded_by_reshoot") for p in retired)
    for publication in retired:
        assert not ctx.store.exists(publication.storefront_key)
    manifest = ctx.store.get_json(storefront_manifest_key(DATE))
    assert {item["sku"] for item in manifest["items"]} == {"JEANS-051946"}
    states = {(g.sku, g.garment_sha256): g.state for g in ctx.ledger.generations(DATE)}
    assert all(state == "superseded" for (sku, sha), state in states.items() if sku == SKU and sha in old)
    assert audit(ctx, DATE) == []

    # then the jeans' folder is deleted before another run: withdrawn, not a report that fails
    for key in list(ctx.store.list_keys(f"drops/{DATE}/JEANS-051946/")):
        ctx.store.delete(key)
    validate(ctx, DATE, discover(ctx, DATE))
    publish(ctx, DATE)
    garments = {g.sku: g for g in ctx.ledger.garments(DATE)}
    assert garments["JEANS-051946"].state == "withdrawn" and "no longer in drops/" in garments["JEANS-051946"].reason
    reading = kept_reading(ctx, DATE)
    assert reading is not None and any(w.startswith("withdrawn:") for w in reading.warnings)
    check_inputs_add_up(DATE, reading.listing, list(garments.values()))  # no "recorded but not in the drop"
    assert _live(ctx) == [] and ctx.store.get_json(storefront_manifest_key(DATE))["items"] == []
    assert audit(ctx, DATE) == []


def test_the_audit_finds_and_withdraws_an_image_of_a_superseded_garment(each_store_ctx):
    """What a pipeline before this check left behind: a live image of the old photo."""
    ctx = each_store_ctx
    generate_drop(ctx, DATE, (SKU,), PHOTOS)
    approve_everything(ctx, DATE)
    ctx.store.put_bytes(f"drops/{DATE}/{SKU}/front.jpg", GARMENTS["TEE-03032"][0].read_bytes())
    validate(ctx, DATE, discover(ctx, DATE))  # the ledger now holds the new version; nothing else ran
    found = [f for f in audit(ctx, DATE) if f.kind == "storefront_superseded_version"]
    assert len(found) == 2
    result = audit_and_repair(ctx, DATE, fix=True)
    assert any("superseded_by_reshoot" in line for line in result.repaired)
    assert audit(ctx, DATE) == [] and _live(ctx) == []
    assert ctx.store.get_json(storefront_manifest_key(DATE))["items"] == []


def test_a_rerun_with_other_settings_never_generates_the_old_plan(each_store_ctx):
    """A run killed after planning and re-run with another engine setting: the old plan's rows
    are superseded (never generated), one generation per garment-photo pair."""
    ctx = each_store_ctx
    first = RunContext(settings=ctx.settings.model_copy(update={"engine": "null"}), store=ctx.store, ledger=ctx.ledger)
    _, _, old_shards = plan_drop(first, DATE, (SKU,), PHOTOS)  # killed before try-on
    _, _, shards = plan_drop(ctx, DATE, (), PHOTOS)
    old_ids = {gid for shard in old_shards for gid in shard.generation_ids}
    new_ids = {gid for shard in shards for gid in shard.generation_ids}
    assert old_ids and not old_ids & new_ids
    for shard in [*shards, *old_shards]:  # even a leftover shard of the old plan makes nothing
        tryon_stage.run_shard(ctx, shard)
    rows = ctx.ledger.generations(DATE)
    assert {r.generation_id for r in rows if r.state == "superseded"} == old_ids
    assert all(r.object_key is None for r in rows if r.generation_id in old_ids)
    pairs = [(r.sku, r.photo_id) for r in rows if r.state != "superseded"]
    assert len(pairs) == len(set(pairs)) == len(new_ids)


def test_a_reviewer_cannot_approve_an_image_of_a_replaced_photo(ctx):
    """Between a re-shoot's discovery and the publish that retires the old images, an old
    flagged image is still on the review page: approving it is refused."""
    generate_drop(ctx, DATE, (SKU,), PHOTOS)
    with ctx.ledger.session() as session:
        for row in session.scalars(select(Generation).where(Generation.state == "generated")):
            row.state = "flagged"
    ctx.store.put_bytes(f"drops/{DATE}/{SKU}/front.jpg", GARMENTS["TEE-03032"][0].read_bytes())
    validate(ctx, DATE, discover(ctx, DATE))
    stale = ctx.ledger.generations(DATE)[0].generation_id
    with pytest.raises(decisions.ReviewError, match="re-shoot replaced"):
        decisions.approve(ctx, stale, "ana")
    assert _live(ctx) == []
