"""Tiny ONNX models with the input/output signatures of the operator-provided ones (SCHP
parsing, SimCC pose, CLIP-style image tower), built with onnx.helper for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def schp_parser(path: Path, seed: int = 0) -> Path:
    """(1, 3, 512, 512) -> 1x1 conv -> (1, 18, 128, 128) logits (SCHP outputs at 1/4)."""
    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(rng.normal(size=(18, 3, 1, 1)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=(18,)).astype(np.float32), "b")
    nodes = [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["pooled", "w", "b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_schp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 18, 128, 128])],
        [weight, bias],
    )
    return _save(graph, path)


def simcc_pose(path: Path, peaks_x: np.ndarray, peaks_y: np.ndarray) -> Path:
    """(1, 3, 256, 192) -> simcc_x (1, 17, 384), simcc_y (1, 17, 512) that peak at the given
    bins whatever the image (the input only enters through a zero-weighted term), so the
    decoding can be checked against known coordinates."""
    x_logits = np.full((1, 17, 384), 0.01, np.float32)
    y_logits = np.full((1, 17, 512), 0.01, np.float32)
    x_logits[0, np.arange(17), peaks_x] = 0.9
    y_logits[0, np.arange(17), peaks_y] = 0.8
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["x_logits", "nothing"], ["simcc_x"]),
        helper.make_node("Add", ["y_logits", "nothing"], ["simcc_y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_simcc",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 256, 192])],
        [
            helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [1, 17, 384]),
            helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [1, 17, 512]),
        ],
        [
            numpy_helper.from_array(x_logits, "x_logits"),
            numpy_helper.from_array(y_logits, "y_logits"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        ],
    )
    return _save(graph, path)


def image_tower(path: Path, dim: int = 32, seed: int = 0) -> Path:
    """(1, 3, 224, 224) -> global average pool -> linear -> (1, dim)."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("GlobalAveragePool", ["pixel_values"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w", "b"], ["image_embeds"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_clip",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, [1, dim])],
        [
            numpy_helper.from_array(rng.normal(size=(3, dim)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.normal(size=(dim,)).astype(np.float32), "b"),
        ],
    )
    return _save(graph, path)


def registry(path: Path, entries: dict[str, tuple[str, Path]]) -> Path:
    """A model registry YAML naming each (backend, file) with its real sha256."""
    import yaml

    from tasks.models import file_sha256

    models = {
        name: {
            "backend": backend,
            "uri": f"file://{file}",
            "sha256": file_sha256(file),
            "licence": "test-only",
            "version": "tiny",
        }
        for name, (backend, file) in entries.items()
    }
    path.write_text(yaml.safe_dump({"models": models}))
    return path


def u2net(path: Path, seed: int = 0) -> Path:
    """(1, 3, 320, 320) -> (1, 1, 320, 320) saliency, as rembg's u2net_custom session expects
    (it reads the first output's first channel): a 1x1 conv and a sigmoid."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("Conv", ["input.1", "w", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["d0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_u2net",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("d0", TensorProto.FLOAT, [1, 1, 320, 320])],
        [
            numpy_helper.from_array(rng.normal(size=(1, 3, 1, 1)).astype(np.float32), "w"),
            numpy_helper.from_array(np.zeros(1, np.float32), "b"),
        ],
    )
    return _save(graph, path)
