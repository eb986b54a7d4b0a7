"""Erasure (issue 34, item 4): ``tryon library erase`` runs model_library with its ``erase``
param; afterwards no object derived from the photo remains, searched by the photo's id, its
sha256 and its bytes across every prefix, and ``tryon audit --erased`` agrees. What an erasure
interrupted after its ledger commit left is found and removed by ``--repair``."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from tasks.catalog.library import read_index
from tasks.ledger import Erasure, Generation, ModelPhoto
from tasks.storage import library_photo_id, storefront_key, storefront_manifest_key
from tests.conftest import SAMPLES, approve_everything, generate_drop
from tests.test_garment_drop_dag import run_tryon

DATE = "2026-11-20"
PHOTOS = ("05997_00.jpg", "049205_0.jpg")
SKUS = ("TEE-00055", "JEANS-051946")
ERASED, KEPT = "049205_0", "05997_00"


def _traces(ctx, photo_id: str, sha256: str, photo: bytes) -> list[str]:
    """Every object outside the drops whose key names the photo, or whose bytes are the photo
    or name its sha256."""
    found = []
    for key in ctx.store.list_keys(""):
        if key.startswith("drops/"):
            continue
        data = ctx.store.get_bytes(key)
        if photo_id in key.replace(".", "/").split("/") or data == photo or sha256.encode() in data:
            found.append(key)
    return found


def test_an_erased_photo_leaves_no_derived_object_and_the_audit_proves_it(ctx):
    generate_drop(ctx, DATE, SKUS, PHOTOS)
    approve_everything(ctx, DATE)
    photo = (SAMPLES / "library" / f"{ERASED}.jpg").read_bytes()
    sha256 = hashlib.sha256(photo).hexdigest()
    with ctx.ledger.session() as session:
        assert session.get(ModelPhoto, ERASED).sha256 == sha256
    assert _traces(ctx, ERASED, sha256, photo), "the photo, its artefacts and its images are there before"
    live = [e["key"] for e in ctx.store.get_json(storefront_manifest_key(DATE))["items"]]
    assert storefront_key(SKUS[0], ERASED) in live and storefront_key(SKUS[0], KEPT) in live

    done = run_tryon(ctx.settings, "library", "erase", f"{ERASED}.jpg", "--reason", "GDPR request 118", "--by", "dpo@example.com")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "model_library run state: success" in done.stdout
    assert f"erased {ERASED} (sha256 {sha256})" in done.stdout and "for dpo@example.com: GDPR request 118" in done.stdout
    assert "audit: nothing derived from it remains" in done.stdout

    assert _traces(ctx, ERASED, sha256, photo) == []
    assert [library_photo_id(row.photo_id) for row in read_index(ctx)] == [KEPT], "the index was built again without it"
    manifest = [e["key"] for e in ctx.store.get_json(storefront_manifest_key(DATE))["items"]]
    assert manifest == sorted(k for k in live if ERASED not in k) and all(ctx.store.exists(k) for k in manifest)
    with ctx.ledger.session() as session:
        assert session.get(ModelPhoto, ERASED) is None
        assert session.scalars(select(Generation).where(Generation.photo_id == ERASED)).all() == []
        [record] = session.scalars(select(Erasure)).all()
    assert (record.photo_id, record.photo_sha256, record.reason, record.erased_by) == (
        ERASED,
        sha256,
        "GDPR request 118",
        "dpo@example.com",
    )
    assert len(record.generation_ids) == len(SKUS) and storefront_key(SKUS[0], ERASED) in record.removed

    # what an erasure interrupted after its ledger commit would leave: found by key, by content, by sha256
    left = [storefront_key(SKUS[0], ERASED), "exports/campaign/hero.jpg", "exports/campaign/credits.json"]
    ctx.store.put_bytes(left[0], b"a storefront image put back")
    ctx.store.put_bytes(left[1], photo, "image/jpeg")
    ctx.store.put_json(left[2], {"photo": {"sha256": sha256}})
    found = run_tryon(ctx.settings, "audit", "--erased")
    assert found.returncode == 1 and "3 object(s) derived from an erased photo" in found.stdout, found.stdout
    assert all(key in found.stdout for key in left)
    repaired = run_tryon(ctx.settings, "audit", "--erased", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert not any(ctx.store.exists(key) for key in left)
