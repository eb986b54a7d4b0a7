"""TRYON_ENGINE=ladi-vton makes garment_drop generate with LaDI-VTON: a real Airflow run over
the embedded S3 API, a registry of random weights in the published layout (small
configuration), three categories. Random weights are a preview: nothing reaches the
storefront; the same weights registered as a released model publish what passes QC."""

import numpy as np
import pytest

from tasks.catalog.plans import generation_seed
from tasks.context import RunContext
from tasks.credentials import TRAINED_COMPOSITE, read_credentials
from tasks.images import decode_rgb
from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
from tasks.review.decisions import regenerate
from tasks.settings import Settings
from tests.conftest import TEST_SIGNING, prepare_drops, released_registry, size_only_suite, upload_drop
from tests.test_garment_drop_dag import generation_objects, run_tryon

DATE, LATER = "2026-11-19", "2026-11-21"
SKUS = ["TEE-03032", "JEANS-051946", "DRESS-052234"]
PHOTOS = ["049205_0.jpg", "052472_0.jpg"]
pytestmark = pytest.mark.airflow


def test_garment_drop_runs_ladi_vton_and_a_released_model_publishes_what_passes_qc(s3_endpoint, tmp_path):
    """Random weights first (three categories, re-run, re-generation), then, in the same bucket,
    the same weights released in the registry on a later drop."""
    registry = save_published_layout(random_components(SMALL, seed=2), tmp_path / "weights", SMALL)
    settings = Settings(bucket="ladi-run", s3_endpoint_url=s3_endpoint, ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    # the library preprocessed in this process: the model_library DAG has tests of its own
    ctx = prepare_drops(settings, {DATE: tuple(SKUS)}, PHOTOS)
    store = ctx.store
    env = {
        "TRYON_ENGINE": "ladi-vton",
        "TRYON_MODEL_REGISTRY": str(registry),
        "TRYON_INFERENCE_STEPS": "2",
        "TRYON_PHOTOS_PER_GARMENT": "1",
    }
    run = run_tryon(settings, "run", "--date", DATE, **env)
    assert run.returncode == 0 and "garment_drop run state: success" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]

    generations = ctx.ledger.generations(DATE)
    assert sorted(g.category for g in generations) == ["dresses", "lower_body", "upper_body"]
    for g in generations:
        assert g.state == "flagged", (g.state, g.reason)
        assert g.engine == "ladi-vton" and g.model_version == "ladi-vton-vitonhd-random-weights"
        assert g.seed == generation_seed(g.generation_id), "the seed derives from the generation id"
        sidecar = store.get_json(f"generations/{g.model_version}/{g.sku}/{g.photo_id}/{g.generation_id}.json")
        assert sidecar["engine"] == "ladi-vton" and sidecar["baseline"] is False
        assert sidecar["licence"] == "CC BY-NC 4.0" and len(sidecar["weights"]) == 6
        assert sidecar["weights_sha256"] == g.weights_sha256 and sidecar["seed"] == g.seed
        assert sidecar["parameters"]["steps"] == 2 and sidecar["parameters"]["scheduler"] == "ddim"
        assert sidecar["detail"]["precision"] == "float32" and sidecar["detail"]["samples_per_call"] >= 1
        assert sidecar["released"] is False and "random weights" in sidecar["release_note"]
    assert store.get_json(f"storefront/manifests/{DATE}.json")["items"] == [], "random weights never reach the storefront"
    assert not list(store.list_keys("storefront/TEE-03032/"))
    summary = store.get_json(f"reports/{DATE}/summary.json")
    assert [m["released"] for m in summary["models"]] == [False] and "random weights" in summary["models"][0]["note"]
    # each try-on task records its engine's figures; `tryon run` (dag.test) runs every task in one
    # process, so the weights are loaded once for the run (a Celery worker loads them per task)
    tasks = summary["tryon_tasks"]
    assert tasks and sum(t["generated"] for t in tasks) == len(generations), (tasks, run.stdout[-4000:] + run.stderr[-4000:])
    assert sum(t["engine_loads"] for t in tasks) == 1 and sum(t["load_seconds"] for t in tasks) > 0
    for t in tasks:
        assert t["engine_seconds"] > 0, t
        assert t["seconds_per_generation"] == pytest.approx(t["engine_seconds"] / t["generated"], abs=1e-3)
    assert 'id="tryon-tasks"' in store.get_bytes(f"reports/{DATE}/report.html").decode()
    written = generation_objects(store)
    assert len(written) == 2 * len(generations)

    again = run_tryon(settings, "run", "--date", DATE, **env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert generation_objects(store) == written, "a re-run reproduces ids and writes nothing again"

    # a reviewer asks for a re-generation: the next run of the date makes it with the new seed
    ladi = RunContext.from_settings(settings.model_copy(update={"model_registry": registry, "engine": "ladi-vton"}))
    old = generations[0]
    new_id = regenerate(ladi, old.generation_id, "bob")
    rerun = run_tryon(settings, "run", "--date", DATE, **env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    new = {g.generation_id: g for g in ladi.ledger.generations(DATE)}[new_id]
    assert new.seed != old.seed and new.state == "flagged" and (new.sku, new.photo_id) == (old.sku, old.photo_id)
    assert not np.array_equal(decode_rgb(store.get_bytes(new.object_key)), decode_rgb(store.get_bytes(old.object_key)))

    # The publish policy: the same weights released in the registry put the QC-passed generations
    # of a later drop in the storefront. QC here is a size-only suite (TRYON_QC_EXPECTATIONS), so
    # that the policy, not QC, is what decides.
    released = released_registry(registry, "1.0-test")
    upload_drop(ctx, LATER, ("TEE-00055",), ())  # another garment: the same bytes again would be a duplicate
    env |= {"TRYON_MODEL_REGISTRY": str(released), "TRYON_QC_EXPECTATIONS": str(size_only_suite(tmp_path))}
    run = run_tryon(settings, "run", "--date", LATER, **env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "released model" in run.stdout
    (generation,) = ctx.ledger.generations(LATER)
    assert generation.state == "published" and generation.model_version == "ladi-vton-vitonhd-1.0-test"
    manifest = store.get_json(f"storefront/manifests/{LATER}.json")
    assert [i["generation_id"] for i in manifest["items"]] == [generation.generation_id]
    assert store.exists(manifest["items"][0]["key"])
    # every storefront JPEG carries its signed Content Credentials and the IPTC digital source type
    jpegs = [k for k in store.list_keys("storefront/") if k.endswith(".jpg")]
    assert jpegs == [manifest["items"][0]["key"]]
    for key in jpegs:
        image = store.get_bytes(key)
        found = read_credentials(image, TEST_SIGNING.ca_pem)
        assert found.state == "Trusted" and found.signer == "tryon test signer", found
        assert found.actions == ["c2pa.created", "c2pa.edited"] and found.ingredients == [
            f"model photo {generation.photo_id}",
            "garment TEE-00055",
        ]
        assert b"<Iptc4xmpExt:DigitalSourceType>" + TRAINED_COMPOSITE.encode() in image
    summary = store.get_json(f"reports/{LATER}/summary.json")
    assert summary["credentials"]["by_state"] == {"Valid": 1} and summary["credentials"]["signers"] == ["tryon test signer"]
    assert [(m["released"], m["model_version"]) for m in summary["models"]] == [(True, "ladi-vton-vitonhd-1.0-test")]
