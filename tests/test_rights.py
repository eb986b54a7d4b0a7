"""Rights on every input (issue 34, item 1): a model photo's talent release, given with the
photos (library/releases.csv), kept in the ledger with its history, and asked by the storefront
gate on every path: a photo without a release that allows it stays ready for previews, never
for the storefront."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tasks.catalog.look_files import Look, LookFile, LooksModelRef
from tasks.catalog.releases import parse_releases
from tasks.ledger import Garment, Generation, GenerationState, ModelPhoto, PhotoReleaseRow, RightsWithdrawal
from tasks.preprocess.library_stage import record_releases
from tasks.publish import publish
from tasks.review import decisions
from tasks.rights import current_releases, terms
from tasks.storage import LIBRARY_RELEASES_KEY, look_file_key, storefront_manifest_key
from tests.conftest import generation_row, put_jpeg, put_tryon_inputs
from tests.test_garment_drop_dag import run_tryon
from tests.webhook import Webhook

HEADER = "photo,release_id,channels,territories,valid_from,valid_until,ai_use,revoked\n"
DATE = "2026-11-25"


def test_the_releases_file_is_read_and_its_bad_rows_named_by_line():
    read = parse_releases(
        HEADER
        + "a.jpg,R-1,ecommerce;Social,worldwide,2026-01-01,2027-01-01,yes,no\n"
        + "b.jpg,R-2,ecommerce,DE;FR,2026-01-01,,no,\n"
        + "c.jpg,R-3,ecommerce,worldwide,soon,,yes,no\n"
        + "d.jpg,R-4,,worldwide,2026-01-01,,yes,no\n"
        + "a.jpg,R-5,ecommerce,worldwide,2026-01-01,,yes,no\n"
        + "e.jpg,R-6,ecommerce,worldwide,2026-01-01,,maybe,no\n"
    )
    assert sorted(read.releases) == ["a", "b"]
    assert read.releases["a"].channels == ("ecommerce", "social") and read.releases["a"].valid_until == date(2027, 1, 1)
    assert (
        read.releases["b"].territories == ("de", "fr")
        and not read.releases["b"].ai_use
        and read.releases["b"].valid_until is None
    )
    assert read.problems == [
        "releases.csv line 4: valid_from 'soon' is not a date (YYYY-MM-DD)",
        "releases.csv line 5: channels is empty",
        "releases.csv line 6: a second release for a; the first is kept",
        "releases.csv line 7: ai_use must be yes or no, not 'maybe'",
    ]
    assert parse_releases("photo,release_id\n").problems[0].startswith("releases.csv lacks the column(s) channels")


def _row(**changes) -> PhotoReleaseRow:
    fields = {
        "photo_id": "p",
        "release_id": "R-1",
        "channels": ["ecommerce"],
        "territories": ["worldwide"],
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2026, 12, 31),
        "ai_use": True,
        "revoked": False,
    }
    return PhotoReleaseRow(**(fields | changes))


@pytest.mark.parametrize(
    ("release", "today", "why"),
    [
        (None, date(2026, 6, 1), "no model release is recorded for photo p: previews and evaluation only"),
        (_row(), date(2027, 1, 1), "release R-1 of photo p expired on 2026-12-31"),
        (_row(), date(2025, 12, 31), "release R-1 of photo p is valid only from 2026-01-01"),
        (
            _row(revoked=True, note="withdrawn by the agency"),
            date(2026, 6, 1),
            "release R-1 of photo p was revoked (withdrawn by the agency)",
        ),
        (_row(ai_use=False), date(2026, 6, 1), "release R-1 of photo p does not allow derived AI images of the person"),
        (
            _row(channels=["print"]),
            date(2026, 6, 1),
            "release R-1 of photo p does not cover the channel ecommerce (it covers print)",
        ),
        (_row(territories=["fr"]), date(2026, 6, 1), "release R-1 of photo p does not cover de (it covers fr)"),
    ],
)
def test_a_release_that_does_not_hold_says_why(settings, release, today, why):
    shop = settings.model_copy(update={"storefront_territories": "DE" if "cover de" in why else "worldwide"})
    found = terms(shop, "p", release, today)
    assert not found.allowed and found.note == why


def test_a_release_that_holds_names_itself(settings):
    found = terms(
        settings.model_copy(update={"storefront_territories": "DE;FR"}),
        "p",
        _row(territories=["de", "fr", "it"]),
        date(2026, 6, 1),
    )
    assert found.allowed and found.note == "release R-1 of photo p allows it until 2026-12-31"


def test_the_library_build_keeps_each_release_with_its_history(ctx):
    ctx.store.put_bytes(LIBRARY_RELEASES_KEY, (HEADER + "p.jpg,R-1,ecommerce,worldwide,2026-01-01,2026-12-31,yes,no\n").encode())
    assert record_releases(ctx) == (1, [])
    assert record_releases(ctx) == (0, []), "the same terms again record nothing"
    ctx.store.put_bytes(LIBRARY_RELEASES_KEY, (HEADER + "p.jpg,R-1,ecommerce,worldwide,2026-01-01,2027-12-31,yes,no\n").encode())
    assert record_releases(ctx) == (1, [])  # renewed
    ctx.store.put_bytes(LIBRARY_RELEASES_KEY, HEADER.encode())
    assert record_releases(ctx) == (1, [])  # no longer listed
    with ctx.ledger.session() as session:
        history = list(
            session.scalars(select(PhotoReleaseRow).where(PhotoReleaseRow.photo_id == "p").order_by(PhotoReleaseRow.id))
        )
        assert [(r.valid_until, r.revoked) for r in history] == [
            (date(2026, 12, 31), False),
            (date(2027, 12, 31), False),
            (date(2027, 12, 31), True),
        ]
        assert history[-1].note == "no longer listed in library/releases.csv"
        now = current_releases(session)["p"]
    assert not terms(ctx.settings, "p", now, date(2026, 6, 1)).allowed


def _passed(ctx, photo: str, sku: str = "TEE-1") -> str:
    """A generation of a weightless engine that passed QC, of ``sku`` on ``photo``."""
    with ctx.ledger.session() as session:
        garment = session.scalar(select(Garment).where(Garment.drop_date == DATE, Garment.sku == sku))
        if garment is None:
            garment = Garment(drop_date=DATE, sku=sku, category="upper_body", sha256="a" * 64, state="matched")
            session.add(garment)
        if session.get(ModelPhoto, photo) is None:
            session.add(ModelPhoto(photo_id=photo, sha256="b" * 64, source_key=f"library/photos/{photo}.jpg", state="ready"))
        session.flush()
        gid = f"{sku}-{photo}-{DATE}"
        put_jpeg(ctx.store, f"generations/{gid}.jpg")
        put_tryon_inputs(ctx.store, photo, "upper_body", "a" * 64)
        session.add(generation_row(garment, photo, gid, f"generations/{gid}.jpg", GenerationState.PASSED.value))
    return gid


def test_an_image_of_a_photo_without_a_storefront_release_never_reaches_the_storefront(ctx):
    """The sample library's own releases allow previews only: its images wait as ``no_release``
    and no reviewer can approve them; a photo whose release allows the storefront is approved."""
    from tasks.cli.common import SAMPLES

    ctx.store.put_bytes(LIBRARY_RELEASES_KEY, (SAMPLES / "releases.csv").read_bytes())
    assert record_releases(ctx) == (7, [])
    sample, ours = _passed(ctx, "049205_0"), _passed(ctx, "ours")
    assert publish(ctx, DATE).published == 0
    rows = {g.generation_id: g for g in ctx.ledger.generations(DATE)}
    assert rows[sample].state == "flagged"
    assert rows[sample].reason == (
        "no_release: release SAMPLE-RESEARCH-USE of photo 049205_0 does not cover the channel ecommerce "
        "(it covers internal-preview); no reviewer can publish it"
    )
    assert rows[ours].reason.startswith("no_release: no model release is recorded for photo ours")
    with pytest.raises(decisions.ReviewError, match="may not reach the storefront: no_release: release SAMPLE-RESEARCH-USE"):
        decisions.approve(ctx, sample, "qa@example.com")

    ctx.store.put_bytes(LIBRARY_RELEASES_KEY, (HEADER + "ours.png,R-9,ecommerce,worldwide,2026-01-01,,yes,no\n").encode())
    record_releases(ctx)
    assert decisions.approve(ctx, ours, "qa@example.com") == "storefront/TEE-1/ours.jpg"
    assert [e["generation_id"] for e in ctx.store.get_json(storefront_manifest_key(DATE))["items"]] == [ours]


def test_the_rights_dag_withdraws_an_expired_release_and_warns_through_the_notifier(ctx):
    """A published image of a photo whose release expired yesterday is taken off the storefront
    by the next rights run (object, manifest, look file), with the withdrawal and its reason in
    the ledger; a release ending in five days is warned of; both reach the webhook of the
    configured Airflow connection."""
    today = datetime.now(UTC).date()
    ctx.store.put_bytes(
        LIBRARY_RELEASES_KEY,
        (
            HEADER
            + f"old.jpg,R-OLD,ecommerce,worldwide,2026-01-01,{today + timedelta(days=30)},yes,no\n"
            + f"soon.jpg,R-SOON,ecommerce,worldwide,2026-01-01,{today + timedelta(days=5)},yes,no\n"
        ).encode(),
    )
    record_releases(ctx)
    old, soon, jeans = _passed(ctx, "old"), _passed(ctx, "soon"), _passed(ctx, "soon", "JEANS-9")
    publish(ctx, DATE)  # the warp baseline's: previews, for a reviewer
    for gid in (old, soon, jeans):
        decisions.approve(ctx, gid, "qa@example.com")
    partner = LookFile("JEANS-9", "lower_body", DATE, LooksModelRef("looks-x", "0" * 64, False, "colour-texture"))
    ctx.store.put_json(
        look_file_key("JEANS-9"),
        replace(
            partner, looks=[Look("TEE-1", "upper_body", 0.5, ["storefront/TEE-1/old.jpg", "storefront/TEE-1/soon.jpg"])]
        ).document(),
    )
    # the release of "old" ends: the catalogue team's file says yesterday
    ctx.store.put_bytes(
        LIBRARY_RELEASES_KEY,
        (
            HEADER
            + f"old.jpg,R-OLD,ecommerce,worldwide,2026-01-01,{today - timedelta(days=1)},yes,no\n"
            + f"soon.jpg,R-SOON,ecommerce,worldwide,2026-01-01,{today + timedelta(days=5)},yes,no\n"
        ).encode(),
    )
    record_releases(ctx)

    with Webhook() as hook:
        result = run_tryon(ctx.settings, "rights", AIRFLOW_CONN_TRYON_RIGHTS_NOTIFY=hook.url)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    assert not ctx.store.exists("storefront/TEE-1/old.jpg") and ctx.store.exists("storefront/TEE-1/soon.jpg")
    assert [e["generation_id"] for e in ctx.store.get_json(storefront_manifest_key(DATE))["items"]] == [jeans, soon]
    assert ctx.store.get_json(look_file_key("JEANS-9"))["looks"][0]["images"] == ["storefront/TEE-1/soon.jpg"]
    expired = f"release R-OLD of photo old expired on {(today - timedelta(days=1)).isoformat()}"
    with ctx.ledger.session() as session:
        withdrawals = list(session.scalars(select(RightsWithdrawal).order_by(RightsWithdrawal.id)))
        assert [(w.kind, w.subject, w.storefront_key) for w in withdrawals] == [
            ("generation", old, "storefront/TEE-1/old.jpg"),
            ("look_file", "JEANS-9", look_file_key("JEANS-9")),
        ]
        assert withdrawals[0].reason == f"no_release: {expired}; no reviewer can publish it"
        row = session.get(Generation, old)
        assert row.state == "flagged" and row.reason == withdrawals[0].reason
    ending = "release R-SOON of photo soon ends in 5 days"
    assert expired in result.stdout and ending in result.stdout
    [message] = hook.received
    assert hook.paths == ["/hooks/tryon"], "posted to the connection's path"
    assert message["dag_id"] == "rights" and expired in message["text"] and ending in message["text"]
