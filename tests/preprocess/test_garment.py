"""OpenCV garment masks and the 3:4 white canvas, on the fixture garments."""

import numpy as np
import pytest

from tasks.images import decode_rgb
from tasks.preprocess.garment import GarmentMaskError, fill_holes, prepare_garment
from tests.conftest import GARMENTS


@pytest.mark.parametrize("sku", sorted(GARMENTS))
def test_mask_and_canvas(sku):
    path, category = GARMENTS[sku]
    garment = prepare_garment(decode_rgb(path.read_bytes()))
    assert garment.cloth.shape == (1024, 768, 3) and garment.mask.shape == (1024, 768)
    assert 0.25 < garment.mask.mean() < 0.75
    # white outside the garment, and the garment is not white
    assert (garment.cloth[~garment.mask] == 255).all()
    assert garment.cloth[garment.mask].mean() < 235
    # centred, with a margin on every side
    ys, xs = np.nonzero(garment.mask)
    assert ys.min() > 30 and ys.max() < 1024 - 30 and xs.min() > 30 and xs.max() < 768 - 30
    assert abs((xs.min() + xs.max()) / 2 - 384) < 4 and abs((ys.min() + ys.max()) / 2 - 512) < 4
    # one piece, no holes
    assert (fill_holes(garment.mask) == garment.mask).all()


def test_the_shape_is_not_distorted():
    path, _ = GARMENTS["JEANS-051946"]
    image = decode_rgb(path.read_bytes())
    garment = prepare_garment(image[:, 100:700])  # a narrower photo of the same garment
    full = prepare_garment(image)
    assert _aspect(garment.mask) == pytest.approx(_aspect(full.mask), rel=0.03)


def _aspect(mask):
    ys, xs = np.nonzero(mask)
    return (np.ptp(ys) + 1) / (np.ptp(xs) + 1)


def test_a_plain_image_has_no_garment():
    with pytest.raises(GarmentMaskError, match="garment_mask_empty"):
        prepare_garment(np.full((1024, 768, 3), 250, np.uint8))
