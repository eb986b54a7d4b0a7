"""The evaluation metrics.

FID and KID are torchmetrics' (pinned in requirements.txt): a kept library with the
standard definitions (KID's unbiased MMD estimator with the cubic polynomial kernel, averaged over
random subsets with its standard deviation), and the one of the candidates that needs neither
torchvision nor a download: torch-fidelity, clean-fid, piq and the lpips package all import
torchvision, which has no CPU build here. torchmetrics computes FID and KID from features given
to it; the features come from the feature network of ``tasks.evaluation.features`` (Inception-v3
from the model registry), extracted here in batches and handed over through an identity module.

LPIPS is computed here (``Lpips``) because torchmetrics' own needs torchvision's AlexNet: the
definition of Zhang et al. 2018 (v0.1) over an AlexNet trunk from the registry and the linear
heads the ``lpips`` wheel ships (``tasks.shipped_models``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

KID_SUBSET_SIZE = 1000  # torchmetrics' default; smaller sets use every image in each subset
KID_SUBSETS = 100


class _Given(nn.Module):
    """Features passed through: torchmetrics' FID and KID over features computed elsewhere."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def _as_tensor(features: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(features, np.float64))


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets ((N, D) each, N >= 2)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Given(real.shape[1]))
    metric.update(_as_tensor(real), real=True)
    metric.update(_as_tensor(fake), real=False)
    return float(metric.compute())


@dataclass(frozen=True)
class Kid:
    mean: float
    std: float  # over the subsets
    subset_size: int
    subsets: int


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> Kid:
    """Kernel Inception Distance: the unbiased MMD² with k(x, y) = (x·y / D + 1)³, averaged over
    ``subsets`` random subsets of ``subset_size`` (capped at the smaller set; at least 2)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images on each side, got {len(real)} real and {len(fake)} generated")
    with warnings.catch_warnings():  # its note that it keeps every feature: ours are a few hundred rows
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=_Given(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(_as_tensor(real), real=True)
    metric.update(_as_tensor(fake), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return Kid(float(mean), float(std), size, subsets)


def _masked_mean(values: np.ndarray, mask: np.ndarray | None) -> float | None:
    if mask is None:
        return float(values.mean())
    return float(values[mask].mean()) if mask.any() else None


@dataclass(frozen=True)
class Pairwise:
    whole: float
    masked: float | None  # over the inpaint region only (None: an empty region)


def ssim(output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> Pairwise:
    """SSIM of two RGB uint8 images (Gaussian window 11, sigma 1.5, the usual constants), the mean
    over the image and over ``mask``: scikit-image's per-pixel map, averaged over the channels and
    cropped by the window's half-width on each side (as its own mean is). torchmetrics' SSIM gave
    the same figures at 5-9 s per 1024x768 pair on this machine's CPU; this takes under a second."""
    from skimage.metrics import structural_similarity

    _, full = structural_similarity(
        output,
        reference,
        channel_axis=2,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    pad = 5  # (11 - 1) // 2
    values = full.mean(2)[pad:-pad, pad:-pad]
    return Pairwise(float(values.mean()), _masked_mean(values, None if mask is None else mask[pad:-pad, pad:-pad]))


SHIFT = (-0.030, -0.088, -0.188)  # LPIPS v0.1's input scaling (ImageNet statistics in [-1, 1])
SCALE = (0.458, 0.448, 0.450)
ALEXNET_TAPS = (1, 4, 7, 9, 11)  # the ReLUs after each convolution of AlexNet's trunk
ALEXNET_CHANNELS = (64, 192, 384, 256, 256)


def alexnet_trunk() -> nn.Sequential:
    """AlexNet's convolutional trunk in torchvision's layout (its ``features.*`` weights load as
    they are)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(),
    )


class Lpips(nn.Module):
    """LPIPS v0.1 with AlexNet: each tapped layer's features unit-normalised along channels, the
    squared difference weighted per channel by the linear head, averaged over space (or upsampled
    to the image for a per-pixel map), summed over layers."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, features: nn.Sequential, heads: list[torch.Tensor]) -> None:
        super().__init__()
        self.features = features.eval()
        self.heads = [h.reshape(1, -1, 1, 1).float() for h in heads]
        self.register_buffer("shift", torch.tensor(SHIFT).reshape(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).reshape(1, 3, 1, 1))

    def taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The tapped layers of (N, 3, H, W) images in [-1, 1]."""
        x, out = (images - self.shift) / self.scale, []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in ALEXNET_TAPS:
                out.append(x)
        return out

    def differences(self, a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
        """Per tapped layer, (N, 1, h, w): the head-weighted squared difference of the unit-normalised
        features of two (N, 3, H, W) batches in [-1, 1]."""
        layers = []
        for fa, fb, head in zip(self.taps(a), self.taps(b), self.heads, strict=True):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            layers.append(((na - nb).pow(2) * head).sum(1, keepdim=True))
        return layers

    @torch.inference_mode()
    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(N,): LPIPS as defined, each layer averaged over its own grid."""
        return torch.stack([layer.mean((1, 2, 3)) for layer in self.differences(a, b)]).sum(0)

    @torch.inference_mode()
    def distance_map(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(N, H, W): the per-pixel LPIPS (each layer upsampled to the image, summed)."""
        size = a.shape[-2:]
        return torch.stack(
            [
                nn.functional.interpolate(layer, size=size, mode="bilinear", align_corners=False)[:, 0]
                for layer in self.differences(a, b)
            ]
        ).sum(0)

    def compare(self, output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> Pairwise:
        """LPIPS of two RGB uint8 images, whole and over ``mask`` (the per-pixel map's mean there)."""
        a, b = (torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float() / 127.5 - 1 for x in (output, reference))
        whole = float(self.distance(a, b)[0])
        if mask is None:
            return Pairwise(whole, None)
        return Pairwise(whole, _masked_mean(self.distance_map(a, b)[0].numpy(), mask))
