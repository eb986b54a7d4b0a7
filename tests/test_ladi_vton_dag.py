"""TRYON_ENGINE=ladi-vton makes garment_drop generate with LaDI-VTON: a real Airflow run over
the embedded S3 API, a registry of random weights in the published layout (small
configuration), three categories."""

import pytest

from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
from tasks.ledger import Ledger
from tasks.match import generation_seed
from tasks.settings import Settings
from tasks.storage import ObjectStore
from tests.conftest import GARMENTS, SAMPLES
from tests.test_garment_drop_dag import generation_objects, run_tryon

DATE = "2026-11-19"
SKUS = ["TEE-03032", "JEANS-051946", "DRESS-052234"]
PHOTOS = ["049205_0.jpg", "052472_0.jpg"]
pytestmark = pytest.mark.airflow


def test_garment_drop_runs_ladi_vton(s3_endpoint, tmp_path):
    registry = save_published_layout(random_components(SMALL, seed=2), tmp_path / "weights", SMALL)
    settings = Settings(bucket="ladi-run", s3_endpoint_url=s3_endpoint, ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    store = ObjectStore.from_settings(settings)
    store.ensure_bucket()
    for sku in SKUS:
        path, category = GARMENTS[sku]
        store.put_bytes(f"drops/{DATE}/{sku}/front.jpg", path.read_bytes())
        store.put_json(f"drops/{DATE}/{sku}/meta.json", {"category": category})
    for photo in PHOTOS:
        store.put_bytes(f"library/photos/{photo}", (SAMPLES / "library" / photo).read_bytes())
    env = {"TRYON_ENGINE": "ladi-vton", "TRYON_MODEL_REGISTRY": str(registry), "TRYON_INFERENCE_STEPS": "2",
           "TRYON_PHOTOS_PER_GARMENT": "1"}
    library = run_tryon(settings, "library", "build", **env)
    assert library.returncode == 0, library.stdout[-3000:] + library.stderr[-3000:]
    run = run_tryon(settings, "run", "--date", DATE, **env)
    assert run.returncode == 0 and "garment_drop run state: success" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]

    generations = Ledger(settings.resolved_ledger_url).generations(DATE)
    assert sorted(g.category for g in generations) == ["dresses", "lower_body", "upper_body"]
    for g in generations:
        assert g.state in ("published", "flagged"), (g.state, g.reason)
        assert g.engine == "ladi-vton" and g.model_version == "ladi-vton-vitonhd-random-weights"
        assert g.seed == generation_seed(g.generation_id), "the seed derives from the generation id"
        sidecar = store.get_json(f"generations/{g.model_version}/{g.sku}/{g.photo_id}/{g.generation_id}.json")
        assert sidecar["engine"] == "ladi-vton" and sidecar["baseline"] is False
        assert sidecar["licence"] == "CC BY-NC 4.0" and len(sidecar["weights"]) == 6
        assert sidecar["weights_sha256"] == g.weights_sha256 and sidecar["seed"] == g.seed
        assert sidecar["parameters"]["steps"] == 2 and sidecar["parameters"]["scheduler"] == "ddim"
        assert sidecar["detail"]["precision"] == "float32" and sidecar["detail"]["samples_per_call"] >= 1
    written = generation_objects(store)
    assert len(written) == 2 * len(generations)

    again = run_tryon(settings, "run", "--date", DATE, **env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert generation_objects(store) == written, "a re-run reproduces ids and writes nothing again"
