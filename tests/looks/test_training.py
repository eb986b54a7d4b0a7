"""The compatibility model: its loss, its training on the fixture library's outfits, its
held-out figures against the random projection, and its versioning."""

from __future__ import annotations

import pytest
import torch
import yaml

from tasks.catalog.documents import to_document
from tasks.looks.model import CompatibilityModel, ModelConfig, contrastive_loss
from tasks.looks.outfits import read_outfits
from tasks.looks.store import LOOKS_BACKEND, current_card, load_model
from tasks.looks.train_stage import train_looks
from tasks.looks.training import TrainingConfig, evaluation_table, outfit_score, train_each
from tasks.models import ModelRegistryError
from tasks.storage import LOOKS_CURRENT_KEY, looks_model_key


def _loss(model: CompatibilityModel, real: tuple, modified: tuple, kept: bool = True) -> float:
    """The loss of one pair of parts with one real and one modified row."""
    rows = torch.stack([model(t, "any") for t in (*real, *modified)])  # (4, 1, latent)
    return contrastive_loss(rows[None], torch.tensor([[kept]]), torch.tensor([True]), model.config.margin).item()


def test_the_loss_pulls_real_pairs_together_and_pushes_modified_ones_only_while_near():
    model = CompatibilityModel(ModelConfig(input_dim=4, margin=0.8)).eval()
    a, b = torch.eye(4)[:1], torch.eye(4)[1:2]
    assert _loss(model, (a, a), (a, a)) == pytest.approx(0.8**2)  # a modified pair at distance 0: pushed
    assert _loss(model, (a, a), (a, a), kept=False) == pytest.approx(0.0), "a modified pair that was not made adds nothing"
    far = torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[-1.0, 0, 0, 0]])
    # the skip projection is linear: opposite inputs land at distance 2, beyond the margin: no push
    assert _loss(model, (a, a), far) == pytest.approx(0.0)
    assert _loss(model, (a, b), far) > 0  # a real pair apart: pulled


def test_models_trained_together_are_the_models_trained_alone(library_ctx, trained):
    outfits = read_outfits(library_ctx)
    config = TrainingConfig(steps=20)
    [alone] = train_each([outfits[:4]], config)
    together = train_each([outfits[2:], outfits[:4]], config)[1]
    for name, weights in alone.state_dict().items():
        torch.testing.assert_close(together.state_dict()[name], weights, msg=name)


def test_the_trained_model_ranks_the_true_partner_above_a_swap_more_often_than_a_random_projection(trained, capsys):
    assert trained.outcome == "trained" and trained.outfits == 7
    evaluation = trained.card.evaluation
    with capsys.disabled():
        print("\n" + evaluation_table(evaluation))
    mine, baseline = evaluation.trained, evaluation.random_projection
    assert mine.outfits == 7 and mine.pairs == 11 and mine.candidates == 100
    assert mine.partner_above > baseline.partner_above
    assert mine.mean_rank < baseline.mean_rank


def test_the_model_is_versioned_by_its_hash_and_loads_only_as_recorded(library_ctx, trained, tmp_path):
    card = trained.card
    assert card.version == f"looks-{card.sha256[:12]}" and not card.released
    assert card.uri == f"s3://{library_ctx.store.bucket}/{looks_model_key(card.version, 'model.pt')}"
    assert library_ctx.store.get_json(LOOKS_CURRENT_KEY) == to_document(card)
    assert card.training_data_sha256 and card.embedding_backend == "colour-texture-v1"
    model = load_model(library_ctx, card)
    outfit = {part: vectors[0] for part, vectors in read_outfits(library_ctx)[1].parts.items()}
    assert -1 <= outfit_score(model, outfit) <= 1
    # the same outfits and configuration: nothing to train
    again = train_looks(library_ctx)
    assert again.outcome == "unchanged" and again.card == card
    # weights that are not the recorded ones are refused
    tampered_settings = library_ctx.settings.model_copy(update={"model_dir": tmp_path / "models"})
    tampered = type(library_ctx)(settings=tampered_settings, store=library_ctx.store, ledger=library_ctx.ledger)
    weights = library_ctx.store.get_bytes(looks_model_key(card.version, "model.pt"))
    library_ctx.store.put_bytes(looks_model_key(card.version, "model.pt"), weights + b"\0")
    try:
        with pytest.raises(ModelRegistryError, match="sha256"):
            load_model(tampered, card)
    finally:
        library_ctx.store.put_bytes(looks_model_key(card.version, "model.pt"), weights)


def test_a_released_registry_entry_is_the_model_the_drop_uses(library_ctx, trained, tmp_path):
    card = trained.card
    entry = card.registry_entry()
    registry = tmp_path / "models.yaml"
    fields = {"backend": entry.backend, "uri": entry.uri, "sha256": entry.sha256, "licence": entry.licence}
    registry.write_text(
        yaml.safe_dump({"models": {"looks-prod": {**fields, "version": entry.version, "released": True, "config": entry.config}}})
    )
    settings = library_ctx.settings.model_copy(update={"model_registry": registry, "looks_model": "looks-prod"})
    chosen = type(library_ctx)(settings=settings, store=library_ctx.store, ledger=library_ctx.ledger)
    released = current_card(chosen)
    assert released.released and released.version == card.version and released.sha256 == card.sha256
    assert entry.backend == LOOKS_BACKEND
    load_model(chosen, released)


def test_a_library_without_outfits_trains_nothing(ctx):
    result = train_looks(ctx)
    assert result.outcome == "too_few" and result.outfits == 0 and result.card is None
    assert current_card(ctx) is None
