"""The ONNX code paths (SCHP parsing, SimCC pose, CLIP-style embeddings) through the model
registry, with tiny generated models of the same signatures."""

import numpy as np
import pytest

from tasks.images import decode_rgb
from tasks.models import ModelRegistryError
from tasks.preprocess.backends import embedding_backend, parsing_backend, pose_backend
from tasks.preprocess.model_photo import prepare_model_photo
from tasks.preprocess.pose import KP
from tasks.preprocess.segmentation import shared_segmenter
from tasks.settings import Settings
from tests import onnx_models
from tests.conftest import SAMPLES

# COCO-17 peaks: x bins (of 384) and y bins (of 512) for a body standing in the crop
PEAKS_X = np.array([192, 200, 184, 210, 174, 240, 144, 250, 134, 255, 129, 220, 164, 222, 162, 224, 160])
PEAKS_Y = np.array([60, 50, 50, 55, 55, 120, 120, 200, 200, 270, 270, 260, 260, 360, 360, 460, 460])


@pytest.fixture(scope="module")
def onnx_settings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    registry = onnx_models.registry(
        folder / "models.yaml",
        {
            "schp-tiny": ("schp-onnx", onnx_models.schp_parser(folder / "schp.onnx")),
            "simcc-tiny": ("rtmpose-onnx", onnx_models.simcc_pose(folder / "pose.onnx", PEAKS_X, PEAKS_Y)),
            "clip-tiny": ("clip-image-onnx", onnx_models.image_tower(folder / "clip.onnx")),
        },
    )
    return Settings(
        home=folder / "home",
        model_registry=registry,
        pose_backend="simcc-tiny",
        parsing_backend="schp-tiny",
        embedding_backend="clip-tiny",
    )


def test_simcc_decoding_lands_on_the_known_coordinates(onnx_settings):
    image = decode_rgb((SAMPLES / "library" / "05997_00.jpg").read_bytes())
    person = shared_segmenter()(image)
    estimator = pose_backend(onnx_settings)
    result = estimator(image, person)
    assert result.backend == "simcc-onnx:simcc-tiny@tiny"
    x0, y0, w, _ = estimator._box(image, person)
    scale = 192 / w
    # COCO-17 5 is the left shoulder -> COCO-18 5; 6 the right shoulder -> 2
    for coco17, coco18 in ((5, KP["l_shoulder"]), (6, KP["r_shoulder"]), (0, KP["nose"])):
        x, y, score = result.keypoints[coco18]
        assert x == pytest.approx(PEAKS_X[coco17] / 2 / scale + x0, abs=1e-3)
        assert y == pytest.approx(PEAKS_Y[coco17] / 2 / scale + y0, abs=1e-3)
        assert score == pytest.approx(0.8)
    neck = result.keypoints[KP["neck"]]
    assert np.allclose(neck[:2], (result.keypoints[2, :2] + result.keypoints[5, :2]) / 2)


def test_schp_parser_gives_an_atr_label_map(onnx_settings):
    image = decode_rgb((SAMPLES / "library" / "05997_00.jpg").read_bytes())
    parser = parsing_backend(onnx_settings)
    parsing = parser(image[:512, :384], None, None)
    assert parsing.labels.shape == (512, 384) and parsing.labels.dtype == np.uint8
    assert parsing.labels.max() < 18 and len(np.unique(parsing.labels)) > 1
    assert parsing.backend == "schp-atr-onnx:schp-tiny@tiny"


def test_clip_style_embedder_is_normalised_and_deterministic(onnx_settings):
    image = decode_rgb((SAMPLES / "library" / "05997_00.jpg").read_bytes())
    mask = np.zeros(image.shape[:2], bool)
    mask[300:700, 200:600] = True
    embedder = embedding_backend(onnx_settings)
    first, second = embedder(image, mask), embedder(image, mask)
    assert first.shape == (32,) and np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(first, second)
    assert embedder.backend == "clip-image-onnx:clip-tiny@tiny"


def test_the_whole_photo_pipeline_runs_on_onnx_backends(onnx_settings):
    image = decode_rgb((SAMPLES / "library" / "05997_00.jpg").read_bytes())
    photo = prepare_model_photo(image, onnx_settings)
    assert photo.backends["parsing"] == "schp-atr-onnx:schp-tiny@tiny"
    assert photo.backends["pose"] == "simcc-onnx:simcc-tiny@tiny"
    assert set(photo.views) | set(photo.unsuitable) == {"upper_body", "lower_body", "dresses"}


def test_a_wrong_hash_or_unknown_model_is_refused(onnx_settings, tmp_path):
    bad = onnx_settings.model_copy(update={"parsing_backend": "nope"})
    with pytest.raises(ModelRegistryError, match="'nope' is not in"):
        parsing_backend(bad)
    tampered = tmp_path / "schp.onnx"
    onnx_models.schp_parser(tampered)
    registry = onnx_models.registry(tmp_path / "models.yaml", {"schp-tiny": ("schp-onnx", tampered)})
    onnx_models.schp_parser(tampered, seed=1)  # the file changes after it was registered
    with pytest.raises(ModelRegistryError, match="sha256 of .* is"):
        parsing_backend(onnx_settings.model_copy(update={"model_registry": registry, "home": tmp_path / "h"}))
    with pytest.raises(ModelRegistryError, match="is a schp-onnx model, not rtmpose-onnx"):
        pose_backend(onnx_settings.model_copy(update={"pose_backend": "schp-tiny"}))


