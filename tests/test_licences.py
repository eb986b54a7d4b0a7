"""Licences that bind (issue 34, item 2): a weight whose licence does not allow the deployment's
use never puts an image on the storefront, on any path, unless the registry records a grant."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
import yaml

from tasks.inference.factory import get_engine
from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
from tasks.ledger import Garment, GenerationState, LookGeneration, ModelPhoto
from tasks.licences import COMMERCIAL, NON_COMMERCIAL, LicenceGrant, WeightLicence, allows_commercial_use, verdict
from tasks.looks import drop_looks
from tasks.models import ModelEntry, ModelRegistryError, load_registry
from tasks.publish import publish
from tasks.review import decisions, look_decisions
from tasks.storage import storefront_manifest_key
from tests.conftest import generation_row, grant_release, put_jpeg, put_tryon_inputs, released_registry

DATE = "2026-11-24"
GRANT = {"holder": "Example Rights Ltd", "granted": "2026-11-30", "reference": "contract 2026-117"}


@pytest.mark.parametrize(
    ("licence", "commercial"),
    [
        ("CC BY-NC 4.0", False),  # LaDI-VTON's weights
        ("CC-BY-NC-SA-4.0", False),
        ("research only", False),
        ("test-only", False),  # unknown: not known to allow it
        ("MIT", True),
        ("Apache-2.0", True),
        ("BSD-2-Clause (LPIPS, Zhang et al. 2018)", True),
        ("CreativeML Open RAIL++-M", True),  # Stable Diffusion 2
        ("CC BY 4.0", True),
        ("trained here on the library's photos (tryon looks train)", True),
    ],
)
def test_a_licence_allows_commercial_use_only_when_it_is_known_to(licence, commercial):
    assert allows_commercial_use(licence) is commercial


def test_the_verdict_names_the_licences_and_the_grant():
    nc = WeightLicence("ladi-vton-unet-vitonhd", "CC BY-NC 4.0")
    clip = WeightLicence("clip-vit-h-14", "MIT")
    assert not verdict(None, [clip]).allowed and "TRYON_DEPLOYMENT_USE" in verdict(None, [clip]).note
    assert verdict(NON_COMMERCIAL, [nc, clip]).allowed
    refused = verdict(COMMERCIAL, [nc, clip])
    assert not refused.allowed
    assert refused.note.startswith("the licence of ladi-vton-unet-vitonhd (CC BY-NC 4.0) does not allow commercial use")
    granted = WeightLicence(nc.name, nc.licence, LicenceGrant("Example Rights Ltd", date(2026, 11, 30), "contract 2026-117"))
    allowed = verdict(COMMERCIAL, [granted, clip])
    assert allowed.allowed
    assert "a commercial licence granted by Example Rights Ltd on 2026-11-30 (contract 2026-117)" in allowed.note
    assert "MIT (clip-vit-h-14)" in allowed.note


def test_the_registry_reads_a_licence_grant_and_refuses_a_half_one(tmp_path):
    path = tmp_path / "models.yaml"
    entry = {"backend": "u2net-onnx", "uri": "file:///w.onnx", "sha256": "0" * 64, "licence": "CC BY-NC 4.0"}
    path.write_text(yaml.safe_dump({"models": {"m": {**entry, "licence_grant": GRANT}}}))
    assert load_registry(path)["m"].licence_grant == LicenceGrant("Example Rights Ltd", date(2026, 11, 30), "contract 2026-117")
    path.write_text(yaml.safe_dump({"models": {"m": {**entry, "licence_grant": {"holder": "X"}}}}))
    with pytest.raises(ModelRegistryError, match="licence_grant lacks granted, reference"):
        load_registry(path)
    path.write_text(yaml.safe_dump({"models": {"m": {**entry, "licence_grant": {**GRANT, "granted": "soon"}}}}))
    with pytest.raises(ModelRegistryError, match="is not a date"):
        load_registry(path)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """LaDI-VTON's classes, small and random, registered as an operator releases them: their
    weights under CC BY-NC 4.0, the base models under their own terms."""
    folder = tmp_path_factory.mktemp("licences")
    return released_registry(save_published_layout(random_components(SMALL, seed=3), folder / "weights", SMALL), "1.0-test")


def _with_grant(registry, tmp_path):
    data = yaml.safe_load(registry.read_text())
    for entry in data["models"].values():
        if not allows_commercial_use(entry["licence"]):  # LaDI-VTON's CC BY-NC, the test base models' unnamed terms
            entry["licence_grant"] = GRANT
    granted = tmp_path / "granted.yaml"
    granted.write_text(yaml.safe_dump(data))
    return granted


def _passed_rows(ctx, engine, n: int = 2) -> list[str]:
    """``n`` generations of a released model that passed QC, as try-on and QC leave them."""
    ids = []
    with ctx.ledger.session() as session:
        garment = Garment(drop_date=DATE, sku="TEE-1", category="upper_body", sha256="a" * 64, state="matched")
        session.add(garment)
        session.flush()
        for i in range(n):
            photo = f"p{i}"
            session.add(ModelPhoto(photo_id=photo, sha256=f"{i}" * 64, source_key=f"library/photos/{photo}.jpg", state="ready"))
            grant_release(session, photo)
            session.flush()
            gid = f"TEE-1-{photo}-{DATE}"
            key = f"generations/v1/TEE-1/{photo}/{gid}.jpg"
            put_jpeg(ctx.store, key)
            put_tryon_inputs(ctx.store, photo, "upper_body", "a" * 64)
            made = (engine.name, engine.model_version, engine.weights_sha256, engine.parameters)
            session.add(generation_row(garment, photo, gid, key, GenerationState.PASSED.value, made, seed=i))
            ids.append(gid)
    return ids


def test_a_commercial_deployment_never_publishes_from_non_commercial_weights(ctx, released, tmp_path, monkeypatch):
    """CC BY-NC weights, released in the registry, on a commercial storefront: QC-passed images
    wait as ``unlicensed`` and a reviewer cannot approve them; the same weights with a recorded
    licence grant publish on approval. Full-outfit images and look files are held the same way."""
    ctx.settings = ctx.settings.model_copy(
        update={"engine": "ladi-vton", "model_registry": released, "deployment_use": COMMERCIAL}
    )
    engine = get_engine(ctx.settings)
    assert engine.release.released
    first, second = _passed_rows(ctx, engine)

    assert publish(ctx, DATE).published == 0
    rows = {g.generation_id: g for g in ctx.ledger.generations(DATE)}
    assert {g.state for g in rows.values()} == {"flagged"}
    assert rows[first].reason.startswith("unlicensed: the licence of ladi-vton-")
    assert "does not allow commercial use and the model registry records no licence_grant" in rows[first].reason
    assert ctx.store.get_json(storefront_manifest_key(DATE))["items"] == []
    with pytest.raises(decisions.ReviewError, match="may not reach the storefront: unlicensed: the licence of ladi-vton-"):
        decisions.approve(ctx, first, "qa@example.com")
    assert not any(key.startswith("storefront/TEE-1/") for key, _ in ctx.store.list_objects("storefront/"))

    outfit = LookGeneration(
        generation_id="look-1",
        look_id="look1",
        drop_date=DATE,
        photo_id="p0",
        upper_sku="TEE-1",
        upper_garment_sha256="a" * 64,
        lower_sku="JEANS-1",
        lower_garment_sha256="b" * 64,
        score=0.9,
        looks_model_version="looks-x",
        engine=engine.name,
        model_version=engine.model_version,
        weights_sha256=engine.weights_sha256,
        seed=0,
        object_key="generations/looks/look-1.jpg",
        state=GenerationState.PASSED.value,
    )
    from tasks.storefront import Gate

    with ctx.ledger.session() as session:
        session.add(outfit)
        session.flush()
        assert Gate(ctx).admit_look(outfit) is None
        assert outfit.state == "flagged" and outfit.reason.startswith("unlicensed: ")
    with pytest.raises(decisions.ReviewError, match="may not reach the storefront"):
        look_decisions.approve_look(ctx, "look-1", "qa@example.com")

    # a compatibility model an operator registered under a non-commercial licence ranks no looks
    nc_model = ModelEntry("looks-nc", "looks-compat", "s3://tryon/looks/model.pt", "0" * 64, "CC BY-NC 4.0", "looks-nc")
    monkeypatch.setattr(
        drop_looks, "current_card", lambda _ctx: SimpleNamespace(version="looks-nc", registry_entry=lambda: nc_model)
    )
    written = drop_looks.write_looks(ctx, DATE)
    assert written.written == [] and "may not rank the storefront's looks: the licence of looks-nc" in written.note

    ctx.settings = ctx.settings.model_copy(update={"model_registry": _with_grant(released, tmp_path)})
    key = decisions.approve(ctx, first, "qa@example.com")
    assert key == "storefront/TEE-1/p0.jpg" and ctx.store.exists(key)
    assert [e["generation_id"] for e in ctx.store.get_json(storefront_manifest_key(DATE))["items"]] == [first]
    assert rows[second].state == "flagged"
