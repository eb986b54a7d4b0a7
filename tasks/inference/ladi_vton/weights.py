"""Reading the published LaDI-VTON weights safely and loading them strictly.

Files are read with ``torch.load(weights_only=True)`` (plain tensors and containers, never
arbitrary pickled objects) or from safetensors. A state dict loads only if every key and
every shape matches the module; otherwise the error names the keys that differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tasks.models import ModelRegistryError

WARPING_PARTS = ("tps", "refinement")
_LISTED = 8


class WeightsError(ModelRegistryError):
    """A weights file cannot be read, or does not fit the module it is meant for."""


def read_weights(path: Path, device: str = "cpu") -> dict[str, Any]:
    """The file's top-level dict (tensors, or for the warping file sub-dicts of tensors).
    safetensors are read straight onto ``device`` (no host copy of a GPU's weights); a torch
    file is memory-mapped and moved with the module."""
    try:
        if path.suffix == ".safetensors":
            return dict(load_file(str(path), device=device))
        try:  # memory-mapped: a multi-GB state dict is not copied into RAM before it is assigned
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)  # legacy (pre-zip) format
    except Exception as error:  # pickle refusing a non-tensor object lands here too
        raise WeightsError(f"{path.name}: cannot be read as weights ({type(error).__name__}: {error})") from error
    if not isinstance(data, Mapping):
        raise WeightsError(f"{path.name}: holds a {type(data).__name__}, not a state dict")
    return dict(data)


def sub_state_dict(weights: Mapping[str, Any], part: str, source: str) -> dict[str, torch.Tensor]:
    """``weights[part]`` of a nested (``.pth``) file or the ``part.``-prefixed keys of a flat
    (safetensors) one."""
    nested = weights.get(part)
    if isinstance(nested, Mapping):
        return dict(nested)
    prefix = part + "."
    flat = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
    if not flat:
        raise WeightsError(f"{source}: has no {part!r} state dict (keys: {', '.join(sorted(weights)[:_LISTED])})")
    return flat


def _listed(keys: list[str]) -> str:
    more = f" and {len(keys) - _LISTED} more" if len(keys) > _LISTED else ""
    return ", ".join(keys[:_LISTED]) + more


def check_state_dict(module: nn.Module, state: Mapping[str, Any], source: str) -> None:
    """Raise ``WeightsError`` naming every missing key, unexpected key and wrong shape."""
    expected = module.state_dict()
    problems = []
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    not_tensors = sorted(k for k in set(state) & set(expected) if not isinstance(state[k], torch.Tensor))
    if not_tensors:
        problems.append(f"not tensors: {_listed(not_tensors)}")
    shapes = [
        f"{k} is {list(state[k].shape)} in the file, {list(expected[k].shape)} in the model"
        for k in sorted(set(state) & set(expected))
        if k not in not_tensors and state[k].shape != expected[k].shape
    ]
    if shapes:
        problems.append(f"wrong shapes: {_listed(shapes)}")
    if problems:
        raise WeightsError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))


def load_strict(module: nn.Module, state: Mapping[str, Any], source: str) -> nn.Module:
    """Load ``state`` into ``module`` (built on the meta device or not) and return it in eval mode."""
    check_state_dict(module, state, source)
    module.load_state_dict(dict(state), strict=True, assign=True)
    left = [name for name, tensor in [*module.named_parameters(), *module.named_buffers()] if tensor.is_meta]
    if left:
        raise WeightsError(f"{source}: {type(module).__name__} still has unloaded tensors: {_listed(left)}")
    return module.eval()


@dataclass(frozen=True)
class Converted:
    tensors: int  # written
    dropped: list[str]  # non-tensor bookkeeping left out (``epoch``)


def convert_to_safetensors(source: Path, target: Path) -> Converted:
    """Write ``source`` (a published ``.pth``) as safetensors; nested dicts (the warping file's
    ``tps`` and ``refinement``) become ``part.key`` names. Non-tensor bookkeeping (``epoch``) is
    dropped and reported."""
    weights = read_weights(source)
    flat: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    for key, value in weights.items():
        if isinstance(value, torch.Tensor):
            flat[key] = value
        elif isinstance(value, Mapping):
            for sub, tensor in value.items():
                if isinstance(tensor, torch.Tensor):
                    flat[f"{key}.{sub}"] = tensor
                else:
                    dropped.append(f"{key}.{sub}")
        else:
            dropped.append(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    save_file({k: v.contiguous().clone() for k, v in flat.items()}, str(partial), metadata={"source": source.name})
    partial.replace(target)
    return Converted(len(flat), dropped)
