"""The geometric warp baseline on the fixture photos, all three categories."""

import numpy as np
import pytest

from tasks.inference.engine import TryOnSample
from tasks.inference.factory import get_engine
from tasks.inference.landmarks import correspondence
from tasks.inference.warp_baseline import WarpBaselineEngine
from tasks.settings import Settings
from tests.conftest import PAIRS


def test_batch_output_is_exact_outside_and_new_inside(samples):
    batch = list(samples.values())
    output = WarpBaselineEngine().generate(batch)
    assert len(output.images) == len(batch) == len(output.details)
    for sample, image in zip(batch, output.images):
        assert image.shape == (1024, 768, 3) and image.dtype == np.uint8
        outside = ~sample.inpaint_mask
        assert np.array_equal(image[outside], sample.person[outside]), sample.generation_id
        changed = np.abs(image.astype(int) - sample.person.astype(int)).max(axis=2)[sample.inpaint_mask]
        assert (changed > 20).mean() > 0.3, sample.generation_id


def test_garment_colour_lands_inside_the_region(samples):
    sample = samples[("JEANS-051946", "051918_0.jpg")]
    image = WarpBaselineEngine().generate([sample]).images[0]
    pink = sample.cloth[sample.cloth_mask].mean(axis=0)
    region = image[sample.inpaint_mask].astype(float)
    near_pink = np.linalg.norm(region - pink, axis=1) < 60
    assert near_pink.mean() > 0.4
    before = np.linalg.norm(sample.person[sample.inpaint_mask].astype(float) - pink, axis=1) < 60
    assert before.mean() < 0.1  # the photo's own trousers are grey


def test_deterministic_and_batch_independent(samples):
    engine = WarpBaselineEngine()
    batch = list(samples.values())[:3]
    together = engine.generate(batch).images
    alone = [engine.generate([s]).images[0] for s in batch]
    for a, b in zip(together, alone):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("sku, photo", PAIRS)
def test_landmarks_land_in_the_right_places(samples, sku, photo):
    sample = samples[(sku, photo)]
    corr = correspondence(sample.category, sample.cloth_mask, sample.keypoints)
    points = dict(zip(corr.names, corr.body))
    kp = sample.keypoints
    if sample.category in ("upper_body", "dresses"):
        # image-left shoulder of the garment goes to the image-left shoulder of the body
        assert (
            points["shoulder_left"][0] < kp[2, 0] < points["shoulder_right"][0]
            or points["shoulder_left"][0] < kp[5, 0] < points["shoulder_right"][0]
        )
        assert points["shoulder_left"][0] < points["shoulder_right"][0]
        assert points["hem_left"][1] > kp[2, 1]
    else:
        assert points["waist_left"][0] < points["waist_right"][0]
        assert points["waist_left"][1] < kp[8, 1] + 5
    if sku.startswith(("JEANS", "TROUSER")):
        assert "crotch" in points and any(n.startswith("leg_left") for n in points)


def test_bad_inputs_are_refused_by_name(samples):
    sample = next(iter(samples.values()))
    broken = TryOnSample(**{**sample.__dict__, "category": "hats"})
    with pytest.raises(ValueError, match="unknown category 'hats'"):
        WarpBaselineEngine().generate([broken])
    small = TryOnSample(**{**sample.__dict__, "person": sample.person[:512]})
    with pytest.raises(ValueError, match="person must be uint8"):
        WarpBaselineEngine().generate([small])


def test_engine_says_it_is_the_baseline():
    engine = get_engine(Settings(engine="warp-baseline"))
    assert engine is get_engine(Settings(engine="warp-baseline")), "engines are built once per process"
    info = engine.describe()
    assert info.engine == "warp-baseline" and info.baseline is True
    assert info.weights_sha256 == "none" and info.model_version == "warp-baseline-1.0.0"
    with pytest.raises(ValueError, match="unknown engine"):
        get_engine(Settings(engine="ladi-vtonn"))


def test_a_garment_mask_cut_across_by_a_gap_is_still_warped(samples):
    """A garment cut from a model photo can have rows without a pixel (an arm across it): the
    landmark on such a row takes the nearest row's outline instead of failing the image
    (``tryon evaluate`` on the library set lost two of four upper-body pairs so)."""
    sample = samples[("DRESS-052234", "052472_0.jpg")]
    rows = np.flatnonzero(sample.cloth_mask.any(axis=1))
    mask = sample.cloth_mask.copy()
    for fraction in (0.3, 0.5, 0.92):  # the rows the landmarks read: torso, waist, hem
        y = int(rows[0] + fraction * (rows[-1] - rows[0]))
        mask[y - 6 : y + 6] = False
    gapped = TryOnSample(**{**sample.__dict__, "cloth_mask": mask})
    image = WarpBaselineEngine().generate([gapped]).images[0]
    changed = np.abs(image.astype(int) - sample.person.astype(int)).max(axis=2)[sample.inpaint_mask]
    assert (changed > 20).mean() > 0.3
