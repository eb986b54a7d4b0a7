"""The QC metrics made cheap (issue 16) give the numbers of their plain definitions: the local
SSIM map equals scikit-image's wherever and however the images differ, the clipped share equals
the per-pixel test, the padding frame's width equals the column-by-column scan, the seam ridge
and the grain measured around the region equal the same filters over the whole frame, every
RGB colour's histogram bin found by table equals the one its Lab value gives, and an artifact
decoded by OpenCV is the image ``decode_rgb`` gives."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from tasks.images import decode_artifact, decode_rgb, encode_jpeg, encode_png
from tasks.qc.appearance import BINS, HIGH, LOW, colour_bins, to_lab
from tasks.qc.artefacts import LAPLACE, _masked_mean, clipped, frame_width, grain, ridge
from tasks.qc.metrics import ssim_map
from tests.conftest import MODEL_PHOTOS


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return cv2.resize(decode_rgb(MODEL_PHOTOS[0].read_bytes()), (768, 1024), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize(
    "box", [None, (0, 1024, 0, 768), (300, 700, 200, 500), (0, 5, 0, 5), (1019, 1024, 763, 768), (500, 501, 300, 301)]
)
def test_ssim_map_is_scikit_images(photo, box):
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    other = grey.copy()
    if box:
        y0, y1, x0, x1 = box
        other[y0:y1, x0:x1] = np.random.default_rng(0).integers(0, 256, (y1 - y0, x1 - x0))
    _, expected = structural_similarity(grey, other, data_range=255, full=True)
    assert np.abs(ssim_map(grey, other) - expected).max() < 1e-9


def _frame_width_by_scan(image, flat=2.5, step=10.0, widest=160):
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    found = 0
    for strip in (lab, lab[:, ::-1], lab.transpose(1, 0, 2), lab.transpose(1, 0, 2)[:, ::-1]):
        columns = strip[:, :widest]
        edge = np.median(columns[:, 0], axis=0)
        off = np.abs(columns - edge).max(axis=2) >= step
        width = 0
        while width < widest - 3 and off[:, width].mean() < 0.02 and columns[:, width].std(axis=0).max() < flat:
            width += 1
        if width >= 6 and off[:, width + 2].mean() >= 0.8:
            found = max(found, width)
    return found


def test_clipped_share_and_frame_width_are_their_definitions(photo):
    framed = photo.copy()
    framed[:, :40] = (120, 60, 200)  # a padding frame on the left
    framed[:90] = 255  # a clipped white band on top
    framed[-30:, -50:] = 0
    for image in (photo, framed, np.full_like(photo, 255), np.zeros_like(photo)):
        assert clipped(image) == float(((image <= 2).all(axis=2) | (image >= 253).all(axis=2)).mean())
        assert frame_width(image) == _frame_width_by_scan(image)
    assert frame_width(framed) >= 39


def _ridge_whole_frame(image, region):
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    inside = region.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    band = inside - cv2.erode(inside, kernel, iterations=4)
    deeper = cv2.erode(inside, kernel, iterations=5) - cv2.erode(inside, kernel, iterations=10)
    outside = cv2.dilate(inside, kernel, iterations=5) - inside
    if (band > 0).sum() < 50:
        return 0.0
    own, deep, out = _masked_mean(grey, band, 2.0), _masked_mean(grey, deeper, 6.0), _masked_mean(grey, outside, 6.0)
    return float(np.minimum(np.abs(own - deep), np.abs(own - out))[band > 0].mean())


def _grain_whole_frame(image, mask):
    response = np.abs(cv2.filter2D(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), -1, LAPLACE))
    return float(np.median(cv2.GaussianBlur(response, (0, 0), 4.0)[mask]))


@pytest.mark.parametrize(
    "box", [(300, 700, 200, 500), (0, 400, 0, 300), (600, 1024, 500, 768), (0, 1024, 0, 768), (500, 530, 20, 40)]
)
def test_ridge_and_grain_around_the_region_are_the_whole_frames(photo, box):
    region = np.zeros(photo.shape[:2], bool)
    y0, y1, x0, x1 = box
    region[y0:y1, x0:x1] = True
    region[y0 + (y1 - y0) // 3 :, x0 : x0 + (x1 - x0) // 4] = False  # not a rectangle: corners inside and out
    noisy = photo.copy()
    noisy[region] = np.clip(noisy[region] + np.random.default_rng(1).normal(0, 12, noisy[region].shape), 0, 255).astype(np.uint8)
    assert ridge(noisy, region) == _ridge_whole_frame(noisy, region)
    assert grain(noisy, region) == _grain_whole_frame(noisy, region)


def test_every_rgb_colours_bin_by_table_is_its_lab_values():
    levels = np.arange(256, dtype=np.uint8)
    for red in range(0, 256, 16):  # all 16.7 million colours, 16 reds at a time
        rgb = np.stack(np.meshgrid(levels[red : red + 16], levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
        index = np.clip(((to_lab(rgb) - LOW) / (HIGH - LOW) * BINS).astype(np.int32), 0, BINS - 1)
        expected = (index[:, 0] * BINS[1] + index[:, 1]) * BINS[2] + index[:, 2]
        assert np.array_equal(colour_bins(rgb), expected)


def test_an_artifact_decodes_to_decode_rgbs_pixels(photo):
    for data in (encode_png(photo), encode_jpeg(photo, 90), encode_jpeg(photo[::3, ::3].copy(), 75)):
        assert np.array_equal(decode_artifact(data), decode_rgb(data))
