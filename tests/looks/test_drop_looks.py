"""The drop's look files: the storefront garments of the other category that the model scores
highest, in a file that validates, holds only live images and is written once."""

from __future__ import annotations

import jsonschema
import pytest

from tasks.catalog.documents import to_document
from tasks.catalog.look_files import LOOK_FILE_SCHEMA
from tasks.context import RunContext
from tasks.images import decode_rgb, sha256_hex
from tasks.ledger import Garment, Generation, ModelPhoto, Publication
from tasks.looks.drop_looks import write_looks
from tasks.looks.train_stage import train_looks
from tasks.preprocess.garment import prepare_garment
from tasks.preprocess.garment_stage import embed_garment
from tasks.storage import garment_artifact_key, look_file_key, storefront_key, storefront_manifest_key
from tests.conftest import GARMENTS
from tests.looks.conftest import library_copy

EARLIER, DATE = "2026-11-19", "2026-11-20"
ON_STOREFRONT = {
    EARLIER: ("TEE-00055", "TEE-03032", "JEANS-051946", "DRESS-053744"),
    DATE: ("CAMI-048769", "TROUSER-051473", "DRESS-052234"),
}


def publish_garment(ctx: RunContext, date: str, sku: str, photo: str = "049205_0") -> None:
    """A garment as the pipeline leaves it once published: its embedding, a live publication of
    one generation and the storefront image (ledger rows made directly: no engine runs)."""
    path, category = GARMENTS[sku]
    data = path.read_bytes()
    sha256 = sha256_hex(data)
    garment = prepare_garment(decode_rgb(data))
    ctx.store.put_json(
        garment_artifact_key(sha256, "meta.json"), {"embedding": to_document(embed_garment(ctx, garment.cloth, garment.mask))}
    )
    key = storefront_key(sku, photo)
    ctx.store.put_bytes(key, b"a storefront image")
    generation_id = f"{sku}-{photo}-{date}"
    with ctx.ledger.session() as session:
        if session.get(ModelPhoto, photo) is None:
            session.add(ModelPhoto(photo_id=photo, sha256="b" * 64, source_key=f"library/photos/{photo}.jpg", state="ready"))
        row = Garment(drop_date=date, sku=sku, category=category, sha256=sha256, state="published")
        session.add(row)
        session.flush()
        session.add(
            Generation(
                generation_id=generation_id,
                garment_id=row.id,
                photo_id=photo,
                drop_date=date,
                sku=sku,
                category=category,
                engine="test",
                model_version="v1",
                weights_sha256="c" * 64,
                seed=0,
                state="published",
            )
        )
        session.add(Publication(generation_id=generation_id, drop_date=date, sku=sku, photo_id=photo, storefront_key=key))


@pytest.fixture(scope="module")
def storefront(library_ctx, trained, tmp_path_factory):
    ctx = library_copy(library_ctx, tmp_path_factory.mktemp("storefront"))
    assert trained.card is not None and train_looks(ctx).outcome == "unchanged"
    for date, skus in ON_STOREFRONT.items():
        for sku in skus:
            publish_garment(ctx, date, sku)
    return ctx


def test_each_new_garment_on_the_storefront_gets_its_look_file(storefront):
    ctx = storefront
    ctx.settings.looks_per_garment = 2
    result = write_looks(ctx, DATE)
    assert sorted(result.written) == ["CAMI-048769", "TROUSER-051473"] and result.unchanged == []
    assert result.skipped == {"DRESS-052234": "dresses: no partner category in the catalogue"}
    assert not ctx.store.exists(look_file_key("DRESS-052234"))
    trousers = ctx.store.get_json(look_file_key("TROUSER-051473"))
    jsonschema.validate(trousers, LOOK_FILE_SCHEMA)
    assert trousers["model"]["version"] == result.model and trousers["model"]["released"] is False
    # the two best of the three upper-body garments on the storefront, best first, with their images
    looks = trousers["looks"]
    assert len(looks) == 2 and {look["category"] for look in looks} == {"upper_body"}
    assert {look["sku"] for look in looks} <= {"TEE-00055", "TEE-03032", "CAMI-048769"}
    assert looks[0]["score"] >= looks[1]["score"]
    assert all(ctx.store.exists(key) for look in looks for key in look["images"])
    camisole = ctx.store.get_json(look_file_key("CAMI-048769"))
    assert sorted(look["sku"] for look in camisole["looks"]) == ["JEANS-051946", "TROUSER-051473"]
    # the date's manifest lists its look files with its images
    manifest = ctx.store.get_json(storefront_manifest_key(DATE))
    assert manifest["look_files"] == [{"sku": sku, "key": look_file_key(sku)} for sku in ("CAMI-048769", "TROUSER-051473")]


def test_a_rerun_writes_nothing_and_a_withdrawn_image_leaves_the_looks(storefront):
    ctx = storefront
    ctx.settings.looks_per_garment = 5
    write_looks(ctx, DATE)
    again = write_looks(ctx, DATE)
    assert again.written == [] and sorted(again.unchanged) == ["CAMI-048769", "TROUSER-051473"]
    # the jeans' storefront image is gone (an operator removed it): the camisole's look drops them
    ctx.store.delete(storefront_key("JEANS-051946", "049205_0"))
    changed = write_looks(ctx, DATE)
    assert changed.written == ["CAMI-048769"]
    assert [look["sku"] for look in ctx.store.get_json(look_file_key("CAMI-048769"))["looks"]] == ["TROUSER-051473"]


def test_without_a_model_no_look_file_is_written(ctx):
    publish_garment(ctx, DATE, "CAMI-048769")
    result = write_looks(ctx, DATE)
    assert result.written == [] and result.skipped == {"CAMI-048769": "no compatibility model"}
    assert "no compatibility model" in result.note
