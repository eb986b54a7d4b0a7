"""The review page driven in headless Chromium (Debian's chromium, through Playwright), served by
uvicorn on loopback over a real S3 API and ledger: sign in, see the flagged items, approve one
(it enters the storefront manifest), reject another (it does not); unauthenticated and
cross-site POSTs are refused. The warp baseline is a preview engine, so every one of its
generations waits here, and it is deterministic, so the page offers no re-generate."""

import shutil

import numpy as np
import pytest
import requests
from sqlalchemy import select

from tasks.images import encode_jpeg
from tasks.ledger import QCResult
from tasks.publish import publish
from tasks.qc.stage import check_generations
from tasks.qc.suite import failure_modes, load_config
from tests.conftest import generate_drop
from tests.review.conftest import CHROMIUM, PASSWORD, serve

DATE = "2026-11-20"


@pytest.fixture
def reviewed_drop(ctx):
    """Two garments on two photos each (warp baseline); two of the four results are replaced by
    blank images, as a broken engine would write them. Nothing is published: the blank ones fail
    QC and the others are previews (the warp baseline is never a released model)."""
    generate_drop(ctx, DATE, ("TEE-03032", "JEANS-051946"), ("05997_00.jpg", "051918_0.jpg", "049205_0.jpg"))
    generations = ctx.ledger.generations(DATE)
    broken = [g for g in generations if g.sku == "TEE-03032"][:1] + [g for g in generations if g.sku == "JEANS-051946"][:1]
    for g in broken:
        ctx.store.put_bytes(g.object_key, encode_jpeg(np.full((1024, 768, 3), 128, np.uint8)), "image/jpeg")
    assert check_generations(ctx, DATE)["flagged"] >= 2
    assert publish(ctx, DATE).published == 0
    assert {g.state for g in ctx.ledger.generations(DATE)} == {"flagged"}
    return ctx, [g.generation_id for g in broken]


@pytest.fixture
def server(reviewed_drop):
    ctx, broken = reviewed_drop
    with serve(ctx) as base:
        yield base, ctx, broken


def _manifest_ids(ctx):
    return {item["generation_id"] for item in ctx.store.get_json(f"storefront/manifests/{DATE}.json")["items"]}


