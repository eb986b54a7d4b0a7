"""The LaDI-VTON engine behind the Engine interface: registry identity, chunked batches,
halving on CUDA out-of-memory, paste-back onto the full-resolution photo."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tasks.inference.factory import get_engine, standing_of
from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
from tasks.inference.ladi_vton.registry import combined_sha256, registry_entries
from tasks.models import ModelRegistryError
from tasks.settings import Settings


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return save_published_layout(random_components(SMALL, seed=5), tmp_path_factory.mktemp("ladi") / "weights", SMALL)


@pytest.fixture
def engine_settings(registry, tmp_path):
    return Settings(home=tmp_path, engine="ladi-vton", model_registry=registry, inference_steps=2, batch_size=2)


def _batch(samples):
    return [
        samples[("TEE-03032", "05997_00.jpg")],
        samples[("JEANS-051946", "051918_0.jpg")],
        samples[("DRESS-053744", "052472_0.jpg")],
    ]


def test_identity_comes_from_the_registry_without_loading(engine_settings):
    engine = get_engine(engine_settings)
    assert engine is get_engine(engine_settings) and engine._pipeline is None, "cheap to build, kept per process"
    info = engine.describe()
    assert info.engine == "ladi-vton" and info.baseline is False and info.licence == "CC BY-NC 4.0"
    assert info.model_version == "ladi-vton-vitonhd-random-weights"
    assert info.weights_sha256 == combined_sha256(registry_entries(engine_settings, "vitonhd"))
    assert set(info.weights) == {
        "ladi-vton-unet-vitonhd",
        "ladi-vton-inversion-adapter-vitonhd",
        "ladi-vton-emasc-vitonhd",
        "ladi-vton-warping-vitonhd",
        "sd2-inpainting",
        "clip-vit-h-14",
    }
    assert info.parameters == {
        "dataset": "vitonhd",
        "steps": 2,
        "guidance_scale": 7.5,
        "scheduler": "ddim",
        "precision": "auto",
        "resolution": [512, 384],
        "paste_back": True,
    }
    assert get_engine(engine_settings.model_copy(update={"inference_steps": 3})) is not engine


def test_the_identity_imports_no_torch(engine_settings):
    """Matching, publishing and the report build the engine on CPU workers, in a process per task
    under Airflow 3: its identity must not cost a torch import (seconds per task)."""
    probe = (
        "import sys; from tasks.inference.factory import get_engine; from tasks.settings import Settings; "
        "engine = get_engine(Settings()); print(engine.model_version, engine.release.released, 'torch' in sys.modules)"
    )
    env = {
        **os.environ,
        "TRYON_HOME": str(engine_settings.home),
        "TRYON_ENGINE": "ladi-vton",
        "TRYON_MODEL_REGISTRY": str(engine_settings.model_registry),
    }
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["ladi-vton-vitonhd-random-weights", "False", "False"], done.stdout + done.stderr


def test_release_comes_from_the_registry(engine_settings, tmp_path):
    """Random weights are a preview; so are weights not marked released; released weights are
    released only while the registry still names the same version and hashes."""
    import yaml

    engine = get_engine(engine_settings)
    assert not engine.release.released and "random weights" in engine.release.note
    made = (engine.name, engine.model_version, engine.weights_sha256, engine.parameters)
    data = yaml.safe_load(engine_settings.model_registry.read_text())
    for entry in data["models"].values():
        entry.update(random_weights=False)
    data["models"]["ladi-vton-unet-vitonhd"]["released"] = True
    unreleased = tmp_path / "unreleased.yaml"
    unreleased.write_text(yaml.safe_dump(data))
    note = standing_of(engine_settings.model_copy(update={"model_registry": unreleased}), *made).release.note
    assert "not released in the model registry" in note and "ladi-vton-emasc-vitonhd" in note
    for entry in data["models"].values():
        entry["released"] = True
    released = tmp_path / "released.yaml"
    released.write_text(yaml.safe_dump(data))
    status = standing_of(engine_settings.model_copy(update={"model_registry": released}), *made).release
    assert status.released and "licence CC BY-NC 4.0" in status.note
    data["models"]["ladi-vton-emasc-vitonhd"]["sha256"] = "f" * 64  # the operator swapped a weights file since
    released.write_text(yaml.safe_dump(data))
    status = standing_of(engine_settings.model_copy(update={"model_registry": released}), *made).release
    assert not status.released and "is not what the model registry names now" in status.note
    assert not standing_of(engine_settings, "warp-baseline", "warp-baseline-1.0.0", "none", {}).release.released


def test_without_a_registry_the_error_says_what_to_set(tmp_path):
    with pytest.raises(ModelRegistryError, match="TRYON_MODEL_REGISTRY"):
        get_engine(Settings(home=tmp_path, engine="ladi-vton"))


def test_batch_of_three_categories_in_chunks(engine_settings, samples):
    engine = get_engine(engine_settings.model_copy(update={"seed": 1}))
    batch = _batch(samples)
    output = engine.generate(batch)
    assert [d["samples_per_call"] for d in output.details] == [2, 2, 1]
    assert all(d["precision"] == "float32" and d["device"] == "cpu" for d in output.details)
    assert set(output.details[0]["seconds_per_sample"]) == {"warp", "clip", "text", "encode", "denoise", "decode"}
    for sample, image in zip(batch, output.images):
        assert image.shape == (1024, 768, 3) and image.dtype == np.uint8
        grown = torch.nn.functional.max_pool2d(torch.from_numpy(sample.inpaint_mask.astype(np.float32))[None, None], 21, 1, 10)[
            0, 0
        ]
        far_outside = ~grown.bool().numpy()
        assert np.array_equal(image[far_outside], sample.person[far_outside]), "the photo's own pixels outside"
        inside = np.abs(image.astype(int) - sample.person.astype(int)).max(axis=2)[sample.inpaint_mask]
        assert (inside > 10).mean() > 0.5, "the region is generated"
    again = engine.generate(batch[1:2]).images[0]
    assert np.abs(again.astype(int) - output.images[1].astype(int)).max() <= 1, "the same alone as in a batch"


def test_out_of_memory_halves_the_chunk_and_keeps_it(engine_settings, samples, monkeypatch):
    engine = get_engine(engine_settings.model_copy(update={"batch_size": 4}))
    real = engine._call
    calls = []

    def small_gpu(chunk):
        calls.append(len(chunk))
        if len(chunk) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(chunk)

    monkeypatch.setattr(engine, "_call", small_gpu)
    output = engine.generate(_batch(samples))
    assert calls == [3, 2, 1, 1, 1] and engine.chunk_size == 1 and len(output.images) == 3
    monkeypatch.setattr(engine, "_call", lambda chunk: (_ for _ in ()).throw(torch.OutOfMemoryError("still")))
    with pytest.raises(torch.OutOfMemoryError):
        engine.generate(_batch(samples)[:1])
