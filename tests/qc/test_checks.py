"""QC checks pass a real generation and fail deliberately broken ones, each by name."""

import numpy as np
import pytest

from tasks.images import decode_rgb, encode_jpeg
from tasks.inference.engine import TryOnSample
from tasks.inference.warp_baseline import WarpBaselineEngine
from tasks.preprocess.garment import prepare_garment
from tasks.preprocess.model_photo import prepare_model_photo
from tasks.qc.checks import run_checks
from tasks.settings import Settings
from tests.conftest import GARMENTS, SAMPLES


@pytest.fixture(scope="module")
def generation():
    photo = prepare_model_photo(decode_rgb((SAMPLES / "library" / "01008_00.jpg").read_bytes()), Settings())
    path, category = GARMENTS["TEE-00055"]
    garment = prepare_garment(decode_rgb(path.read_bytes()))
    view = photo.views[category]
    sample = TryOnSample("g", category, view.image, view.person_mask, view.inpaint_mask, view.keypoints,
                         garment.cloth, garment.mask, 0)
    output = WarpBaselineEngine().generate([sample]).images[0]
    # checks run on what is stored: a JPEG
    return decode_rgb(encode_jpeg(output)), view.image, view.inpaint_mask


def _failed(results):
    return {r.check for r in results if not r.passed}


def test_a_real_generation_passes(generation):
    output, photo, region = generation
    results = run_checks(output, photo, region)
    assert _failed(results) == set()
    assert {r.check for r in results} == {"size", "not_blank", "outside_region_unchanged", "inside_region_changed"}


def test_blank_image_fails_not_blank(generation):
    _, photo, region = generation
    assert "not_blank" in _failed(run_checks(np.full_like(photo, 128), photo, region))


def test_altered_outside_region_fails(generation):
    output, photo, region = generation
    altered = output.copy()
    altered[:200] = 255 - altered[:200]  # the head and background above the garment
    failed = run_checks(altered, photo, region)
    assert "outside_region_unchanged" in _failed(failed)
    reason = next(r.reason for r in failed if r.check == "outside_region_unchanged")
    assert "outside the inpaint region changed" in reason


def test_untouched_photo_fails_inside_changed(generation):
    _, photo, region = generation
    assert _failed(run_checks(photo.copy(), photo, region)) == {"inside_region_changed"}


def test_wrong_size_fails_and_stops(generation):
    output, photo, region = generation
    results = run_checks(output[:512], photo, region)
    assert [(r.check, r.passed) for r in results] == [("size", False)]