def test_sign_in_approve_and_reject_in_chromium(server):
    from playwright.sync_api import sync_playwright

    base, ctx, broken = server
    assert shutil.which("chromium"), "Debian's chromium is needed (make test installs it: apt-get install chromium)"
    before = _manifest_ids(ctx)
    assert not before & set(broken)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/")
        assert page.url.endswith("/login")
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        assert "wrong password" in page.inner_text("[role=alert]")
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert page.inner_text("#reviewer") == "alice"
        page.click(f"a[href='/dates/{DATE}']")
        page.click("#data-docs a")  # QC's Data Docs, as GX wrote them for the date
        assert "generation_qc" in page.content() and page.url.endswith(f"/dates/{DATE}/data-docs/index.html")
        page.go_back()
        items = page.locator("section.item")
        assert items.count() == 4
        blank = page.locator(f"section.item[data-generation='{broken[0]}']").inner_text()
        assert "not_blank: luma_std = 0" in blank and "outside_region_preserved" in blank
        reasons = {g.generation_id: g.reason for g in ctx.ledger.generations(DATE)}
        for i in range(4):  # each item says why it waits: failed checks, or a preview engine
            item = items.nth(i)
            assert reasons[item.get_attribute("data-generation")] in item.inner_text()
            assert item.locator("form.regenerate").count() == 0, "a deterministic engine offers no re-generate"
            assert "engine is deterministic" in item.inner_text()
        for kind in ("garment", "model photo", "result"):  # the three images load and decode
            assert items.nth(0).locator(f"img[alt^='{kind}']").evaluate("img => img.complete && img.naturalWidth > 0")

        # approving one that failed QC asks first, listing its failed checks; the approval can be undone
        blank_row = next(g for g in ctx.ledger.generations(DATE) if g.generation_id == broken[0])
        slot = f"storefront/{blank_row.sku}/{blank_row.photo_id}.jpg"
        page.locator(f"section.item[data-generation='{broken[0]}'] form.approve button").click()
        page.wait_for_selector("h1:has-text('although it failed QC')")
        assert "not_blank: luma_std = 0" in page.inner_text("ul.checks")
        assert not ctx.store.exists(slot), "nothing is published before the reviewer confirms"
        page.click("text=Yes, publish it despite the failed checks")
        page.wait_for_selector("[role=status]")
        assert f"approved {blank_row.sku} on {blank_row.photo_id} ({broken[0][:8]})" in page.inner_text("[role=status]")
        assert broken[0] in _manifest_ids(ctx) and ctx.store.exists(slot)
        page.click("[role=status] form.undo button")
        page.wait_for_selector("text=undid the decision")
        assert f"undid the decision on {blank_row.sku} on {blank_row.photo_id}" in page.inner_text("[role=status]")
        assert broken[0] not in _manifest_ids(ctx) and not ctx.store.exists(slot), "the undo withdrew it"
        assert page.locator("section.item").count() == 4, "back in review"
        undone = next(g for g in ctx.ledger.generations(DATE) if g.generation_id == broken[0])
        assert (undone.state, undone.reason) == ("flagged", blank_row.reason)

        passed_qc = [i for i in range(4) if items.nth(i).get_attribute("data-generation") not in broken]
        for _ in range(passed_qc[0]):
            page.keyboard.press("j")
        first = items.nth(passed_qc[0]).get_attribute("data-generation")
        page.keyboard.press("a")  # approve the current item: a preview that passed QC, published at once
        page.wait_for_selector("[role=status]:has-text('approved')")
        assert first in _manifest_ids(ctx), "approved: in the storefront manifest"
        assert ctx.store.exists(
            f"storefront/{next(g.sku for g in ctx.ledger.generations(DATE) if g.generation_id == first)}/"
            f"{next(g.photo_id for g in ctx.ledger.generations(DATE) if g.generation_id == first)}.jpg"
        )

        second = page.locator("section.item").nth(0).get_attribute("data-generation")
        assert second != first and page.locator("section.item").count() == 3
        suggested = page.locator("section.item").nth(0).locator("select[name=failure_mode]").input_value()
        page.keyboard.press("g")  # no re-generate form: nothing happens
        page.keyboard.press("r")
        page.keyboard.type("sleeve melted into the torso")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=rejected")
        assert page.locator("section.item").count() == 2
        assert second not in _manifest_ids(ctx), "rejected: not in the manifest"
        assert "sleeve melted into the torso" in page.inner_text("table")
        # the approved image's Content Credentials, as a C2PA reader finds them on its storefront copy
        credentials = page.locator(f"tr:has-text('{first[:12]}') td.credentials").inner_text()
        assert credentials.startswith("Content Credentials Valid, signed by tryon test signer; actions c2pa.created, ")
        assert "org.tryon.reviewed" in credentials and "ingredients model photo " in credentials
        assert f"Judged by QC suite v{load_config().version}." in page.locator("section.item").nth(0).inner_text()
        browser.close()

    states = {g.generation_id: g.state for g in ctx.ledger.generations(DATE)}
    assert states[first] == "published" and states[second] == "rejected"
    assert _manifest_ids(ctx) == {first}
    from tasks.review.decisions import decisions

    made = [(d.generation_id, d.decision, d.reviewer, d.reason, d.failure_mode) for d in decisions(ctx, DATE)]
    # the rejection's failure mode: the one QC named first (in the suite's order), unless the
    # reviewer picks another
    with ctx.ledger.session() as session:
        failed = set(session.scalars(select(QCResult.check).where(QCResult.generation_id == second, QCResult.passed.is_(False))))
    assert suggested == next(mode for mode in failure_modes(load_config()) if mode in failed)
    assert made[0][:3] == (broken[0], "undone", "alice") and made[0][3].startswith("approved of ")
    # a rejection undone: back in review with the reason it waited for
    from tasks.review.undo import undo

    [rejection] = [d for d in decisions(ctx, DATE) if d.generation_id == second]
    undo(ctx, rejection.id, "alice")
    [back] = [g for g in ctx.ledger.generations(DATE) if g.generation_id == second]
    assert (back.state, back.reason) == ("flagged", reasons[second])
    assert made[1:] == [
        (first, "approved", "alice", None, None),
        (second, "rejected", "alice", "sleeve melted into the torso", suggested),
    ]


