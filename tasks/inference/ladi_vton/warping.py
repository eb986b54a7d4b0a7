"""LaDI-VTON's cloth warping: a TPS geometric matching network at 256x192 and a refinement
U-Net. Keys follow the published ``warping_{ds}.pth`` (sub-dicts ``tps`` and ``refinement``).

TPS network: two feature extractors (cloth: 3 channels; agnostic input: masked person 3 + pose
18 = 21), each Conv4x4/2 - ReLU - BN for 64, 128, 256, 512 channels, then Conv3x3 - ReLU - BN
and Conv3x3 - ReLU (sequential indices of the convs 0, 3, 6, 9, 12, 15); channel-wise L2
normalisation (eps 1e-6); correlation into (B, 16*12, 16, 12); regression (``loc_net.regression``)
to 25 control-point offsets (x, y) of a 5x5 grid over [-0.9, 0.9], y-major; a thin-plate-spline
grid generator (``gridGen``, kernel d^2 log d) with buffers ``inverse_kernel``,
``padding_matrix`` and ``target_coordinate_repr``.
"""

from __future__ import annotations

import torch
from torch import nn

GRID_SIZE = 5
GRID_RANGE = 0.9


class FeatureExtractor(nn.Module):
    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for out in (width, width * 2, width * 4, width * 8):
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), nn.ReLU(True), nn.BatchNorm2d(out)]
            channels = out
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(True), nn.BatchNorm2d(channels)]
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(True)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def l2_normalise(features: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return features / torch.sqrt((features**2).sum(dim=1, keepdim=True) + eps)


def correlate(cloth: torch.Tensor, agnostic: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) x 2 -> (B, h*w, h, w): channel k holds the similarity of every agnostic
    position with cloth position k, cloth positions ordered column-major (x slowest)."""
    b, c, h, w = cloth.shape
    cloth_flat = cloth.transpose(2, 3).reshape(b, c, h * w)
    agnostic_flat = agnostic.reshape(b, c, h * w).transpose(1, 2)
    return torch.bmm(agnostic_flat, cloth_flat).reshape(b, h, w, h * w).permute(0, 3, 1, 2)


class ControlPointRegression(nn.Module):
    def __init__(self, in_channels: int = 192, points: int = GRID_SIZE * GRID_SIZE) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 512, 4, stride=2, padding=1),
            nn.BatchNorm2d(512),
            nn.ReLU(True),
            nn.Conv2d(512, 256, 4, stride=2, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
            nn.Conv2d(256, 128, 3, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(True),
            nn.Conv2d(128, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(True),
        )
        self.linear = nn.Linear(64 * 4 * 3, points * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(self.conv(x).flatten(1)))


class LocNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.regression = ControlPointRegression()

    def forward(self, correlation: torch.Tensor) -> torch.Tensor:
        return self.regression(correlation).view(correlation.shape[0], -1, 2)


def target_control_points() -> torch.Tensor:
    """The 5x5 grid over [-0.9, 0.9] as (x, y), y-major (y varies slowest)."""
    steps = torch.linspace(-GRID_RANGE, GRID_RANGE, GRID_SIZE, device="cpu")
    ys, xs = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def _tps_kernel(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """U(d) = d^2 log d = 0.5 d^2 log d^2, 0 at d = 0."""
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return torch.nan_to_num(0.5 * d2 * torch.log(d2), nan=0.0)


class TPSGridGenerator(nn.Module):
    def __init__(self, height: int, width: int, control: torch.Tensor | None = None) -> None:
        super().__init__()
        control = target_control_points() if control is None else control
        n = control.shape[0]
        # constants computed on the CPU even when the module is built on the meta device (they
        # are buffers of the published state dict, which replaces them on loading)
        control = control.to("cpu")
        forward_kernel = torch.zeros(n + 3, n + 3, device="cpu")
        forward_kernel[:n, :n] = _tps_kernel(control, control)
        forward_kernel[:n, n] = 1
        forward_kernel[n, :n] = 1
        forward_kernel[:n, n + 1 :] = control
        forward_kernel[n + 1 :, :n] = control.T
        rows, cols = (
            torch.arange(height, dtype=torch.float32, device="cpu"),
            torch.arange(width, dtype=torch.float32, device="cpu"),
        )
        ys, xs = torch.meshgrid(rows, cols, indexing="ij")
        coords = torch.stack([xs.reshape(-1) * 2 / (width - 1) - 1, ys.reshape(-1) * 2 / (height - 1) - 1], dim=1)
        representation = torch.cat([_tps_kernel(coords, control), torch.ones(height * width, 1, device="cpu"), coords], dim=1)
        self.height, self.width = height, width
        self.register_buffer("inverse_kernel", torch.linalg.inv(forward_kernel))
        self.register_buffer("padding_matrix", torch.zeros(3, 2))
        self.register_buffer("target_coordinate_repr", representation)

    def forward(self, source_points: torch.Tensor) -> torch.Tensor:
        """(B, 25, 2) source control points -> (B, H, W, 2) sampling grid in [-1, 1]."""
        batch = source_points.shape[0]
        padded = torch.cat([source_points, self.padding_matrix.expand(batch, 3, 2)], dim=1)
        mapping = self.inverse_kernel @ padded
        return (self.target_coordinate_repr @ mapping).view(batch, self.height, self.width, 2)


class TPSWarpingNetwork(nn.Module):
    """Predicts a sampling grid that warps the cloth onto the person, at 256x192."""

    def __init__(self, height: int = 256, width: int = 192, agnostic_channels: int = 21) -> None:
        super().__init__()
        self.extractionA = FeatureExtractor(3)
        self.extractionB = FeatureExtractor(agnostic_channels)
        self.loc_net = LocNet()
        self.gridGen = TPSGridGenerator(height, width)

    def forward(self, cloth: torch.Tensor, agnostic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (grid (B, H, W, 2), source control points (B, 25, 2))."""
        correlation = correlate(l2_normalise(self.extractionA(cloth)), l2_normalise(self.extractionB(agnostic)))
        points = self.loc_net(correlation)
        return self.gridGen(points), points


class DoubleConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = nn.functional.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class RefinementUNet(nn.Module):
    """Input: masked person (3) + pose (18) + warped cloth (3); output: 3 channels, no
    activation (the caller clamps to [-1, 1])."""

    def __init__(self, in_channels: int = 24, out_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        w = width  # the published network: 64 (small test configurations use less)
        self.inc = DoubleConv(in_channels, w)
        self.down1, self.down2, self.down3, self.down4 = (
            Down(w, 2 * w),
            Down(2 * w, 4 * w),
            Down(4 * w, 8 * w),
            Down(8 * w, 8 * w),
        )
        self.up1, self.up2, self.up3, self.up4 = Up(16 * w, 4 * w), Up(8 * w, 2 * w), Up(4 * w, w), Up(2 * w, w)
        self.outc = OutConv(w, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        return self.outc(self.up4(x, x1))
