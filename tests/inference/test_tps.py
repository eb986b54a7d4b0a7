import numpy as np
import pytest

from tasks.inference.tps import ThinPlateSpline, backward_warp


def test_spline_interpolates_its_control_points():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 700, (10, 2))
    target = source + rng.normal(0, 30, (10, 2))
    spline = ThinPlateSpline(source, target)
    assert np.allclose(spline(source), target, atol=1e-6)


def test_affine_maps_are_reproduced_everywhere():
    source = np.array([[0, 0], [100, 0], [0, 100], [100, 100], [50, 20]], float)
    matrix = np.array([[1.2, 0.1], [-0.2, 0.9]])
    target = source @ matrix.T + (5, -7)
    query = np.array([[300.0, -40.0], [12.0, 77.0]])
    assert np.allclose(ThinPlateSpline(source, target)(query), query @ matrix.T + (5, -7), atol=1e-6)


def test_too_few_or_mismatched_points_are_refused():
    with pytest.raises(ValueError):
        ThinPlateSpline(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError):
        ThinPlateSpline(np.zeros((4, 2)), np.zeros((5, 2)))


def test_backward_warp_moves_content_onto_the_target_points():
    image = np.zeros((200, 160), np.uint8)
    image[40:50, 40:50] = 255  # a square centred at (44.5, 44.5)
    corners = [(0, 0), (159, 0), (0, 199), (159, 199)]
    source = np.array(corners + [(44.5, 44.5)], float)
    target = np.array(corners + [(100.5, 130.5)], float)
    warped = backward_warp(image, target, source, (200, 160), step=4)
    ys, xs = np.nonzero(warped > 127)
    assert abs(xs.mean() - 100.5) < 1.5 and abs(ys.mean() - 130.5) < 1.5
    assert warped[40:50, 40:50].max() == 0


def test_identity_warp_keeps_the_image():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)
    points = np.array([(0, 0), (47, 0), (0, 63), (47, 63), (20, 30)], float)
    assert np.array_equal(backward_warp(image, points, points, (64, 48), step=8), image)
