"""The QC metrics made cheap (issue 16) give the numbers of their plain definitions: the local
SSIM map equals scikit-image's wherever and however the images differ, the clipped share equals
the per-pixel test, and the padding frame's width equals the column-by-column scan."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from tasks.images import decode_rgb
from tasks.qc.artefacts import clipped, frame_width
from tasks.qc.metrics import ssim_map
from tests.conftest import MODEL_PHOTOS


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return cv2.resize(decode_rgb(MODEL_PHOTOS[0].read_bytes()), (768, 1024), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("box", [None, (0, 1024, 0, 768), (300, 700, 200, 500), (0, 5, 0, 5), (1019, 1024, 763, 768), (500, 501, 300, 301)])
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