def test_rembg_backend_runs_a_custom_u2net_through_the_registry(tmp_path, monkeypatch):
    """rembg with a tiny U2-Net-signature model: the code path, not the quality."""
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "elsewhere"))  # replaced by the model cache's folder
    model = onnx_models.u2net(tmp_path / "u2net.onnx")
    registry = onnx_models.registry(tmp_path / "models.yaml", {"u2net-tiny": ("u2net-onnx", model)})
    settings = Settings(home=tmp_path / "home", model_registry=registry, background_backend="u2net-tiny")
    from tasks.preprocess.backends import background_backend
    from tasks.preprocess.garment import prepare_garment
    from tests.conftest import GARMENTS

    masker = background_backend(settings)
    assert masker.backend == "rembg-u2net-onnx:u2net-tiny@tiny+opencv-border-grabcut-v5+combine-v3"
    image = decode_rgb(GARMENTS["TEE-00055"][0].read_bytes())
    probability = masker.model.probability(image)
    assert probability.shape == image.shape[:2] and 0 <= probability.min() <= probability.max() <= 1
    mask = masker(image).mask
    assert mask.shape == image.shape[:2] and mask.dtype == bool and mask.any()
    garment = prepare_garment(image, masker)
    assert garment.backend == masker.backend and garment.cloth.shape == (1024, 768, 3)
    assert sorted(p.name for p in (settings.resolved_model_dir / "rembg").iterdir()) == ["u2net.onnx"], "nothing else fetched"


def test_the_models_run_where_the_device_setting_puts_them(onnx_settings):
    """TRYON_DEVICE places every ONNX backend: CUDA first where the build has it (``auto``) or
    asked for; a CUDA device this build cannot use is refused at once, naming the setting; on the
    CPU a session takes one thread when the process spreads its items over several. Each backend
    says where it runs, as the stage records keep it."""
    from tasks.preprocess.backends import model_devices
    from tasks.preprocess.onnx_runtime import CPU, CUDA, DeviceUnavailable, placement

    two, one = Settings(cpu_threads=2), Settings(cpu_threads=1)
    assert placement(two, [CPU]).providers == [CPU] and placement(two, [CPU]).intra_op_threads == 1
    assert placement(one, [CPU]).intra_op_threads == 0, "alone, a session takes every core"
    assert placement(two, [CUDA, CPU]).providers == [(CUDA, {"device_id": 0}), CPU]
    assert placement(Settings(device="cuda:1"), [CUDA, CPU]).providers[0] == (CUDA, {"device_id": 1})
    assert placement(Settings(device="cpu"), [CUDA, CPU]).providers == [CPU]
    # calls gathered into batches on CUDA, one image a call on the CPU (where batches buy nothing)
    assert placement(two, [CUDA, CPU]).batch == 16 and placement(two, [CPU]).batch == 1
    assert placement(Settings(model_batch=4), [CPU]).batch == 4
    with pytest.raises(DeviceUnavailable, match="TRYON_DEVICE=cuda: this onnxruntime build has no CUDA provider"):
        placement(Settings(device="cuda"), [CPU])

    threaded = onnx_settings.model_copy(update={"cpu_threads": 2})
    session = parsing_backend(threaded)._session
    assert session.get_providers() == [CPU] and session.get_session_options().intra_op_num_threads == 1
    assert model_devices(threaded, "pose", "parsing", "embedding") == "pose cpu, parsing cpu, embedding cpu"
    with pytest.raises(DeviceUnavailable):
        parsing_backend(threaded.model_copy(update={"device": "cuda"}))


def test_calls_from_many_threads_are_gathered_into_batches():
    """BatchGatherer: a full batch runs at once for every caller; fewer than a batch run after the
    wait; a batch that fails fails every caller with its error; a batch of 1 runs each call alone."""
    from concurrent.futures import ThreadPoolExecutor

    from tasks.preprocess.onnx_runtime import BatchGatherer

    runs = []

    def run(items):
        runs.append(sorted(items))
        return [item * 10 for item in items]

    assert list(ThreadPoolExecutor(3).map(BatchGatherer(run, 3, wait_s=60), [1, 2, 3])) == [10, 20, 30]
    assert runs == [[1, 2, 3]]
    assert BatchGatherer(run, 3, wait_s=0.05)(4) == 40 and runs[-1] == [4], "alone, it runs after the wait"
    assert BatchGatherer(run, 1)(5) == 50 and runs[-1] == [5]

    def broken(items):
        raise RuntimeError("the model is down")

    failing = BatchGatherer(broken, 2, wait_s=60)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(failing, item) for item in (1, 2)]
        for future in futures:
            with pytest.raises(RuntimeError, match="the model is down"):
                future.result()
