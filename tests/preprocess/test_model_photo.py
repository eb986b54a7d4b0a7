"""Model-photo preparation: category suitability and the first inpaint regions."""

import numpy as np
import pytest

from tasks.images import decode_rgb
from tasks.preprocess.model_photo import ModelPhotoRejected, prepare_model_photo
from tests.conftest import MODEL_PHOTOS


@pytest.fixture(scope="module")
def photos():
    return {p.name: prepare_model_photo(decode_rgb(p.read_bytes())) for p in MODEL_PHOTOS}


def test_suitability_follows_the_framing(photos):
    for name in ("049205_0.jpg", "051918_0.jpg", "052472_0.jpg"):  # full body
        assert photos[name].categories == ["dresses", "lower_body", "upper_body"], name
    for name in ("01008_00.jpg", "05997_00.jpg", "model_1.png", "model_6.png"):  # no knees in frame
        assert photos[name].categories == ["upper_body"], name
        assert "missing_keypoints" in photos[name].unsuitable["lower_body"]


@pytest.mark.parametrize("photo", [p.name for p in MODEL_PHOTOS])
def test_regions_cover_the_body_part_and_spare_the_head(photos, photo):
    prepared = photos[photo]
    pose = prepared.pose
    for category, region in prepared.inpaint_masks.items():
        assert region.dtype == bool and region.shape == (1024, 768)
        assert 0.03 < region.mean() < 0.6, category
        # most of the region lies on the person
        assert (region & prepared.person_mask).sum() / region.sum() > 0.8
        for eye in ("r_eye", "l_eye"):
            if pose.present(eye):
                x, y = pose.point(eye).astype(int)
                assert not region[y, x], f"{category} region covers the {eye}"
        hips_y = int(pose.point("r_hip")[1])
        hip_x = int((pose.point("r_hip")[0] + pose.point("l_hip")[0]) / 2)
        if category == "upper_body":
            chest = ((pose.point("r_shoulder") + pose.point("l_hip")) / 2).astype(int)
            assert region[chest[1], chest[0]], "upper body region misses the chest"
        if category == "lower_body":
            knee = pose.point("r_knee").astype(int)
            assert region[knee[1], knee[0]] and region[hips_y, hip_x]
            chest_y = int((pose.point("r_shoulder")[1] + hips_y) / 2)
            assert not region[: chest_y].any(), "lower body region reaches the chest"
        if category == "dresses":
            assert region[hips_y, hip_x]


def test_an_empty_scene_is_rejected_with_a_reason():
    with pytest.raises(ModelPhotoRejected, match="no_person"):
        prepare_model_photo(np.full((1024, 768, 3), 240, np.uint8))


def test_photos_of_other_sizes_are_fitted_to_the_canvas(photos):
    image = decode_rgb(MODEL_PHOTOS[0].read_bytes())
    small = image[::2, ::2]  # 384x512
    prepared = prepare_model_photo(small)
    assert prepared.image.shape == (1024, 768, 3)
    assert prepared.categories == photos[MODEL_PHOTOS[0].name].categories
