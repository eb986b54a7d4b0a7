"""Content Credentials on every storefront JPEG: a C2PA manifest signed with the deployment's
certificate, and the IPTC digital source type in the file's XMP, so that a reader, and a tool that
reads only IPTC, can tell the image is a try-on made by a model (EU AI Act, Article 50).

The manifest (``c2pa-python``) holds:

- the actions: ``c2pa.created`` by the try-on engine (its name and model version as the software
  agent; the weights' sha256, the seed and the engine's parameters), with the digital source type
  ``compositeWithTrainedAlgorithmicMedia`` for an engine with learned weights (``composite`` for
  the geometric baseline); ``c2pa.edited`` by the pipeline's compositing (the generated region
  pasted back into the photo); and, for an image a reviewer approved, ``org.tryon.reviewed``
  with the reviewer;
- the ingredients: the model photo's view and the garment's cut-out the engine was given, each
  with the sha256 of the original it was made from (``documentID``);
- the signature: the certificate chain and key from ``TRYON_C2PA_CERT_CHAIN`` and
  ``TRYON_C2PA_PRIVATE_KEY`` (PEM files), or the Airflow connection ``TRYON_C2PA_CONN_ID`` (its
  extra's ``cert_chain`` and ``private_key``); never from the repository. With neither, nothing
  can be credentialed, and nothing is published (:class:`CredentialsMissing`).

The XMP packet (``Iptc4xmpExt:DigitalSourceType``, ``photoshop:Credit``) is written into the
JPEG before it is signed, so the manifest's hard binding covers it too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from tasks.settings import Settings

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_COMPOSITE, COMPOSITE = IPTC + "compositeWithTrainedAlgorithmicMedia", IPTC + "composite"
CREDIT = "Virtual try-on: the garment was put on the model by an AI model (tryon-pipeline)"
REVIEWED = "org.tryon.reviewed"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


class CredentialsMissing(RuntimeError):
    """No signing certificate is configured: no storefront image can carry its credentials."""


@dataclass(frozen=True)
class Ingredient:
    title: str
    image: bytes  # the bytes the engine was given
    format: str  # its MIME type
    original_sha256: str  # of the file it was made from


@dataclass(frozen=True)
class Made:
    """What made a storefront image, as its manifest states it."""

    title: str
    engine: str
    model_version: str
    weights_sha256: str
    seed: int
    parameters: dict[str, Any]
    ingredients: tuple[Ingredient, ...]
    approved_by: str | None = None


def signing_configured(settings: Settings) -> bool:
    """Whether a signing certificate is configured (files or an Airflow connection), without
    reading it."""
    return bool((settings.c2pa_cert_chain and settings.c2pa_private_key) or settings.c2pa_conn_id)


def signing_material(settings: Settings) -> tuple[bytes, bytes]:
    """The certificate chain and private key (PEM), from the configured files or the Airflow
    connection; :class:`CredentialsMissing` when neither is configured."""
    if settings.c2pa_cert_chain is not None and settings.c2pa_private_key is not None:
        return settings.c2pa_cert_chain.read_bytes(), settings.c2pa_private_key.read_bytes()
    if settings.c2pa_conn_id:
        from airflow.sdk import Connection

        extra = Connection.get(settings.c2pa_conn_id).extra_dejson
        return extra["cert_chain"].encode(), extra["private_key"].encode()
    raise CredentialsMissing(
        "no signing certificate for Content Credentials: set TRYON_C2PA_CERT_CHAIN and TRYON_C2PA_PRIVATE_KEY "
        "(PEM files) or TRYON_C2PA_CONN_ID (docs/rights.md); no storefront image is written without them"
    )


def with_xmp(jpeg: bytes, source_type: str) -> bytes:
    """The JPEG with an XMP packet stating its IPTC digital source type and a credit line, right
    after its SOI marker."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
        f"<Iptc4xmpExt:DigitalSourceType>{source_type}</Iptc4xmpExt:DigitalSourceType>"
        f"<photoshop:Credit>{CREDIT}</photoshop:Credit>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()
    body = XMP_HEADER + packet
    segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    return jpeg[:2] + segment + jpeg[2:]


def source_type(weights_sha256: str) -> str:
    from tasks.inference.engine import NO_WEIGHTS

    return COMPOSITE if weights_sha256 == NO_WEIGHTS else TRAINED_COMPOSITE


def manifest_of(made: Made) -> dict[str, Any]:
    actions: list[dict[str, Any]] = [
        {
            "action": "c2pa.created",
            "digitalSourceType": source_type(made.weights_sha256),
            "softwareAgent": {"name": made.engine, "version": made.model_version},
            "parameters": {"weights_sha256": made.weights_sha256, "seed": made.seed, "engine": made.parameters},
        },
        {
            "action": "c2pa.edited",
            "softwareAgent": {"name": "tryon-pipeline compositing"},
            "parameters": {"description": "the generated region pasted back into the model photo"},
        },
    ]
    if made.approved_by:
        actions.append({"action": REVIEWED, "parameters": {"decision": "approved", "reviewer": made.approved_by}})
    return {
        "claim_generator_info": [{"name": "tryon-pipeline"}],
        "title": made.title,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}],
    }


def credential(jpeg: bytes, made: Made, settings: Settings) -> bytes:
    """``jpeg`` with its XMP digital source type and a signed C2PA manifest of ``made``."""
    import c2pa

    chain, key = signing_material(settings)
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    builder = c2pa.Builder.from_json(manifest_of(made), context=context)
    for ingredient in made.ingredients:
        builder.add_ingredient(
            {"title": ingredient.title, "relationship": "componentOf", "documentID": f"sha256:{ingredient.original_sha256}"},
            ingredient.format,
            io.BytesIO(ingredient.image),
        )
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=key, ta_url=None))
    signed = io.BytesIO()
    builder.sign(signer, "image/jpeg", io.BytesIO(with_xmp(jpeg, source_type(made.weights_sha256))), signed)
    return signed.getvalue()


@dataclass(frozen=True)
class CredentialSummary:
    """What a reader of an image's credentials finds, for the review page and the report."""

    state: str  # the C2PA reader's validation state: Valid, Trusted or Invalid
    signer: str | None
    actions: list[str]
    ingredients: list[str]

    def describe(self) -> str:
        return (
            f"Content Credentials {self.state}, signed by {self.signer or 'nobody'}; "
            f"actions {', '.join(self.actions)}; ingredients {', '.join(self.ingredients)}"
        )


def read_credentials(jpeg: bytes, trust_anchors: str | None = None) -> CredentialSummary:
    """The credentials a C2PA reader finds in ``jpeg`` (``trust_anchors``: PEM certificates it
    trusts, for the Trusted state)."""
    import c2pa

    settings: dict[str, Any] = {"verify": {"verify_trust": trust_anchors is not None}}
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    try:
        reader = c2pa.Reader("image/jpeg", io.BytesIO(jpeg), context=c2pa.Context.from_dict(settings))
    except c2pa.C2paError as error:
        return CredentialSummary(f"none ({error})", None, [], [])
    manifest = reader.get_active_manifest() or {}
    actions = [
        action["action"]
        for assertion in manifest.get("assertions", [])
        if assertion.get("label", "").startswith("c2pa.actions")
        for action in assertion["data"]["actions"]
    ]
    return CredentialSummary(
        state=reader.get_validation_state() or "unknown",
        signer=(manifest.get("signature_info") or {}).get("common_name"),
        actions=actions,
        ingredients=[i.get("title", "?") for i in manifest.get("ingredients", [])],
    )
