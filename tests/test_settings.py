from pathlib import Path

import pytest
from pydantic import ValidationError

from tasks.settings import Settings


def test_defaults_describe_the_embedded_default(monkeypatch, tmp_path):
    for key in ("TRYON_HOME", "TRYON_BUCKET", "TRYON_S3_ENDPOINT_URL", "TRYON_LEDGER_URL", "TRYON_ENGINE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.home == (tmp_path / ".tryon").resolve()
    assert settings.bucket == "tryon"
    assert settings.s3_endpoint_url is None
    assert settings.resolved_ledger_url == f"sqlite:///{tmp_path.resolve() / '.tryon' / 'ledger.db'}"
    assert settings.resolved_model_dir == (tmp_path / ".tryon" / "models").resolve()
    assert settings.engine == "warp-baseline"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("TRYON_HOME", str(tmp_path))
    monkeypatch.setenv("TRYON_BUCKET", "catalog")
    monkeypatch.setenv("TRYON_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("TRYON_LEDGER_URL", "postgresql+psycopg2://postgres@127.0.0.1/ledger")
    monkeypatch.setenv("TRYON_MODEL_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TRYON_PHOTOS_PER_GARMENT", "5")
    monkeypatch.setenv("TRYON_SEED", "42")
    settings = Settings()
    assert (settings.bucket, settings.s3_endpoint_url) == ("catalog", "http://127.0.0.1:9000")
    assert settings.resolved_ledger_url.startswith("postgresql")
    assert settings.resolved_model_dir == Path(tmp_path / "weights")
    assert (settings.photos_per_garment, settings.seed) == (5, 42)


@pytest.mark.parametrize("key, value", [("TRYON_PHOTOS_PER_GARMENT", "0"), ("TRYON_BATCH_SIZE", "many"), ("TRYON_SEED", "-1")])
def test_bad_values_are_refused_with_the_setting_named(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=key.removeprefix("TRYON_").lower()):
        Settings()


def test_an_empty_variable_means_unset(monkeypatch, tmp_path):
    """compose's `${TRYON_MODEL_REGISTRY:-}` and a Kubernetes ConfigMap's "" must not become
    Path('.') (a registry in the working folder) or an empty endpoint."""
    monkeypatch.chdir(tmp_path)
    for key in (
        "TRYON_MODEL_REGISTRY",
        "TRYON_S3_ENDPOINT_URL",
        "TRYON_LEDGER_URL",
        "TRYON_REVIEWERS",
        "TRYON_GPU_NODE_SELECTOR",
    ):
        monkeypatch.setenv(key, "")
    settings = Settings()
    assert (settings.model_registry, settings.s3_endpoint_url, settings.ledger_url) == (None, None, None)
    assert settings.reviewers == {} and settings.gpu_node_selector == {}


def test_a_copy_pointed_elsewhere_resolves_to_its_own_ledger_and_models(tmp_path):
    """``model_copy(update=...)`` (how a test or a command derives settings for another bucket,
    home or ledger) resolves the copy's own ledger and model folder, not the values the
    original had already resolved."""
    first = Settings(home=tmp_path / "a")
    assert first.resolved_ledger_url.endswith("a/ledger.db") and first.resolved_model_dir.name == "models"
    other = first.model_copy(update={"home": tmp_path / "b"})
    assert other.resolved_ledger_url == f"sqlite:///{tmp_path / 'b' / 'ledger.db'}"
    assert other.resolved_model_dir == (tmp_path / "b" / "models").resolve()
    assert first.model_copy(update={"ledger_url": "postgresql://x/y"}).resolved_ledger_url == "postgresql://x/y"
