"""The fingerprint index finds exactly what the exhaustive scan with ``same_garment`` finds (the
first garment added that is the same), on fingerprints of the fixture garments and their re-shots,
crops, flips and recolourings, and on near and far neighbours of them."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from tasks.images import decode_rgb, encode_jpeg
from tasks.preprocess.fingerprints import FingerprintIndex, Owner
from tasks.preprocess.garment import perceptual_hash, prepare_garment, same_garment
from tests.conftest import GARMENTS


def _variants(image: np.ndarray) -> list[np.ndarray]:
    h, w = image.shape[:2]
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    shifted = [
        cv2.cvtColor(
            np.dstack([(hsv[..., 0].astype(int) + s) % 180, hsv[..., 1], hsv[..., 2]]).astype(np.uint8), cv2.COLOR_HSV2RGB
        )
        for s in (6, 30, 90)
    ]
    return [
        image,
        decode_rgb(encode_jpeg(image, 60)),
        image[h // 40 : h - h // 40, w // 40 : w - w // 40],
        image[:, ::-1].copy(),
        cv2.convertScaleAbs(image, alpha=0.9, beta=8),
        *shifted,
    ]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    """Fingerprints of the fixture garments and their variants (the border cut: no weights), then
    random neighbours of them: a few bits flipped (0-12) and the colour moved (0-16 Lab units)."""
    prints = []
    for path, _ in GARMENTS.values():
        for variant in _variants(decode_rgb(path.read_bytes())):
            garment = prepare_garment(np.ascontiguousarray(variant))
            prints.append(perceptual_hash(garment.cloth, garment.mask))
    rng = random.Random(7)
    for base in list(prints) * 12:
        value, colour = int(base[:16], 16), [int(base[17 + 2 * i : 19 + 2 * i], 16) for i in range(3)]
        for bit in rng.sample(range(64), rng.randint(0, 12)):
            value ^= 1 << bit
        colour = [min(255, max(0, c + rng.randint(-9, 9))) for c in colour]
        prints.append(f"{value:016x}-" + "".join(f"{c:02x}" for c in colour))
    return prints


def _exhaustive(known: list[tuple[str, Owner]], fingerprint: str) -> Owner | None:
    return next((owner for other, owner in known if same_garment(other, fingerprint)), None)


def test_the_index_finds_what_the_exhaustive_check_finds(corpus):
    rng = random.Random(11)
    order = list(range(len(corpus)))
    rng.shuffle(order)
    index, known = FingerprintIndex(), []
    found = 0
    for n, position in enumerate(order):  # a drop in which each garment is checked, then kept if new
        fingerprint = corpus[position]
        expected = _exhaustive(known, fingerprint)
        assert index.find(fingerprint) == expected, fingerprint
        if expected is None:
            owner = Owner(f"SKU-{n:05d}", "2026-11-20")
            index.add(fingerprint, owner)
            known.append((fingerprint, owner))
        found += expected is not None
    # both answers occur many times: the comparison cannot pass by answering None (or always a match)
    assert 0.2 * len(corpus) < found < 0.9 * len(corpus), (found, len(corpus))


def test_the_first_garment_added_is_the_one_found():
    index = FingerprintIndex()
    index.add("ffff0000ffff0000-808080", Owner("FIRST", "2026-11-01"))
    index.add("ffff0000ffff0001-808081", Owner("SECOND", "2026-11-02"))
    assert index.find("ffff0000ffff0003-808080") == Owner("FIRST", "2026-11-01")
    assert index.find("0000ffff0000ffff-808080") is None  # every bit differs
    assert index.find("ffff0000ffff0000-a08080") is None  # 32 Lab units away
    assert index.find("ffff0000ffff00ff-808080") == Owner("FIRST", "2026-11-01")  # 8 bits from it, 7 from the second
    assert index.find("ffff0000ffff03fe-808080") is None  # 9 bits from the first, 10 from the second
