"""Full-outfit images: each new garment with its best partner on one photo, the engine twice,
judged, routed by the publish policy, made once."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.context import RunContext
from tasks.images import decode_rgb
from tasks.ledger import LookGeneration
from tasks.looks.outfit_tryon import look_id_of, make_outfits, outfit_canvas
from tasks.looks.train_stage import train_looks
from tasks.storage import review_look_key, storefront_look_key
from tests.conftest import plan_drop
from tests.looks.conftest import library_copy

DATE = "2026-11-21"
SKUS = ("CAMI-048769", "TEE-00055", "TROUSER-051473", "DRESS-052234")


@pytest.fixture(scope="module")
def outfit_run(library_ctx, trained, tmp_path_factory):
    copy = library_copy(library_ctx, tmp_path_factory.mktemp("outfits"))
    # the warp baseline is a preview: its outfits are made only when asked for (TRYON_OUTFITS=always)
    skipped = make_outfits(copy, DATE)
    assert skipped.looks == 0 and "TRYON_OUTFITS=always" in (skipped.note or ""), skipped
    ctx = RunContext(settings=copy.settings.model_copy(update={"outfits": "always"}), store=copy.store, ledger=copy.ledger)
    assert trained.card is not None and train_looks(ctx).outcome == "unchanged"
    items = plan_drop(ctx, DATE, SKUS, ())[0]
    first = make_outfits(ctx, DATE)
    with ctx.ledger.session() as session:
        rows = session.query(LookGeneration).filter_by(drop_date=DATE).all()
        for row in rows:
            session.expunge(row)
    return ctx, items, first, rows


def test_the_canvas_masks_split_the_body_between_the_passes(library_ctx):
    canvas = outfit_canvas(library_ctx, "049205_0")
    assert canvas.upper_mask.shape == canvas.view["person"].shape[:2]
    assert not (canvas.upper_mask & canvas.lower_mask).any(), "the lower pass never paints over the new top"
    ys_upper, ys_lower = np.nonzero(canvas.upper_mask)[0], np.nonzero(canvas.lower_mask)[0]
    assert ys_upper.mean() < ys_lower.mean() and canvas.upper_mask.mean() > 0.05 and canvas.lower_mask.mean() > 0.05


def test_each_new_garment_gets_its_look_made_once_and_the_preview_waits_in_review(outfit_run):
    ctx, _, first, rows = outfit_run
    # two tops and a pair of trousers: each top pairs with the trousers, the trousers with its best
    # top (one of the same two looks); the dress has no partner category
    assert first.looks == len(rows) == 2 and first.generated == 2
    assert first.skipped == {} or set(first.skipped) <= {"DRESS-052234"}
    assert {(r.upper_sku, r.lower_sku) for r in rows} == {("CAMI-048769", "TROUSER-051473"), ("TEE-00055", "TROUSER-051473")}
    for row in rows:
        assert row.look_id == look_id_of(row.upper_garment_sha256, row.lower_garment_sha256)
        # the warp baseline is a preview: whatever QC says, a reviewer decides
        assert row.state == "flagged" and row.reason
        assert not ctx.store.exists(storefront_look_key(row.look_id, row.photo_id))
        image = decode_rgb(ctx.store.get_bytes(review_look_key(DATE, row.look_id, row.photo_id, row.generation_id)))
        assert image.shape == (1024, 768, 3)
        sidecar = ctx.store.get_json(review_look_key(DATE, row.look_id, row.photo_id, row.generation_id, "json"))
        garments = {g["role"]: g for g in sidecar["garments"]}
        assert (garments["upper"]["sku"], garments["lower"]["sku"]) == (row.upper_sku, row.lower_sku)
        assert garments["upper"]["garment_sha256"] == row.upper_garment_sha256
        assert sidecar["engine"] == "warp-baseline" and sidecar["baseline"] is True and sidecar["seed"] == row.seed
        assert sidecar["looks_model"]["version"] == row.looks_model_version
        # both garments are in the image: the top's and the trousers' regions changed from the photo
        photo = outfit_canvas(ctx, row.photo_id)
        person = photo.view["person"].astype(int)
        for mask in (photo.upper_mask, photo.lower_mask):
            assert np.abs(image.astype(int) - person)[mask].mean() > 10


def test_a_rerun_makes_nothing_twice(outfit_run):
    ctx, _, _, rows = outfit_run
    keys = {row.object_key: ctx.store.head(row.object_key) for row in rows}
    again = make_outfits(ctx, DATE)
    assert again.generated == 0 and again.existing == 2
    assert {key: ctx.store.head(key) for key in keys} == keys


def test_the_looks_are_made_in_batches_and_a_failed_one_fails_alone(outfit_run, tmp_path_factory, monkeypatch):
    """Each pass is one engine call for a batch of looks (``batch_size``), as try-on shards batch:
    two looks, one call per pass; a look whose engine call fails is failed alone, the other made."""
    from tasks.inference.factory import get_engine

    ctx = outfit_run[0]
    copy = library_copy(ctx, tmp_path_factory.mktemp("batched"))
    plan_drop(copy, DATE, SKUS, ())
    calls = []
    engine_class = type(get_engine(copy.settings))
    real = engine_class.generate

    def counted(self, samples):
        calls.append([(s.category, s.generation_id) for s in samples])
        if any(s.category == "lower_body" and s.generation_id == calls[0][0][1] for s in samples):
            raise RuntimeError("the engine broke on this look")
        return real(self, samples)

    monkeypatch.setattr(engine_class, "generate", counted)
    made = make_outfits(
        RunContext(settings=copy.settings.model_copy(update={"outfits": "always"}), store=copy.store, ledger=copy.ledger), DATE
    )
    passes = [{category for category, _ in call} for call in calls]
    # the upper pass for both looks in one call; the lower pass's batch failed as a whole, then one by one
    assert len(calls[0]) == 2 and passes[0] == {"upper_body"} and passes[1] == {"lower_body"} and len(calls[1]) == 2
    assert made.generated == 1 and made.states["failed"] == 1, made
    with copy.ledger.session() as session:
        failed = session.get(LookGeneration, calls[0][0][1])
        assert failed.state == "failed" and "the engine broke on this look" in failed.reason
