"""Which pose, parsing, background and embedding backend the settings ask for, built once per
process. Offline defaults (mediapipe, the fallback parser, colour-texture embeddings) need no
weights; the garment background's default is the shipped U2-Net-p combined with the classical
border cut; the other ONNX backends load operator-provided weights named in the model registry.
Each ONNX backend runs where ``onnx_runtime.placement`` puts it, and says where (``device``)."""

from __future__ import annotations

import functools

from tasks.models import local_path, lookup
from tasks.preprocess.onnx_runtime import placement
from tasks.settings import Settings


@functools.cache
def _build(kind: str, name: str, settings_json: str):
    settings = Settings.model_validate_json(settings_json)
    onnx = placement(settings)
    if kind == "pose":
        if name == "mediapipe":
            from tasks.preprocess.pose import ThreadsPose

            return ThreadsPose()
        from tasks.preprocess.pose import OnnxSimccPose

        entry = lookup(settings, name, "rtmpose-onnx")
        return OnnxSimccPose(local_path(settings, entry), f"{entry.name}@{entry.version}", onnx)
    if kind == "parsing":
        from tasks.preprocess.parsing import FallbackParser, SCHPOnnxParser

        if name == "fallback":
            return FallbackParser()
        entry = lookup(settings, name, "schp-onnx")
        return SCHPOnnxParser(local_path(settings, entry), f"{entry.name}@{entry.version}", onnx)
    if kind == "background":
        from tasks.preprocess.garment_mask import CombinedMasker, OpenCVMasker, U2NetMasker

        if name == "opencv":
            return OpenCVMasker()
        entry = lookup(settings, name, "u2net-onnx")
        return CombinedMasker(
            U2NetMasker(local_path(settings, entry), f"{entry.name}@{entry.version}", settings.resolved_model_dir / "rembg", onnx)
        )
    from tasks.preprocess.embedding import ColourTextureEmbedder, OnnxImageEmbedder

    if name == "colour-texture":
        return ColourTextureEmbedder()
    entry = lookup(settings, name, "clip-image-onnx")
    return OnnxImageEmbedder(local_path(settings, entry), f"{entry.name}@{entry.version}", onnx)


def pose_backend(settings: Settings):
    return _build("pose", settings.pose_backend, _key(settings))


def parsing_backend(settings: Settings):
    return _build("parsing", settings.parsing_backend, _key(settings))


def background_backend(settings: Settings):
    return _build("background", settings.background_backend, _key(settings))


def embedding_backend(settings: Settings):
    return _build("embedding", settings.embedding_backend, _key(settings))


def _key(settings: Settings) -> str:
    """Settings as a cache key: only what the backends read."""
    return settings.model_dump_json(
        include={
            "model_registry",
            "model_dir",
            "home",
            "s3_endpoint_url",
            "s3_region",
            "s3_max_attempts",
            "device",
            "cpu_threads",
            "model_batch",
        }
    )


def model_devices(settings: Settings, *kinds: str) -> str:
    """Where each of these backends (``pose``, ``parsing``, ``background``, ``embedding``) runs,
    ``cpu`` or ``cuda``, in words (``background cuda, embedding cpu``): what a task logs and a
    stage keeps in its record."""
    built = {"pose": pose_backend, "parsing": parsing_backend, "background": background_backend, "embedding": embedding_backend}
    return ", ".join(f"{kind} {built[kind](settings).device}" for kind in kinds)
