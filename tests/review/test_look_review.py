"""Full-outfit images on the review page, in headless Chromium: the pairing, its score, the four
images; approve publishes it to storefront/looks/, reject needs a reason; both are recorded."""

import pytest

from tasks.context import RunContext
from tasks.ledger import LookGeneration
from tasks.looks.outfit_tryon import make_outfits
from tasks.looks.train_stage import train_looks
from tasks.publish import publish
from tasks.qc.stage import check_generations
from tasks.storage import storefront_look_key
from tests.conftest import generate_drop
from tests.review.conftest import serve, signed_in_page

DATE = "2026-11-20"


@pytest.fixture
def looks_to_review(ctx):
    """A drop of two tops and a pair of jeans (warp baseline, a preview) with its full outfits made:
    each top with the jeans, both waiting for a reviewer."""
    generate_drop(ctx, DATE, ("TEE-03032", "CAMI-048769", "JEANS-051946"), ("05997_00.jpg", "051918_0.jpg", "049205_0.jpg"))
    check_generations(ctx, DATE)
    publish(ctx, DATE)
    assert train_looks(ctx).card is not None
    ctx = RunContext(settings=ctx.settings.model_copy(update={"outfits": "always"}), store=ctx.store, ledger=ctx.ledger)
    made = make_outfits(ctx, DATE)
    assert made.states["flagged"] == made.looks == 2, made
    return ctx


def _looks(ctx) -> dict[str, LookGeneration]:
    with ctx.ledger.session() as session:
        rows = session.query(LookGeneration).filter_by(drop_date=DATE).all()
        for row in rows:
            session.expunge(row)
    return {row.generation_id: row for row in rows}


def test_approve_and_reject_full_outfits_in_chromium(looks_to_review):
    ctx = looks_to_review
    rows = _looks(ctx)
    with serve(ctx) as base, signed_in_page(base) as page:
        flagged = sum(g.state == "flagged" for g in ctx.ledger.generations(DATE))
        assert f"{DATE}: {flagged + 2} flagged" in page.inner_text("main"), "the date counts its full outfits as waiting"
        page.goto(f"{base}/dates/{DATE}")
        looks = page.locator("section.look-item")
        assert looks.count() == 2
        first = looks.nth(0)
        row = next(r for r in rows.values() if f"look-{r.generation_id}" == first.get_attribute("id"))
        text = first.inner_text()
        assert f"{row.upper_sku} with {row.lower_sku}" in text and f"score {row.score:.2f}" in text and row.reason in text
        for kind in ("upper garment", "lower garment", "model photo", "outfit"):  # the four images load and decode
            assert first.locator(f"img[alt^='{kind}']").evaluate("img => img.complete && img.naturalWidth > 0")
        first.locator("form.approve button").click()
        page.wait_for_selector("[role=status]")
        assert "approved" in page.inner_text("[role=status]") and page.locator("section.look-item").count() == 1
        second = page.locator("section.look-item").nth(0)
        second.locator("input[name=reason]").fill("the jeans float off the hips")
        second.locator("form.reject button").click()
        page.wait_for_selector("text=No full-outfit images waiting")
    after = _looks(ctx)
    approved, rejected = after[row.generation_id], next(r for gid, r in after.items() if gid != row.generation_id)
    assert (approved.state, approved.reviewer) == ("published", "alice") and approved.decided_at is not None
    assert ctx.store.exists(storefront_look_key(approved.look_id, approved.photo_id))
    assert rejected.state == "rejected" and rejected.reason == "rejected by alice: the jeans float off the hips"
    assert not ctx.store.exists(storefront_look_key(rejected.look_id, rejected.photo_id))