def test_writes_need_a_session_and_its_csrf_token(server):
    base, ctx, broken = server
    target = f"{base}/generations/{broken[0]}/approve"
    anonymous = requests.post(target, data={"date": DATE, "csrf": "x"}, allow_redirects=False, timeout=10)
    assert anonymous.status_code == 401
    session = requests.Session()
    login_page = session.get(f"{base}/login", timeout=10).text
    token = login_page.split('name="csrf" value="')[1].split('"')[0]
    assert session.post(f"{base}/login", data={"name": "alice", "password": PASSWORD}, timeout=10).status_code == 403
    assert (
        session.post(
            f"{base}/login", data={"name": "alice", "password": PASSWORD, "csrf": token}, allow_redirects=False, timeout=10
        ).status_code
        == 303
    )
    # signed in, but a form without the session's token (what another site would post) is refused
    assert session.post(target, data={"date": DATE}, allow_redirects=False, timeout=10).status_code == 403
    assert session.post(target, data={"date": DATE, "csrf": token}, allow_redirects=False, timeout=10).status_code == 403, (
        "the token is replaced at sign-in"
    )
    assert session.get(f"{base}/objects", params={"key": "reports/x.json"}, timeout=10).status_code == 404
    # a reason of a megabyte is refused (422), never stored to be served on every reviewer's page
    fresh = session.get(f"{base}/dates/{DATE}", timeout=10).text.split('name="csrf" value="')[1].split('"')[0]
    huge = session.post(
        f"{base}/generations/{broken[0]}/reject",
        data={"date": DATE, "csrf": fresh, "reason": "x" * 1_000_000},
        allow_redirects=False,
        timeout=30,
    )
    assert huge.status_code == 422 and "at most 500 characters" in huge.text
    assert ctx.ledger.generations(DATE) and all("x" * 501 not in (g.reason or "") for g in ctx.ledger.generations(DATE))
    assert broken[0] not in _manifest_ids(ctx)
    assert requests.get(f"{base}/objects", params={"key": "generations/x.jpg"}, timeout=10).status_code == 401


def test_a_deterministic_engine_cannot_be_regenerated(reviewed_drop):
    """The warp baseline ignores the seed: a re-generation would be byte-identical, so it is
    refused (the re-generate path of a seeded engine is tested with LaDI-VTON, test_ladi_vton_dag)."""
    from tasks.review.decisions import ReviewError, regenerate

    ctx, broken = reviewed_drop
    with pytest.raises(ReviewError, match="deterministic"):
        regenerate(ctx, broken[0], "bob")
    assert {g.generation_id: g.state for g in ctx.ledger.generations(DATE)}[broken[0]] == "flagged"


def test_a_later_generation_never_silently_replaces_an_approved_image(reviewed_drop):
    """A new model version or seed that passes QC for a slot a reviewer approved goes to review."""
    from tasks.ledger import Generation, GenerationState
    from tasks.review.decisions import approve

    ctx, broken = reviewed_drop
    approved_key = approve(ctx, broken[0], "alice")
    approved_bytes = ctx.store.get_bytes(approved_key)
    with ctx.ledger.session() as session:
        old = session.get(Generation, broken[0])
        newer = Generation(
            **{
                c.name: getattr(old, c.name)
                for c in Generation.__table__.columns
                if c.name not in ("generation_id", "updated_at")
            }
        )
        newer.generation_id, newer.model_version = "f" * 32, "next-model-2"
        newer.state, newer.reason = GenerationState.PASSED.value, None
        newer.object_key = next(g.object_key for g in ctx.ledger.generations(DATE) if g.generation_id != broken[0])
        session.add(newer)
    publish(ctx, DATE)
    row = {g.generation_id: g for g in ctx.ledger.generations(DATE)}["f" * 32]
    assert row.state == "flagged" and row.reason.startswith("replaces_approved:")
    assert ctx.store.get_bytes(approved_key) == approved_bytes, "the approved image is still the one in the storefront"
    assert broken[0] in _manifest_ids(ctx) and "f" * 32 not in _manifest_ids(ctx)
