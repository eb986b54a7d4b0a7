"""The evaluation's feature networks load from the registry (random stand-ins here, marked so),
and the Inception stand-in tells photos from noise (one that mapped every image to one point
would give FID 0 for anything)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tasks.evaluation.features import InceptionFeatures, load_lpips, write_random_networks
from tasks.evaluation.metrics import fid
from tasks.images import decode_rgb
from tasks.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    folder = tmp_path_factory.mktemp("networks")
    registry = folder / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": write_random_networks(folder)}))
    return Settings(home=folder / "home", model_registry=registry)


def test_the_inception_stand_in_tells_photos_from_noise(settings: Settings) -> None:
    photos = [decode_rgb(p.read_bytes()) for p in sorted((SAMPLES / "library").iterdir())]
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, p.shape, dtype=np.uint8) for p in photos]
    inception = InceptionFeatures(settings)
    assert inception.info.random_weights and inception.info.name == "fid-inception-v3"
    real, fake = inception(photos), inception(noise)
    assert real.shape == (len(photos), 2048) and (real >= 0).all()
    between_photos, photos_and_noise = fid(real[:4], real[3:]), fid(real, fake)
    print(f"FID between two halves of the photos {between_photos:.1f}, photos against noise {photos_and_noise:.1f}")
    assert photos_and_noise > 2 * between_photos


def test_lpips_loads_the_registry_trunk_and_the_shipped_heads(settings: Settings) -> None:
    lpips, networks = load_lpips(settings)
    assert [n.name for n in networks] == ["lpips-alexnet", "lpips-alex-lin"]
    assert networks[0].random_weights and not networks[1].random_weights  # the heads are the published ones
    assert [tuple(h.shape) for h in lpips.heads] == [
        (1, 64, 1, 1),
        (1, 192, 1, 1),
        (1, 384, 1, 1),
        (1, 256, 1, 1),
        (1, 256, 1, 1),
    ]
    photo = decode_rgb((SAMPLES / "library" / "01008_00.jpg").read_bytes())
    assert lpips.compare(photo, photo).whole == 0.0 and lpips.compare(photo[:, ::-1], photo).whole > 0
