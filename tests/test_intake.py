"""Discovery and validation against the real S3 API: every SKU ends recorded, bad ones with a
reason and a quarantine copy."""

import json

from tasks.intake import discover, validate
from tasks.ledger import GarmentState
from tests.conftest import GARMENTS

DATE = "2026-11-20"


def _put_drop(ctx, sku, files):
    for name, data in files.items():
        ctx.store.put_bytes(f"drops/{DATE}/{sku}/{name}", data)


def test_good_and_bad_skus_each_end_in_a_recorded_state(ctx):
    tee, _ = GARMENTS["TEE-00055"]
    good = tee.read_bytes()
    meta = json.dumps({"category": "upper_body"}).encode()
    _put_drop(ctx, "GOOD-1", {"front.jpg": good, "meta.json": meta, "zz-back.jpg": good})
    _put_drop(ctx, "NO-CAT", {"front.jpg": good, "meta.json": b"{}"})
    _put_drop(ctx, "BAD-CAT", {"front.jpg": good, "meta.json": b'{"category": "hats"}'})
    _put_drop(ctx, "BROKEN-JSON", {"front.jpg": good, "meta.json": b"{not json"})
    _put_drop(ctx, "NO-IMAGE", {"meta.json": meta, "notes.txt": b"hello"})
    _put_drop(ctx, "TRUNCATED", {"front.jpg": good[:5000], "meta.json": meta})
    _put_drop(ctx, "TEXT-AS-JPG", {"front.jpg": b"this is not an image", "meta.json": meta})
    _put_drop(ctx, "EMPTY", {"front.jpg": b"", "meta.json": meta})
    _put_drop(ctx, "bad sku;rm", {"front.jpg": good, "meta.json": meta})

    found = discover(ctx, DATE)
    valid = validate(ctx, DATE, found)

    assert [item.sku for item in valid] == ["GOOD-1"]
    assert valid[0].sha256 and valid[0].extra_keys == [f"drops/{DATE}/GOOD-1/zz-back.jpg"]
    states = {g.sku: (g.state, g.reason) for g in ctx.ledger.garments(DATE)}
    assert len(states) == 9, "every SKU has exactly one row"
    assert states["GOOD-1"] == (GarmentState.DISCOVERED.value, None)
    expected = {
        "NO-CAT": "category_missing",
        "BAD-CAT": "category_unknown: 'hats'",
        "BROKEN-JSON": "meta_json_invalid",
        "NO-IMAGE": "no_image",
        "TRUNCATED": "corrupt_image",
        "TEXT-AS-JPG": "not_an_image",
        "EMPTY": "empty_file",
    }
    for sku, reason in expected.items():
        state, recorded = states[sku]
        assert state == GarmentState.QUARANTINED.value and recorded.startswith(reason), (sku, recorded)
        quarantined = ctx.store.get_json(f"quarantine/{DATE}/{sku}/reason.json")
        assert quarantined["reason"] == recorded and quarantined["sku"] == sku
    # the original bytes are kept beside the reason
    assert ctx.store.get_bytes(f"quarantine/{DATE}/TRUNCATED/front.jpg") == good[:5000]
    [unsafe] = [sku for sku in states if sku.startswith("unsafe-")]
    assert states[unsafe][0] == GarmentState.REJECTED.value and "unsafe_sku" in states[unsafe][1]
    assert not [k for k in ctx.store.list_keys("quarantine/") if "rm" in k], "an unsafe name never reaches a key"


def test_fixing_a_quarantined_file_and_rerunning_picks_it_up(ctx):
    tee, _ = GARMENTS["TEE-00055"]
    _put_drop(ctx, "LATE", {"front.jpg": tee.read_bytes(), "meta.json": b"{}"})
    assert validate(ctx, DATE, discover(ctx, DATE)) == []
    _put_drop(ctx, "LATE", {"meta.json": b'{"category": "upper_body"}'})
    assert [i.sku for i in validate(ctx, DATE, discover(ctx, DATE))] == ["LATE"]
    [garment] = ctx.ledger.garments(DATE)
    assert garment.state == GarmentState.DISCOVERED.value and garment.reason is None


def test_manifest_gives_a_missing_category_and_notes_record_conversions(ctx):
    tee, _ = GARMENTS["TEE-00055"]
    import io

    from PIL import Image

    grey = io.BytesIO()
    Image.open(tee).convert("L").save(grey, format="PNG")
    _put_drop(ctx, "FROM-MANIFEST", {"front.png": grey.getvalue(), "meta.json": b"{}"})
    _put_drop(ctx, "NOT-LISTED", {"front.jpg": tee.read_bytes()})
    ctx.store.put_bytes(
        f"drops/{DATE}/manifest.csv", b"sku,category,title,rights_owner\nFROM-MANIFEST,upper_body,Grey tee,Studio North\n"
    )
    valid = validate(ctx, DATE, discover(ctx, DATE))
    assert [(i.sku, i.category) for i in valid] == [("FROM-MANIFEST", "upper_body")]
    garments = {g.sku: g for g in ctx.ledger.garments(DATE)}
    assert garments["FROM-MANIFEST"].meta["intake_notes"] == ["converted_from_grayscale"]
    assert garments["FROM-MANIFEST"].meta["rights_owner"] == "Studio North", "the garment image's rights owner is kept"
    assert garments["NOT-LISTED"].state == "quarantined" and garments["NOT-LISTED"].reason.startswith("category_missing")


