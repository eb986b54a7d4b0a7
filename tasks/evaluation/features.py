"""The feature networks of the evaluation metrics, from the model registry (nothing is fetched
at run time):

- ``fid-inception-torchscript``: Inception-v3's 2048-d pool features as a TorchScript file
  taking (N, 3, S, S) float pixels in [0, 255] (S from the entry's ``config.input_size``, 299 by
  default; ``config.return_features: true`` for files whose forward takes that flag, as the
  StyleGAN / clean-fid export does). The standard FID network is distributed in this form.
- ``alexnet-safetensors``: AlexNet's convolutional trunk (torchvision's ``features.*`` keys);
  LPIPS weighs its layers with the linear heads the project ships (``lpips-alex-lin``).

``write_random_networks`` writes random-weight stand-ins of the right shapes with registry
entries marked ``random_weights``: what tests and the demo evaluate with here. Their numbers say
nothing about quality; every evaluation records which networks (and hashes) made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tasks.evaluation.metrics import ALEXNET_CHANNELS, Lpips, alexnet_trunk
from tasks.models import ModelEntry, file_sha256, local_path, lookup
from tasks.settings import Settings

INCEPTION_BACKEND = "fid-inception-torchscript"
ALEXNET_BACKEND = "alexnet-safetensors"
LPIPS_HEADS = "lpips-alex-lin"
FEATURES = 2048


@dataclass(frozen=True)
class NetworkInfo:
    """What an evaluation records of a feature network."""

    name: str
    version: str
    sha256: str
    random_weights: bool

    @classmethod
    def of(cls, entry: ModelEntry) -> NetworkInfo:
        return cls(entry.name, entry.version, entry.sha256, entry.random_weights)


class InceptionFeatures:
    """Pool features of RGB uint8 images, in batches."""

    def __init__(self, settings: Settings) -> None:
        entry = lookup(settings, settings.evaluation_inception, INCEPTION_BACKEND)
        self.info = NetworkInfo.of(entry)
        self.size = int(entry.config.get("input_size", 299))
        self.flag = bool(entry.config.get("return_features", False))
        self.network = torch.jit.load(str(local_path(settings, entry)), map_location="cpu").eval()

    @torch.inference_mode()
    def __call__(self, images: list[np.ndarray], batch: int = 16) -> np.ndarray:
        out = []
        for start in range(0, len(images), batch):
            x = torch.stack(
                [torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1) for i in images[start : start + batch]]
            ).float()
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
            features = self.network(x, return_features=True) if self.flag else self.network(x)
            out.append(features.reshape(len(x), -1).double().numpy())
        return np.concatenate(out) if out else np.zeros((0, FEATURES))


def load_lpips(settings: Settings) -> tuple[Lpips, list[NetworkInfo]]:
    """LPIPS with the registry's AlexNet trunk and the shipped heads, and what made it."""
    from safetensors.torch import load_file

    trunk_entry = lookup(settings, settings.evaluation_alexnet, ALEXNET_BACKEND)
    heads_entry = lookup(settings, LPIPS_HEADS, "lpips-linear-heads")
    trunk = alexnet_trunk()
    state = load_file(str(local_path(settings, trunk_entry)))
    trunk.load_state_dict({k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")})
    heads = torch.load(local_path(settings, heads_entry), map_location="cpu", weights_only=True)
    ordered = [heads[f"lin{i}.model.1.weight"] for i in range(len(ALEXNET_CHANNELS))]
    return Lpips(trunk, ordered), [NetworkInfo.of(trunk_entry), NetworkInfo.of(heads_entry)]


class _RandomInception(nn.Module):
    """A small random CNN with Inception-v3's interface: (N, 3, 299, 299) in [0, 255] -> (N, 2048)
    non-negative features. He-initialised so that activations keep their scale through the
    layers, and pooled by mean and spread, so that the features of photos and of noise differ
    (a stand-in that maps every image to one point would make FID 0 for anything)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout in ((3, 32), (32, 64), (64, 128), (128, 256)):
            conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)  # type: ignore[arg-type]  # Conv2d has a bias by default
            layers += [conv, nn.ReLU()]
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(512, FEATURES)
        nn.init.normal_(self.head.weight, std=512**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.trunk(x / 127.5 - 1)
        return torch.relu(self.head(torch.cat([maps.mean((2, 3)), maps.std((2, 3))], 1)))


def write_random_networks(folder: Path, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Random-weight feature networks in ``folder`` and their registry entries (name -> fields)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    inception = folder / "fid-inception-random.pt"
    torch.jit.script(_RandomInception().eval()).save(str(inception))
    alexnet = folder / "alexnet-random.safetensors"
    save_file({f"features.{k}": v.contiguous() for k, v in alexnet_trunk().state_dict().items()}, str(alexnet))
    common = {
        "licence": "random weights (no licence needed; not a quality measure)",
        "version": "random-weights",
        "random_weights": True,
    }
    return {
        "fid-inception-v3": {
            "backend": INCEPTION_BACKEND,
            "uri": inception.as_uri(),
            "sha256": file_sha256(inception),
            "config": {"input_size": 299},
            **common,
        },
        "lpips-alexnet": {"backend": ALEXNET_BACKEND, "uri": alexnet.as_uri(), "sha256": file_sha256(alexnet), **common},
    }
