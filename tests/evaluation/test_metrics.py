"""The evaluation maths on known cases: FID and KID against closed forms and brute force, SSIM
against scikit-image, LPIPS against its definition computed directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg
from skimage.metrics import structural_similarity

from tasks.evaluation.metrics import ALEXNET_CHANNELS, Lpips, alexnet_trunk, fid, kid, ssim
from tasks.images import decode_rgb

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def gaussian(rng: np.random.Generator, n: int, d: int, shift: float) -> np.ndarray:
    """``n`` draws of one correlated Gaussian in ``d`` dimensions (the same for every call), moved by ``shift``."""
    mixing = np.random.default_rng(d).normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mixing + shift


def test_fid_of_a_set_with_itself_is_zero() -> None:
    features = gaussian(np.random.default_rng(0), 300, 16, 0.0)
    assert abs(fid(features, features)) < 1e-6


def test_fid_equals_the_closed_form_computed_with_scipy() -> None:
    rng = np.random.default_rng(1)
    real, fake = gaussian(rng, 400, 16, 0.0), gaussian(rng, 300, 16, 0.4)
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))
    assert expected > 1.0  # the sets differ: the test would see a metric that ignores them
    assert fid(real, fake) == pytest.approx(expected, rel=1e-6)


def brute_force_kid(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD² with k(a, b) = (a·b / d + 1)³, by loops over every pair."""
    d, m, n = x.shape[1], len(x), len(y)

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(a @ b) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_equals_the_unbiased_estimator_by_brute_force() -> None:
    rng = np.random.default_rng(2)
    real, fake = gaussian(rng, 40, 8, 0.0), gaussian(rng, 40, 8, 0.5)
    # one subset of every image: the subset is the whole set in another order
    measured = kid(real, fake, subsets=1, subset_size=40)
    assert measured.subset_size == 40 and measured.std == 0.0
    assert measured.mean == pytest.approx(brute_force_kid(real, fake), rel=1e-9)


def test_kid_near_zero_for_one_distribution_and_spread_over_subsets() -> None:
    rng = np.random.default_rng(3)
    a, b, c = gaussian(rng, 200, 8, 0.0), gaussian(rng, 200, 8, 0.0), gaussian(rng, 200, 8, 0.6)
    same, other = kid(a, b, subsets=20, subset_size=50), kid(a, c, subsets=20, subset_size=50)
    assert abs(same.mean) < 0.2 * other.mean
    assert other.std > 0 and other.subsets == 20
    assert kid(a, c, subsets=20, subset_size=500).subset_size == 200  # capped at the set


def test_kid_refuses_a_set_too_small() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        kid(np.zeros((1, 4)), np.zeros((5, 4)))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return decode_rgb((SAMPLES / "library" / "01008_00.jpg").read_bytes())[:256, :192]


def test_ssim_equals_scikit_image(photo: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    noisy = np.clip(photo.astype(np.int16) + rng.integers(-25, 26, photo.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(
        noisy, photo, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    measured = ssim(noisy, photo)
    assert expected < 0.95
    assert measured.whole == pytest.approx(expected, abs=1e-6)
    assert ssim(photo, photo).whole == pytest.approx(1.0)


def test_masked_ssim_sees_only_the_region(photo: np.ndarray) -> None:
    mask = np.zeros(photo.shape[:2], bool)
    mask[100:200, 40:150] = True
    changed = photo.copy()
    changed[~mask] = 255 - changed[~mask]  # only outside the region
    measured = ssim(changed, photo, mask)
    assert measured.whole < 0.5
    assert measured.masked is not None and measured.masked > 0.8 > measured.whole  # the window's edge reaches outside
    inner = np.zeros_like(mask)
    inner[105:195, 45:145] = True  # beyond the window's reach of anything changed
    assert ssim(changed, photo, inner).masked == pytest.approx(1.0)


@pytest.fixture(scope="module")
def lpips() -> Lpips:
    torch.manual_seed(5)
    heads = [torch.rand(1, c, 1, 1) for c in ALEXNET_CHANNELS]
    return Lpips(alexnet_trunk(), heads)


def test_lpips_is_its_definition_computed_directly(lpips: Lpips, photo: np.ndarray) -> None:
    other = np.ascontiguousarray(photo[:, ::-1])
    a, b = (torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1 for x in (photo, other))
    with torch.inference_mode():
        taps_a, taps_b = lpips.taps(a), lpips.taps(b)
    expected = 0.0
    for fa, fb, head in zip(taps_a, taps_b, lpips.heads, strict=True):
        na, nb = fa[0].numpy(), fb[0].numpy()
        na = na / (np.sqrt((na**2).sum(0, keepdims=True)) + 1e-10)
        nb = nb / (np.sqrt((nb**2).sum(0, keepdims=True)) + 1e-10)
        expected += float((((na - nb) ** 2) * head[0].numpy()).sum(0).mean())
    measured = lpips.compare(other, photo)
    assert expected > 1e-5  # random weights: small, but not nothing
    assert measured.whole == pytest.approx(expected, rel=1e-4)
    assert lpips.compare(photo, photo).whole == 0.0
    assert lpips.compare(photo, other).whole == pytest.approx(measured.whole, rel=1e-5)  # symmetric


def test_masked_lpips_sees_the_region(lpips: Lpips, photo: np.ndarray) -> None:
    mask = np.zeros(photo.shape[:2], bool)
    mask[:, :96] = True
    changed = photo.copy()
    changed[:, :96] = 255 - changed[:, :96]  # only inside the region
    measured = lpips.compare(changed, photo, mask)
    assert measured.masked is not None and measured.masked > 1.5 * measured.whole
    untouched = lpips.compare(changed, photo, ~mask)
    assert untouched.masked is not None and untouched.masked < measured.masked
