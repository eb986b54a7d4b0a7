"""Decisions and publications that hold under concurrency and re-runs, on SQLite and on
PostgreSQL: two reviewers deciding one item at once, one live publication per storefront
slot, and storefront copies made after the ledger commits."""

from __future__ import annotations

import threading

from sqlalchemy import select

from tasks.ledger import Generation, Publication, ReviewDecision
from tasks.publish import publish
from tasks.review import decisions
from tasks.review.decisions import ReviewError
from tasks.storage import storefront_key, storefront_manifest_key
from tasks.storefront import write_manifest
from tests.conftest import flagged_generations, storefront_copy_of

DATE = "2026-11-20"


def test_two_reviewers_at_once_exactly_one_wins(each_ledger_ctx):
    ctx = each_ledger_ctx
    trials = flagged_generations(ctx, 12)
    for n, gid in enumerate(trials):
        barrier, outcomes = threading.Barrier(2), {}

        def decide(name, action):
            barrier.wait()
            try:
                action()
                outcomes[name] = "won"
            except ReviewError as error:
                outcomes[name] = f"refused: {error}"

        threads = [
            threading.Thread(target=decide, args=("approve", lambda: decisions.approve(ctx, gid, "ana"))),
            threading.Thread(target=decide, args=("reject", lambda: decisions.reject(ctx, gid, "ben", "blurry"))),
        ]
        for thread in threads[:: 1 if n % 2 else -1]:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(o.split(":")[0] for o in outcomes.values()) == ["refused", "won"], outcomes
        with ctx.ledger.session() as session:
            row = session.get(Generation, gid)
            recorded = session.scalars(select(ReviewDecision.decision).where(ReviewDecision.generation_id == gid)).all()
        assert len(recorded) == 1
        winner = "approve" if outcomes["approve"] == "won" else "reject"
        assert row.state == {"approve": "published", "reject": "rejected"}[winner]
        assert recorded == [{"approve": "approved", "reject": "rejected"}[winner]]
    # whatever won, the slot's image is the last approved generation's, and only it is live
    with ctx.ledger.session() as session:
        live = session.scalars(select(Publication).where(Publication.state == "published")).all()
    assert len(live) == (1 if any(g.state == "published" for g in ctx.ledger.generations(DATE)) else 0)
    if live:
        manifest = ctx.store.get_json(storefront_manifest_key(DATE))
        assert [item["generation_id"] for item in manifest["items"]] == [p.generation_id for p in live]
        assert ctx.store.get_bytes(storefront_key("TEE-1", "p1")) == storefront_copy_of(ctx, live[0].generation_id)


def test_a_new_publication_retires_the_slots_earlier_one(ctx):
    """Approving a second generation of a slot (a re-generation with a new seed, or the same SKU
    in a later drop) leaves one live publication: each manifest lists the slot once."""
    first, second = flagged_generations(ctx, 2)
    later = flagged_generations(ctx, 1, date="2026-11-21", seed0=10)[0]
    decisions.approve(ctx, first, "ana")
    decisions.approve(ctx, second, "ana")
    manifest = ctx.store.get_json(storefront_manifest_key(DATE))
    assert [item["generation_id"] for item in manifest["items"]] == [second]
    decisions.approve(ctx, later, "ana")
    assert ctx.store.get_json(storefront_manifest_key(DATE))["items"] == []  # the slot now shows the later drop's image
    assert [i["generation_id"] for i in ctx.store.get_json(storefront_manifest_key("2026-11-21"))["items"]] == [later]
    with ctx.ledger.session() as session:
        states = dict(session.execute(select(Publication.generation_id, Publication.state)).all())
    assert states == {first: "superseded", second: "superseded", later: "published"}
    assert ctx.store.get_bytes(storefront_key("TEE-1", "p1")) == storefront_copy_of(ctx, later)


def test_the_manifest_never_lists_a_missing_image_and_a_rerun_restores_it(ctx):
    """A storefront copy lost after the commit (a crash between the two): the manifest leaves
    the entry out, and the next publish of the date copies it again."""
    [gid] = flagged_generations(ctx, 1)
    decisions.approve(ctx, gid, "ana")
    ctx.store.delete(storefront_key("TEE-1", "p1"))
    written = write_manifest(ctx, DATE)
    assert written.entries == [] and written.missing == [storefront_key("TEE-1", "p1")]
    assert ctx.store.get_json(storefront_manifest_key(DATE))["count"] == 0
    assert publish(ctx, DATE).published == 1
    assert ctx.store.get_bytes(storefront_key("TEE-1", "p1")) == storefront_copy_of(ctx, gid)
    # a slot holding another image than its live generation's (an interrupted copy) is put right too
    ctx.store.put_bytes(storefront_key("TEE-1", "p1"), b"an older image")
    publish(ctx, DATE)
    assert ctx.store.get_bytes(storefront_key("TEE-1", "p1")) == storefront_copy_of(ctx, gid)
