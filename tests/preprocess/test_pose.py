"""mediapipe pose mapped to OpenPose COCO-18, on the fixture model photos."""

import numpy as np
import pytest

from tasks.images import decode_rgb
from tasks.preprocess.pose import KP, PoseResult, shared_pose
from tasks.preprocess.segmentation import shared_segmenter
from tests.conftest import MODEL_PHOTOS


@pytest.fixture(scope="module")
def analysed():
    results = {}
    for path in MODEL_PHOTOS:
        image = decode_rgb(path.read_bytes())
        results[path.name] = (image, shared_pose()(image), shared_segmenter()(image))
    return results


@pytest.mark.parametrize("photo", [p.name for p in MODEL_PHOTOS])
def test_keypoints_lie_on_the_person(analysed, photo):
    image, pose, person = analysed[photo]
    assert person.mean() > 0.1, "a person fills a good part of every fixture photo"
    present = [i for i in range(18) if pose.keypoints[i, 2] >= 0.5]
    assert len(present) >= 8
    for index in present:
        x, y = pose.keypoints[index, :2].astype(int)
        assert person[y, x], f"keypoint {index} at ({x}, {y}) is off the person"


@pytest.mark.parametrize("photo", [p.name for p in MODEL_PHOTOS])
def test_shoulders_above_hips_and_right_side_on_image_left(analysed, photo):
    _, pose, _ = analysed[photo]
    for name in ("r_shoulder", "l_shoulder", "r_hip", "l_hip"):
        assert pose.present(name), name
    assert pose.point("r_shoulder")[1] < pose.point("r_hip")[1]
    assert pose.point("l_shoulder")[1] < pose.point("l_hip")[1]
    # every fixture photo is frontal: the person's right is the image's left
    for joint in ("shoulder", "hip"):
        assert pose.point(f"r_{joint}")[0] < pose.point(f"l_{joint}")[0], joint
    neck = pose.point("neck")
    assert np.allclose(neck, (pose.point("r_shoulder") + pose.point("l_shoulder")) / 2)


def test_full_body_photos_have_legs_and_upper_body_framings_do_not(analysed):
    _, full, _ = analysed["049205_0.jpg"]
    for name in ("r_knee", "l_knee", "r_ankle", "l_ankle"):
        assert full.present(name)
    _, framing, _ = analysed["05997_00.jpg"]
    assert not framing.present("r_ankle") and not framing.present("l_ankle")


def test_openpose_json_round_trip(analysed):
    _, pose, _ = analysed["01008_00.jpg"]
    payload = pose.to_openpose_json()
    flat = payload["people"][0]["pose_keypoints_2d"]
    assert len(flat) == 54
    missing = [i for i in range(18) if pose.keypoints[i, 2] == 0]
    for index in missing:
        assert flat[3 * index : 3 * index + 3] == [0.0, 0.0, 0.0]
    restored = PoseResult.from_openpose_json(payload)
    assert np.allclose(restored.keypoints, pose.keypoints, atol=1e-4)
    assert KP["nose"] == 0 and KP["l_ear"] == 17


def test_no_person_gives_no_keypoints():
    blank = np.full((1024, 768, 3), 200, np.uint8)
    assert not shared_pose()(blank).keypoints[:, 2].any()
    assert not shared_segmenter()(blank).any()
