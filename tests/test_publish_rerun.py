"""A re-run of publish with nothing new writes nothing under the review prefix: a review copy
already there is kept, a sidecar whose stored ETag is the MD5 of what it would say is not
rewritten, one whose content changed is; an image made again loses its stale review copy."""

from __future__ import annotations

from tasks.inference.tryon_stage import GENERATED, record_outcomes
from tasks.ledger import Generation
from tasks.publish import publish
from tasks.storage import review_key
from tests.conftest import flagged_generations

DATE = "2026-11-20"


def _writes(ctx, monkeypatch) -> list[str]:
    """The keys ``ctx.store`` writes (copies and puts) from now on."""
    written: list[str] = []
    copy, put = ctx.store.copy, ctx.store.put_bytes
    monkeypatch.setattr(ctx.store, "copy", lambda source, key: (written.append(key), copy(source, key))[1])
    monkeypatch.setattr(ctx.store, "put_bytes", lambda key, *rest: (written.append(key), put(key, *rest))[1])
    return written


def test_a_rerun_rewrites_only_what_changed_under_review(ctx, monkeypatch):
    first, second = flagged_generations(ctx, 2, date=DATE)
    publish(ctx, DATE)  # the sidecars now say what QC failed (nothing recorded here), not "test"
    review = {gid: review_key(DATE, "TEE-1", "p1", gid) for gid in (first, second)}
    assert ctx.store.get_json(review[first].replace(".jpg", ".json"))["failed_checks"] == []

    written = _writes(ctx, monkeypatch)
    publish(ctx, DATE)
    assert [key for key in written if key.startswith("review/")] == []

    with ctx.ledger.session() as session:
        session.get(Generation, second).reason = "failed: colour_delta_e"
    publish(ctx, DATE)
    assert [key for key in written if key.startswith("review/")] == [review[second].replace(".jpg", ".json")]
    assert ctx.store.get_json(review[second].replace(".jpg", ".json"))["reason"] == "failed: colour_delta_e"

    # the first one's image is lost and made again: its review copy is of the old image, so it goes
    with ctx.ledger.session() as session:
        key = session.get(Generation, first).object_key
    ctx.store.put_bytes(key, b"the image made again")
    record_outcomes(ctx, {first: (GENERATED, None, key)}, None, fresh=True)
    assert not ctx.store.exists(review[first]) and not ctx.store.exists(review[first].replace(".jpg", ".json"))
    with ctx.ledger.session() as session:
        session.get(Generation, first).state = "flagged"  # QC flags the new image
    publish(ctx, DATE)
    assert ctx.store.get_bytes(review[first]) == b"the image made again"


def test_a_flagged_generation_says_why_it_waits():
    from tasks.storefront import flag_cause, preview_reason

    assert flag_cause(preview_reason("warp-baseline is a baseline")) == "preview"
    assert flag_cause("replaces_approved: the storefront image of A/p was approved in review (x)") == "replaces_approved"
    assert flag_cause("failed: colour_delta_e") == flag_cause(None) == "failed_qc"


def test_a_generation_whose_slot_another_took_over_is_no_longer_counted_published(ctx):
    """Approving a second image for a slot supersedes the first: its publication and its
    generation say so (``tryon status`` counts generations by state)."""
    from collections import Counter

    from tasks.review import decisions

    first, second = flagged_generations(ctx, 2, date=DATE)
    decisions.approve(ctx, first, "ana")
    decisions.approve(ctx, second, "ana")
    states = {g.generation_id: (g.state, g.reason) for g in ctx.ledger.generations(DATE)}
    assert states[second][0] == "published"
    assert states[first][0] == "superseded" and second in states[first][1]
    assert Counter(state for state, _ in states.values()) == {"published": 1, "superseded": 1}
