"""Try-on samples built from the fixture photos, all three categories, shared by the engine tests."""

import pytest

from tasks.images import decode_rgb
from tasks.inference.engine import TryOnSample
from tasks.preprocess.garment import prepare_garment
from tasks.preprocess.model_photo import prepare_model_photo
from tasks.settings import Settings
from tests.conftest import GARMENTS, SAMPLES

PAIRS = [("TEE-03032", "05997_00.jpg"), ("CAMI-048769", "049205_0.jpg"), ("JEANS-051946", "051918_0.jpg"),
         ("TROUSER-051473", "049205_0.jpg"), ("DRESS-052234", "052472_0.jpg"), ("DRESS-053744", "052472_0.jpg")]


@pytest.fixture(scope="session")
def samples() -> dict[tuple[str, str], TryOnSample]:
    """(sku, photo) -> a TryOnSample on the 768x1024 canvas; seeds differ per sample."""
    photos, built = {}, {}
    for index, (sku, photo) in enumerate(PAIRS):
        if photo not in photos:
            photos[photo] = prepare_model_photo(decode_rgb((SAMPLES / "library" / photo).read_bytes()), Settings())
        path, category = GARMENTS[sku]
        garment = prepare_garment(decode_rgb(path.read_bytes()))
        view = photos[photo].views[category]
        built[(sku, photo)] = TryOnSample(
            generation_id=f"{sku}-{photo}", category=category, person=view.image, person_mask=view.person_mask,
            inpaint_mask=view.inpaint_mask, keypoints=view.keypoints, cloth=garment.cloth, cloth_mask=garment.mask,
            seed=1000 + index,
        )
    return built
