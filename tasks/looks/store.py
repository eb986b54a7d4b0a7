"""A trained compatibility model in the bucket, versioned like every other model.

``library/looks/{version}/model.pt`` holds the weights (a state dict, loaded with
``weights_only``) and ``library/looks/{version}/card.json`` the card (``LooksCard``): the
weights' sha256, the training data's sha256 (``outfits_sha256``), the configuration, the
held-out figures against the random baseline, the embedding backend. ``library/looks/current.json``
(the card again, written last) names the model the library trained most recently.

The card is a model-registry entry too (``registry_entry``): backend ``looks-compat``, the
weights' S3 URI and sha256. Loading goes through the registry's ``local_path``, which copies the
weights into the model cache once and checks their sha256. An operator who releases a model
copies that entry into the registry file with ``released: true`` and names it in
``TRYON_LOOKS_MODEL``; without that setting the drop uses ``current.json``'s model, a preview.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import torch

from tasks.catalog.documents import from_document, to_document
from tasks.context import RunContext
from tasks.images import sha256_hex
from tasks.looks.model import CompatibilityModel, ModelConfig
from tasks.looks.training import CrossValidation, TrainingConfig
from tasks.models import ModelEntry, local_path, lookup
from tasks.storage import LOOKS_CURRENT_KEY, looks_model_key

LOOKS_BACKEND = "looks-compat"
LICENCE = "trained here on the library's photos (tryon looks train)"


@dataclass(frozen=True)
class LooksCard:
    version: str
    uri: str  # s3://{bucket}/library/looks/{version}/model.pt
    sha256: str  # of the weights file
    training_data_sha256: str
    embedding_backend: str
    outfits: int  # library photos trained on
    model_config: ModelConfig
    training_config: TrainingConfig
    evaluation: CrossValidation  # trained and random_projection, held out
    trained: str  # ISO time
    released: bool = False  # true only for a registry entry that says so
    licence: str = LICENCE  # a registry entry's own, when one names the model

    def registry_entry(self) -> ModelEntry:
        return ModelEntry(
            name=self.version,
            backend=LOOKS_BACKEND,
            uri=self.uri,
            sha256=self.sha256,
            licence=self.licence,
            version=self.version,
            config={k: v for k, v in to_document(self).items() if k not in ("version", "uri", "sha256", "released", "licence")},
            released=self.released,
        )


def save_model(
    ctx: RunContext,
    model: CompatibilityModel,
    *,
    training_data_sha256: str,
    embedding_backend: str,
    outfits: int,
    training_config: TrainingConfig,
    evaluation: CrossValidation,
) -> LooksCard:
    """Write the weights, the card and then ``current.json``; the version is the weights' hash."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    weights = buffer.getvalue()
    digest = sha256_hex(weights)
    version = f"looks-{digest[:12]}"
    saved = LooksCard(
        version=version,
        uri=f"s3://{ctx.store.bucket}/{looks_model_key(version, 'model.pt')}",
        sha256=digest,
        training_data_sha256=training_data_sha256,
        embedding_backend=embedding_backend,
        outfits=outfits,
        model_config=model.config,
        training_config=training_config,
        evaluation=evaluation,
        trained=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    ctx.store.put_bytes(looks_model_key(version, "model.pt"), weights)
    ctx.store.put_json(looks_model_key(version, "card.json"), to_document(saved))
    ctx.store.put_json(LOOKS_CURRENT_KEY, to_document(saved))
    return saved


def current_card(ctx: RunContext) -> LooksCard | None:
    """The model the drop uses: the registry entry ``TRYON_LOOKS_MODEL`` names (its card in its
    ``config``), else the library's latest (``current.json``), else None (none trained)."""
    name = ctx.settings.looks_model
    if name is not None:
        entry = lookup(ctx.settings, name, LOOKS_BACKEND)
        fields = {
            "version": entry.version,
            "uri": entry.uri,
            "sha256": entry.sha256,
            "released": entry.released,
            "licence": entry.licence,
        }
        return from_document(LooksCard, {**entry.config, **fields})
    data = ctx.store.get_json_or_none(LOOKS_CURRENT_KEY)
    return None if data is None else from_document(LooksCard, data)


def load_model(ctx: RunContext, card: LooksCard) -> CompatibilityModel:
    """The card's model, its weights checked against the card's sha256, in eval mode."""
    path = local_path(ctx.settings, card.registry_entry())
    model = CompatibilityModel(card.model_config)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()
