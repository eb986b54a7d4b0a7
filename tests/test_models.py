"""The model registry: file:// and s3:// weights, verified by sha256, cached locally."""

import hashlib

import pytest
import yaml

from tasks.models import ModelRegistryError, load_registry, local_path, lookup


def _registry(path, uri, sha256):
    path.write_text(
        yaml.safe_dump(
            {"models": {"tiny": {"backend": "schp-onnx", "uri": uri, "sha256": sha256, "licence": "test-only", "version": "1"}}}
        )
    )
    return path


def test_s3_weights_are_copied_once_into_the_cache_and_verified(ctx, tmp_path, monkeypatch):
    data = b"weights" * 3_000_000  # 21 MB: over boto3's multipart threshold, fetched in ranged parts
    ctx.store.put_bytes("weights/tiny.onnx", data)

    def whole_object(*args, **kwargs):
        raise AssertionError("weights are streamed to the cache file, never read whole into memory")

    monkeypatch.setattr(type(ctx.store), "get_bytes", whole_object)
    registry = _registry(
        tmp_path / "models.yaml", f"s3://{ctx.settings.bucket}/weights/tiny.onnx", hashlib.sha256(data).hexdigest()
    )
    settings = ctx.settings.model_copy(update={"model_registry": registry})
    entry = lookup(settings, "tiny", "schp-onnx")
    path = local_path(settings, entry)
    assert path == settings.resolved_model_dir / "tiny" / "tiny.onnx" and path.read_bytes() == data
    ctx.store.put_bytes("weights/tiny.onnx", b"changed upstream")
    assert local_path(settings, entry).read_bytes() == data, "the cached copy is used"
    assert not list(path.parent.glob("*.partial")), "no partial copy is left behind"
    path.write_bytes(b"corrupted on disk")
    with pytest.raises(ModelRegistryError, match="sha256"):
        local_path(settings, entry)


def test_registry_entries_need_their_fields(tmp_path):
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"models": {"x": {"backend": "schp-onnx", "uri": "file:///x"}}}))
    with pytest.raises(ModelRegistryError, match="lacks sha256, licence"):
        load_registry(tmp_path / "models.yaml")


def test_unsupported_uri_and_missing_registry(settings, tmp_path):
    with pytest.raises(ModelRegistryError, match="no model registry file"):
        lookup(settings, "tiny", "schp-onnx")
    registry = _registry(tmp_path / "models.yaml", "https://example.invalid/x.onnx", "0" * 64)
    settings = settings.model_copy(update={"model_registry": registry})
    with pytest.raises(ModelRegistryError, match="unsupported URI"):
        local_path(settings, lookup(settings, "tiny", "schp-onnx"))


def test_random_weights_can_never_be_released(tmp_path):
    from tasks.models import ModelRegistryError, load_registry

    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    entry = {"backend": "u2net-onnx", "uri": weights.as_uri(), "sha256": "0" * 64, "licence": "MIT"}
    registry = tmp_path / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": {"a": {**entry, "released": True}, "b": entry}}))
    entries = load_registry(registry)
    assert entries["a"].released and not entries["b"].released and not entries["b"].random_weights
    registry.write_text(yaml.safe_dump({"models": {"a": {**entry, "released": True, "random_weights": True}}}))
    with pytest.raises(ModelRegistryError, match="holds random weights and cannot be released"):
        load_registry(registry)
    registry.write_text(yaml.safe_dump({"models": {"a": {**entry, "released": "yes"}}}))
    with pytest.raises(ModelRegistryError, match="released must be true or false"):
        load_registry(registry)