def test_a_verdict_is_kept_with_the_content_and_asked_again_only_when_its_maker_changed(ctx, monkeypatch):
    """A re-run (or a later drop) with the same bytes is not decoded and shown to the pose model
    again; a photo worn by a person stays quarantined; another pose backend asks again."""
    from tasks.preprocess import backends, garment
    from tests.conftest import MODEL_PHOTOS

    meta = json.dumps({"category": "upper_body"}).encode()
    _put_drop(ctx, "TEE", {"front.jpg": GARMENTS["TEE-03032"][0].read_bytes(), "meta.json": meta})
    _put_drop(ctx, "WORN", {"front.jpg": MODEL_PHOTOS[0].read_bytes(), "meta.json": meta})
    first = validate(ctx, DATE, discover(ctx, DATE))
    assert [item.sku for item in first] == ["TEE"]
    notes = {g.sku: g.meta.get("format") for g in ctx.ledger.garments(DATE)}

    asked = []
    real = garment.worn_by_person
    monkeypatch.setattr(garment, "worn_by_person", lambda image, pose=None: asked.append(1) or real(image, pose))
    again = validate(ctx, DATE, discover(ctx, DATE))
    assert again == first and not asked, "the same bytes are not asked again"
    states = {g.sku: (g.state, g.meta.get("format")) for g in ctx.ledger.garments(DATE)}
    assert states["WORN"][0] == "quarantined" and states["TEE"] == ("discovered", notes["TEE"])

    mediapipe = backends.pose_backend(ctx.settings)

    class OtherPose:
        backend = "another-pose-backend"

        def __call__(self, image, person_mask=None):
            return mediapipe(image, person_mask)

    monkeypatch.setattr(backends, "pose_backend", lambda settings, other=OtherPose(): other)
    assert [item.sku for item in validate(ctx, DATE, discover(ctx, DATE))] == ["TEE"]
    assert len(asked) == 2, "another pose backend: both photos asked again"


def test_a_rerun_of_an_unchanged_drop_reads_no_file_and_a_replaced_one_is_read_again(ctx, monkeypatch):
    """The verdict recorded with the garment holds for the image's version in the listing (its
    ETag and size), the meta.json read for its own: an unchanged drop is discovered and
    validated without a single read; files replaced under the same keys are read again."""
    meta = json.dumps({"category": "upper_body"}).encode()
    _put_drop(ctx, "TEE", {"front.jpg": GARMENTS["TEE-03032"][0].read_bytes(), "meta.json": meta})
    first = validate(ctx, DATE, discover(ctx, DATE))

    read: list[str] = []
    get = ctx.store.get_bytes
    monkeypatch.setattr(ctx.store, "get_bytes", lambda key: read.append(key) or get(key))
    again = validate(ctx, DATE, discover(ctx, DATE))
    assert again == first and [key for key in read if key.startswith("drops/")] == []  # neither image nor meta.json

    other = GARMENTS["JEANS-051946"][0].read_bytes()
    _put_drop(ctx, "TEE", {"front.jpg": other, "meta.json": json.dumps({"category": "lower_body"}).encode()})
    [replaced] = validate(ctx, DATE, discover(ctx, DATE))
    assert {f"drops/{DATE}/TEE/front.jpg", f"drops/{DATE}/TEE/meta.json"} <= set(read)
    assert replaced.category == "lower_body"
    assert replaced.sha256 != first[0].sha256
    assert ctx.ledger.garments(DATE)[0].sha256 == replaced.sha256


def test_an_outage_fails_validation_instead_of_quarantining_a_good_garment(ctx, monkeypatch):
    """S3 refusing connections past every retry is not the garment's fault: the task fails (to
    be retried) and the garment is not quarantined; a file that is itself broken still is."""
    import pytest
    from botocore.exceptions import EndpointConnectionError

    meta = json.dumps({"category": "upper_body"}).encode()
    _put_drop(ctx, "TEE", {"front.jpg": GARMENTS["TEE-03032"][0].read_bytes(), "meta.json": meta})
    _put_drop(ctx, "BROKEN", {"front.jpg": b"\xff\xd8 not really a jpeg", "meta.json": meta})
    items = discover(ctx, DATE)
    get = ctx.store.get_bytes

    def down(key):
        if key.endswith("TEE/front.jpg"):
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
        return get(key)

    monkeypatch.setattr(ctx.store, "get_bytes", down)
    with pytest.raises(EndpointConnectionError):
        validate(ctx, DATE, items)
    states = {g.sku: g.state for g in ctx.ledger.garments(DATE)}
    assert states == {"BROKEN": GarmentState.QUARANTINED.value, "TEE": GarmentState.DISCOVERED.value}
    monkeypatch.setattr(ctx.store, "get_bytes", get)
    assert [item.sku for item in validate(ctx, DATE, items)] == ["TEE"]
