"""The credentialed copy of an image the storefront gets: the generation's JPEG with its Content
Credentials (``tasks.credentials``), made once, the first time the image enters the storefront,
and kept beside the generation (``{stem}.c2pa.jpg``, :func:`tasks.storage.credentialed_key`).
Every storefront slot is a copy of it, so a slot is checked against it by ETag like any copy,
and a lost slot is put back without signing again.

What the manifest says is read from the ledger: the engine, model version, weights hash, seed and
parameters of the generation; its ingredients, the model photo's view and the garment cut-out(s)
the engine was given (what the review page may read too), each named by the sha256 of the
original it was made from; and, for an image a reviewer approved, who approved it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from tasks.catalog.run_summary import CredentialsTally
from tasks.context import RunContext
from tasks.credentials import CredentialSummary, Ingredient, Made, credential, read_credentials, signing_configured
from tasks.ledger import Garment, Generation, LookGeneration, ModelPhoto, ReviewDecision
from tasks.storage import credentialed_key, garment_cutout_key, library_view_key, look_photo_view_key

JPEG, PNG = "image/jpeg", "image/png"


def no_credentials_note(ctx: RunContext) -> str | None:
    """Why no image can be credentialed in this deployment (no signing certificate), or None."""
    if signing_configured(ctx.settings):
        return None
    return "no signing certificate for its Content Credentials is configured (TRYON_C2PA_CERT_CHAIN, docs/rights.md)"


def _photo(ctx: RunContext, session: Any, photo_id: str, view_key: str) -> Ingredient:
    photo = session.get(ModelPhoto, photo_id)
    if photo is None:
        raise LookupError(f"model photo {photo_id} is not in the ledger")
    return Ingredient(f"model photo {photo_id}", ctx.store.get_bytes(view_key), PNG, photo.sha256)


def _garment(ctx: RunContext, session: Any, sku: str, sha256: str | None) -> Ingredient:
    """The garment's cut-out the engine was given, named by its original image's sha256 (and
    its image-rights owner when the drop gave one)."""
    if sha256 is None:
        raise LookupError(f"the generation of {sku} records no garment sha256")
    owner = session.scalar(
        select(Garment.meta["rights_owner"].as_string()).where(Garment.sha256 == sha256).order_by(Garment.id.desc()).limit(1)
    )
    title = f"garment {sku}" + (f" (image rights: {owner})" if owner else "")
    return Ingredient(title, ctx.store.get_bytes(garment_cutout_key(sha256)), PNG, sha256)


def _approver(session: Any, row: Generation | LookGeneration) -> str | None:
    """Who approved the image, or None (it entered by itself). A full-outfit image records the
    reviewer who decided it, and a credentialed one was published: its reviewer approved it."""
    if isinstance(row, LookGeneration):
        return row.reviewer
    decision = session.scalar(
        select(ReviewDecision).where(ReviewDecision.generation_id == row.generation_id, ReviewDecision.decision == "approved")
    )
    return None if decision is None else decision.reviewer


def made_of(ctx: RunContext, session: Any, row: Generation | LookGeneration) -> Made:
    """What made ``row``'s image, as its manifest states it."""
    if isinstance(row, LookGeneration):
        title, view = (
            f"look {row.look_id} ({row.upper_sku} with {row.lower_sku}) on {row.photo_id}",
            look_photo_view_key(row.photo_id),
        )
        garments: list[tuple[str, str | None]] = [
            (row.upper_sku, row.upper_garment_sha256),
            (row.lower_sku, row.lower_garment_sha256),
        ]
        parameters: dict[str, Any] = {"look_id": row.look_id, "looks_model_version": row.looks_model_version}
    else:
        title, view = f"{row.sku} on {row.photo_id}", library_view_key(row.photo_id, row.category)
        garments, parameters = [(row.sku, row.garment_sha256)], dict(row.parameters or {})
    return Made(
        title=title,
        engine=row.engine,
        model_version=row.model_version,
        weights_sha256=row.weights_sha256,
        seed=row.seed,
        parameters=parameters,
        ingredients=(_photo(ctx, session, row.photo_id, view), *(_garment(ctx, session, sku, sha) for sku, sha in garments)),
        approved_by=_approver(session, row),
    )


def credentialed_copy(ctx: RunContext, row: Generation | LookGeneration) -> str:
    """The key of ``row``'s credentialed copy, made now when it is not there yet (signed with the
    deployment's certificate; :class:`tasks.credentials.CredentialsMissing` without one)."""
    if row.object_key is None:
        raise LookupError(f"generation {row.generation_id} has no stored image (state {row.state})")
    key = credentialed_key(row.object_key)
    if ctx.store.exists(key):
        return key
    with ctx.ledger.session() as session:
        made = made_of(ctx, session, row)
    ctx.store.put_bytes(key, credential(ctx.store.get_bytes(row.object_key), made, ctx.settings), JPEG)
    return key


CREDENTIALS_READ = 24  # storefront images whose credentials the report reads back, at most


def read_back(ctx: RunContext, key: str) -> CredentialSummary | None:
    """The credentials a C2PA reader finds in the object at ``key`` (None: no such object)."""
    data = ctx.store.get_bytes_or_none(key)
    return None if data is None else read_credentials(data)


def credentials_tally(ctx: RunContext, keys: list[str]) -> CredentialsTally:
    """The Content Credentials of the storefront images at ``keys``, read back with the C2PA
    reader: all of them up to :data:`CREDENTIALS_READ`, else an even sample (the report says which)."""
    step = max(1, -(-len(keys) // CREDENTIALS_READ))
    found = [summary for summary in (read_back(ctx, key) for key in keys[::step]) if summary is not None]
    return CredentialsTally(
        images=len(keys),
        read=len(found),
        by_state=dict(sorted(Counter(s.state for s in found).items())),
        signers=sorted({s.signer for s in found if s.signer}),
        example=found[0].describe() if found else None,
    )
