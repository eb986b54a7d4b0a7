"""The model registry: a YAML file naming each model the operator provides (backend, weights
URI ``file://`` or ``s3://``, sha256, licence, version). Weights are never downloaded from a
hub: ``s3://`` weights are copied once into the local model cache, and every file is checked
against its sha256 before use.

    models:
      schp-atr:
        backend: schp-onnx
        uri: s3://my-bucket/weights/parsing_atr.onnx
        sha256: 4f...
        licence: MIT
        version: "atr-2021"
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

from tasks.settings import Settings


class ModelRegistryError(ValueError):
    """A model is unknown, unreadable or does not match its recorded hash."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    backend: str
    uri: str
    sha256: str
    licence: str
    version: str


def load_registry(path: Path) -> dict[str, ModelEntry]:
    data = yaml.safe_load(path.read_text()) or {}
    entries = {}
    for name, fields in (data.get("models") or {}).items():
        missing = [key for key in ("backend", "uri", "sha256", "licence") if key not in fields]
        if missing:
            raise ModelRegistryError(f"{path}: model {name!r} lacks {', '.join(missing)}")
        entries[name] = ModelEntry(name=name, backend=fields["backend"], uri=fields["uri"], sha256=fields["sha256"].lower(),
                                   licence=fields["licence"], version=str(fields.get("version", "unversioned")))
    return entries


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lookup(settings: Settings, name: str, backend: str) -> ModelEntry:
    if settings.model_registry is None or not settings.model_registry.exists():
        raise ModelRegistryError(f"model {name!r} asked for, but no model registry file (TRYON_MODEL_REGISTRY)")
    entries = load_registry(settings.model_registry)
    if name not in entries:
        raise ModelRegistryError(f"model {name!r} is not in {settings.model_registry} (has: {', '.join(sorted(entries)) or 'none'})")
    entry = entries[name]
    if entry.backend != backend:
        raise ModelRegistryError(f"model {name!r} is a {entry.backend} model, not {backend}")
    return entry


def local_path(settings: Settings, entry: ModelEntry) -> Path:
    """A verified local file for ``entry``: the file itself for ``file://``, the model cache's
    copy for ``s3://`` (fetched once from the configured bucket endpoint)."""
    parsed = urlparse(entry.uri)
    if parsed.scheme == "file":
        path = Path(parsed.path)
    elif parsed.scheme == "s3":
        path = settings.resolved_model_dir / entry.name / Path(parsed.path).name
        if not path.exists():
            from tasks.storage import ObjectStore

            store = ObjectStore.from_settings(settings.model_copy(update={"bucket": parsed.netloc}))
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(path.suffix + ".partial")
            partial.write_bytes(store.get_bytes(parsed.path.lstrip("/")))
            partial.rename(path)
    else:
        raise ModelRegistryError(f"model {entry.name!r}: unsupported URI {entry.uri!r} (file:// or s3://)")
    if not path.exists():
        raise ModelRegistryError(f"model {entry.name!r}: {path} does not exist")
    actual = file_sha256(path)
    if actual != entry.sha256:
        raise ModelRegistryError(f"model {entry.name!r}: sha256 of {path} is {actual}, the registry says {entry.sha256}")
    return path
