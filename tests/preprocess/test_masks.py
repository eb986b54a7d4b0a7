"""LaDI-VTON's mask rules, checked pixel by pixel on a label map drawn by hand, and the pose map."""

import numpy as np
import pytest

from tasks.preprocess.masks import (
    arm_line,
    decode_pose_map,
    encode_pose_map,
    inpaint_mask,
    pose_map,
)
from tasks.preprocess.parsing import ATR_LABELS as L
from tasks.preprocess.pose import KP


@pytest.fixture
def scene():
    """A 512x384 figure: hair, face, a top, trousers, bare arms, shoes."""
    labels = np.zeros((512, 384), np.uint8)
    labels[20:40, 160:225] = L["hair"]
    labels[40:130, 160:225] = L["head"]  # the face reaches down to the shoulder line (the neck)
    labels[130:300, 110:275] = L["upper_clothes"]
    labels[300:470, 130:255] = L["pants"]
    labels[470:500, 130:255] = L["left_shoe"]
    labels[130:380, 80:110] = L["right_arm"]  # image left is the person's right
    labels[130:380, 275:305] = L["left_arm"]
    keypoints = np.zeros((18, 3), np.float32)
    for name, xy in {
        "r_shoulder": (120, 130),
        "l_shoulder": (265, 130),
        "r_elbow": (95, 230),
        "l_elbow": (290, 230),
        "r_wrist": (95, 320),
        "l_wrist": (290, 320),
        "r_hip": (160, 300),
        "l_hip": (225, 300),
    }.items():
        keypoints[KP[name]] = (*xy, 0.9)
    return labels, keypoints


def test_upper_body(scene):
    labels, keypoints = scene
    mask = inpaint_mask("upper_body", labels, keypoints)
    assert mask[200, 190]  # the top
    assert not mask[200, 340]  # background far from the top and the arm line
    assert not mask[305, 190] and not mask[400, 190]  # the trousers are fixed
    assert not mask[30, 190]  # hair
    assert not mask[60, 190]  # face above the shoulder line raised by 20 px
    assert mask[120, 190]  # the neck: head below that line
    assert mask[230, 95] and mask[320, 95]  # bare arm along the arm line, wrist included
    assert not mask[370, 95]  # the hand: arm pixels beyond the line are fixed
    assert not mask[480, 190]  # shoes


def test_the_seed_grows_ten_pixels():
    """5x5 kernel, 5 iterations: exactly 10 px (Chebyshev) into the background."""
    labels = np.zeros((512, 384), np.uint8)
    labels[200:301, 100:301] = L["upper_clothes"]
    keypoints = np.zeros((18, 3), np.float32)
    keypoints[KP["r_shoulder"]] = (100, 200, 0.9)
    keypoints[KP["l_shoulder"]] = (300, 200, 0.9)
    mask = inpaint_mask("upper_body", labels, keypoints)
    assert mask[310, 200] and not mask[311, 200]
    assert mask[250, 90] and not mask[250, 89]
    assert mask[310, 310] and not mask[311, 311]


def test_lower_body(scene):
    labels, keypoints = scene
    mask = inpaint_mask("lower_body", labels, keypoints)
    assert mask[400, 190] and mask[305, 190]
    assert not mask[295, 190]  # the top is fixed, right above the waistband
    assert not mask[120, 190] and not mask[60, 190]  # the whole head is fixed
    assert not mask[320, 95]  # arms are fixed
    assert not mask[485, 190]
    assert mask[400, 125] and not mask[400, 119]  # 5 px beyond the trousers in, 11 px out


def test_dresses_keep_the_neck_rule_and_release_trousers(scene):
    labels, keypoints = scene
    labels = labels.copy()
    labels[labels == L["upper_clothes"]] = L["dress"]
    labels[labels == L["pants"]] = L["dress"]
    mask = inpaint_mask("dresses", labels, keypoints)
    assert mask[200, 190] and mask[400, 190] and mask[120, 190]
    assert not mask[60, 190] and not mask[370, 95]


def test_arm_line_drops_a_missing_wrist_and_elbow(scene):
    _, keypoints = scene
    full = arm_line(keypoints, (512, 384))
    assert full[320, 95] and full[320, 290] and full[130, 190]
    keypoints = keypoints.copy()
    keypoints[KP["r_wrist"]] = 0
    assert not arm_line(keypoints, (512, 384))[330, 95] and arm_line(keypoints, (512, 384))[230, 95]
    keypoints[KP["r_elbow"]] = 0
    line = arm_line(keypoints, (512, 384))
    assert not line[230, 95] and line[320, 290]
    # 45 px thick at 512 high: 22 px either side of a horizontal segment
    assert line[130 + 22, 190] and not line[130 + 24, 190]


def test_pose_map_matches_the_formula():
    keypoints = np.zeros((18, 3), np.float32)
    keypoints[KP["neck"]] = (100.0, 200.0, 0.9)
    keypoints[KP["r_knee"]] = (383.0, 10.0, 0.8)  # at the edge: still peaks at 1
    maps = pose_map(keypoints)
    assert maps.shape == (18, 512, 384) and maps.dtype == np.float32
    ys, xs = np.mgrid[0:512, 0:384]
    expected = np.exp(-((xs - 100.0) ** 2 + (ys - 200.0) ** 2) / 81.0)
    assert np.allclose(maps[KP["neck"]], expected / expected.max(), atol=1e-12)
    assert maps[KP["r_knee"]].max() == pytest.approx(1.0)
    missing = [i for i in range(18) if i not in (KP["neck"], KP["r_knee"])]
    assert not maps[missing].any()
    assert np.array_equal(decode_pose_map(encode_pose_map(maps)), maps)
