"""Content Credentials (issue 34, item 5): a storefront JPEG signed with the deployment's
certificate (a throwaway chain made here), read back by the c2pa library's own reader."""

from __future__ import annotations

import pytest

from tasks.credentials import (
    REVIEWED,
    TRAINED_COMPOSITE,
    CredentialsMissing,
    Ingredient,
    Made,
    credential,
    read_credentials,
)
from tasks.images import decode_rgb, encode_jpeg, fit_within
from tests.conftest import GARMENTS, SAMPLES, TEST_SIGNING, flagged_generations


@pytest.fixture
def chain():
    """The session's throwaway chain (conftest): every test's settings sign with it."""
    return TEST_SIGNING


def _made(approved_by: str | None = None) -> Made:
    photo, garment = (SAMPLES / "library" / "049205_0.jpg").read_bytes(), GARMENTS["TEE-03032"][0].read_bytes()
    return Made(
        title="TEE-03032 on 049205_0",
        engine="ladi-vton",
        model_version="ladi-vton-vitonhd-1.0",
        weights_sha256="a" * 64,
        seed=7,
        parameters={"steps": 50, "guidance_scale": 7.5},
        ingredients=(
            Ingredient("model photo 049205_0", photo, "image/jpeg", "b" * 64),
            Ingredient("garment TEE-03032", garment, "image/jpeg", "c" * 64),
        ),
        approved_by=approved_by,
    )


def test_a_storefront_jpeg_carries_signed_credentials_that_the_c2pa_reader_verifies(settings, chain):
    image = encode_jpeg(fit_within(decode_rgb((SAMPLES / "library" / "049205_0.jpg").read_bytes()), 512), 90)
    signed = credential(image, _made(approved_by="qa@example.com"), settings)
    assert decode_rgb(signed).shape == decode_rgb(image).shape, "still the image, a JPEG"
    found = read_credentials(signed, trust_anchors=chain.ca_pem)
    assert found.state == "Trusted" and found.signer == "tryon test signer"
    assert found.actions == ["c2pa.created", "c2pa.edited", REVIEWED]
    assert found.ingredients == ["model photo 049205_0", "garment TEE-03032"]
    assert read_credentials(signed).state == "Valid", "signature and hashes hold without trusting the test CA"
    # the IPTC digital source type, for tools that read only XMP
    assert b"<Iptc4xmpExt:DigitalSourceType>" + TRAINED_COMPOSITE.encode() in signed
    assert b"<photoshop:Credit>Virtual try-on" in signed
    # a byte of the picture changed after signing: the hard binding fails
    tampered = bytearray(signed)
    tampered[-200] ^= 0xFF
    assert read_credentials(bytes(tampered), trust_anchors=chain.ca_pem).state == "Invalid"


def test_the_created_action_names_the_engine_weights_and_seed(settings, chain):
    import io

    import c2pa

    image = encode_jpeg(fit_within(decode_rgb(GARMENTS["TEE-03032"][0].read_bytes()), 256), 90)
    manifest = c2pa.Reader("image/jpeg", io.BytesIO(credential(image, _made(), settings))).get_active_manifest()
    [actions] = [a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    created = actions[0]
    assert created["digitalSourceType"] == TRAINED_COMPOSITE
    assert created["softwareAgent"] == {"name": "ladi-vton", "version": "ladi-vton-vitonhd-1.0"}
    assert created["parameters"]["weights_sha256"] == "a" * 64 and created["parameters"]["seed"] == 7
    assert [a["action"] for a in actions] == ["c2pa.created", "c2pa.edited"], "no reviewer, no review action"


def test_without_a_certificate_nothing_is_credentialed(settings):
    settings = settings.model_copy(update={"c2pa_cert_chain": None, "c2pa_private_key": None})
    image = encode_jpeg(decode_rgb(GARMENTS["TEE-03032"][0].read_bytes()), 90)
    with pytest.raises(CredentialsMissing, match="set TRYON_C2PA_CERT_CHAIN and TRYON_C2PA_PRIVATE_KEY"):
        credential(image, _made(), settings)


def test_tryon_credentials_reads_a_file(settings, chain, tmp_path):
    import subprocess
    import sys

    signed = tmp_path / "signed.jpg"
    signed.write_bytes(credential(encode_jpeg(decode_rgb(GARMENTS["TEE-03032"][0].read_bytes()), 90), _made(), settings))
    (tmp_path / "ca.pem").write_text(chain.ca_pem)
    done = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "credentials", str(signed), "--trust", str(tmp_path / "ca.pem")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Content Credentials Trusted, signed by tryon test signer; actions c2pa.created, c2pa.edited" in done.stdout


def test_a_storefront_image_names_its_garments_image_rights_owner(ctx):
    """A garment whose drop named the owner of its image rights: the approved image's credentials
    name them beside the garment ingredient."""
    from sqlalchemy import select

    from tasks.ledger import Garment
    from tasks.review import decisions

    [gid] = flagged_generations(ctx, 1)
    with ctx.ledger.session() as session:
        garment = session.scalar(select(Garment).where(Garment.sku == "TEE-1"))
        garment.meta = {**garment.meta, "rights_owner": "Studio North"}
    found = read_credentials(ctx.store.get_bytes(decisions.approve(ctx, gid, "ana")), TEST_SIGNING.ca_pem)
    assert found.state == "Trusted" and found.ingredients == ["model photo p1", "garment TEE-1 (image rights: Studio North)"]
