"""The spot-check queue in headless Chromium: a released model's QC-passed generations are
published, a sample of them waits on the review page; confirming keeps one published,
rejecting another takes it off the storefront and counts as a QC miss on the home page and in
the run report."""

import pytest

from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
from tasks.publish import publish
from tasks.qc.stage import check_generations
from tasks.qc.suite import load_config
from tasks.report import write_report
from tasks.review import spot_check
from tasks.review.decisions import ReviewError, decisions
from tests.conftest import generate_drop, released_registry, size_only_suite
from tests.review.conftest import signed_in_page
from tests.review.test_review_page import DATE, _manifest_ids, serve

pytestmark = pytest.mark.airflow  # slow: LaDI-VTON (small, random) generates four images


@pytest.fixture
def published_drop(ctx, tmp_path):
    """Two garments on two photos each, made by a released model (LaDI-VTON's classes, small and
    random, registered as released) and judged by a size-only QC suite: all four published."""
    registry = released_registry(save_published_layout(random_components(SMALL, seed=6), tmp_path / "weights", SMALL), "1.0-test")
    ctx.settings = ctx.settings.model_copy(
        update={
            "engine": "ladi-vton",
            "model_registry": registry,
            "inference_steps": 2,
            "qc_expectations": size_only_suite(tmp_path),
            "spot_check_rate": 0.5,
        }
    )
    generate_drop(ctx, DATE, ("TEE-03032", "JEANS-051946"), ("05997_00.jpg", "051918_0.jpg", "049205_0.jpg"))
    counts = check_generations(ctx, DATE)
    assert (counts["passed"], counts["flagged"]) == (4, 0)
    assert publish(ctx, DATE).published == 4
    return ctx


def test_spot_check_confirm_and_reject_in_chromium(published_drop, tmp_path):
    ctx = published_drop
    screenshots = tmp_path / "screens"
    screenshots.mkdir()
    sampled = [item.generation_id for item in spot_check.pending(ctx, DATE)]
    assert len(sampled) == 2, "half of four, as TRYON_SPOT_CHECK_RATE says"
    assert spot_check.pending(ctx, DATE)[0].generation_id == sampled[0], "the same sample on every look"
    keys = {g.generation_id: f"storefront/{g.sku}/{g.photo_id}.jpg" for g in ctx.ledger.generations(DATE)}
    reasons_before = {g.generation_id: g.reason for g in ctx.ledger.generations(DATE)}
    with serve(ctx) as base, signed_in_page(base) as page:
        assert f"{DATE}: 2 to spot-check" in page.inner_text("#spot-dates")
        page.click(f"#spot-dates a[href='/dates/{DATE}#spot-check']")
        spots = page.locator("section.item.spot")
        assert spots.count() == 2 and page.locator("section.item.flagged").count() == 0
        page.screenshot(path=str(screenshots / "spot-check.png"), full_page=True)
        assert [spots.nth(i).get_attribute("data-generation") for i in range(2)] == sampled
        assert spots.nth(0).locator("img[alt^='result']").evaluate("img => img.complete && img.naturalWidth > 0")
        assert spots.nth(0).locator("form.regenerate").count() == 0

        spots.nth(0).locator("form.approve button").click()
        page.wait_for_selector("text=spot check confirmed")
        spots = page.locator("section.item.spot")
        assert spots.count() == 1
        spots.nth(0).locator("select[name=failure_mode]").select_option("garment_whole")
        spots.nth(0).locator("input[name=reason]").fill("print smeared across the chest")
        spots.nth(0).locator("form.reject button").click()
        page.wait_for_selector("text=withdrawn from the storefront")
        assert page.locator("section.item.spot").count() == 0
        page.goto(base + "/")
        assert "2 spot-checked, 1 rejected (QC misses): a miss rate of 50.0 %" in page.inner_text("#qc-misses")
        # the miss rate per QC suite version and date: the size-only suite judged these (its version)
        version = load_config(ctx.settings.qc_expectations).version
        assert page.inner_text("#current-suite") == f"v{version}"
        assert page.locator("#misses-by-suite tr").nth(1).inner_text().split() == [f"v{version}", DATE, "2", "1", "50.0", "%"]
        page.screenshot(path=str(screenshots / "qc-misses-by-suite.png"), full_page=True)

    confirmed, missed = sampled
    states = {g.generation_id: (g.state, g.reason) for g in ctx.ledger.generations(DATE)}
    assert states[confirmed][0] == "published" and ctx.store.exists(keys[confirmed])
    assert states[missed][0] == "rejected" and "a QC miss" in states[missed][1]
    assert [d.failure_mode for d in decisions(ctx, DATE) if d.generation_id == missed] == ["garment_whole"]
    assert not ctx.store.exists(keys[missed]), "a rejected spot check leaves the storefront"
    assert _manifest_ids(ctx) == set(keys) - {missed}
    with pytest.raises(ReviewError, match="spot-checked already"):
        spot_check.approve(ctx, confirmed, "bob")
    unsampled = next(g for g in keys if g not in sampled)
    with pytest.raises(ReviewError, match="not in the spot-check sample"):
        spot_check.reject(ctx, unsampled, "bob", "no")

    write_report(ctx, DATE)
    summary = ctx.store.get_json(f"reports/{DATE}/summary.json")
    assert summary["spot_checks"]["date"] == {"checked": 2, "missed": 1}
    assert "1 rejected\n(QC misses)" in ctx.store.get_bytes(f"reports/{DATE}/report.html").decode()
    assert [m["released"] for m in summary["models"]] == [True]

    # the spot check's rejection undone in time, by its reviewer only: back on the storefront
    from tasks.context import RunContext
    from tasks.review.undo import undo

    [rejection] = [d for d in decisions(ctx, DATE) if d.generation_id == missed]
    with pytest.raises(ReviewError, match="only they can undo it"):
        undo(ctx, rejection.id, "bob")
    late = RunContext(settings=ctx.settings.model_copy(update={"review_undo_s": 0}), store=ctx.store, ledger=ctx.ledger)
    with pytest.raises(ReviewError, match="can no longer be undone"):
        undo(late, rejection.id, rejection.reviewer)
    undo(ctx, rejection.id, rejection.reviewer)
    again = next(g for g in ctx.ledger.generations(DATE) if g.generation_id == missed)
    assert (again.state, again.reason) == ("published", reasons_before[missed])
    assert ctx.store.exists(keys[missed]) and _manifest_ids(ctx) == set(keys)
    assert [d.decision for d in decisions(ctx, DATE) if d.generation_id == missed] == ["undone"]
