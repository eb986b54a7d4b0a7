"""A drop with one file per intake case (issue 4), built from the fixture photos, and what
each SKU must end as."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from tasks.images import decode_rgb
from tasks.preprocess.garment_mask import border_cut
from tests.conftest import GARMENTS, SAMPLES


@dataclass
class Expected:
    state: str | tuple[str, ...]  # one state, or the acceptable ones (QC decides published/flagged)
    reason: str | None = None  # the reason's prefix
    notes: list[str] = field(default_factory=list)


ACCEPTED = ("published", "flagged")


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _tinted(sku: str, colour: tuple[int, int, int]) -> np.ndarray:
    """The garment recoloured (a distinct product for the dedupe), background kept."""
    image = decode_rgb(GARMENTS[sku][0].read_bytes())
    mask = border_cut(image).mask
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    image[mask] = np.clip(grey[mask, None] * np.array(colour, np.float32) * 1.2, 0, 255).astype(np.uint8)
    return image


def write_corpus(store, date: str) -> dict[str, Expected]:
    meta = {c: json.dumps({"category": c}).encode() for c in ("upper_body", "lower_body", "dresses")}
    tee = GARMENTS["TEE-00055"][0].read_bytes()
    files: dict[str, dict[str, bytes]] = {
        "EMPTY-FILE": {"front.jpg": b"", "meta.json": meta["upper_body"]},
        "TRUNCATED": {"front.jpg": tee[: len(tee) // 3], "meta.json": meta["upper_body"]},
        "TEXT-AS-JPG": {"front.jpg": b"<html>not a photo</html>", "meta.json": meta["upper_body"]},
        "GIF-FORMAT": {"front.gif": _encode(Image.open(io.BytesIO(tee)), "GIF"), "meta.json": meta["upper_body"]},
        "TOO-SMALL": {
            "front.jpg": _encode(Image.open(io.BytesIO(tee)).resize((150, 200)), "JPEG"),
            "meta.json": meta["upper_body"],
        },
        "BOMB": {"front.png": _encode(Image.new("L", (8000, 6000), 255), "PNG"), "meta.json": meta["upper_body"]},
        "NO-CATEGORY": {"front.jpg": tee, "meta.json": b"{}"},
        "BAD-CATEGORY": {"front.jpg": tee, "meta.json": b'{"category": "hats"}'},
        "WORN": {"front.jpg": (SAMPLES / "library" / "05997_00.jpg").read_bytes(), "meta.json": meta["upper_body"]},
        "bad sku;rm": {"front.jpg": tee, "meta.json": meta["upper_body"]},
        "TEE-00055-COPY": {"front.jpg": tee, "meta.json": meta["upper_body"]},
        "CMYK-TEE": {
            "front.jpg": _encode(Image.fromarray(_tinted("TEE-00055", (220, 40, 40))).convert("CMYK"), "JPEG"),
            "meta.json": meta["upper_body"],
        },
        "GREY-DRESS": {
            "front.png": _encode(Image.fromarray(decode_rgb(GARMENTS["DRESS-052234"][0].read_bytes())).convert("L"), "PNG"),
            "meta.json": meta["dresses"],
        },
        "DEEP-JEANS": {
            "front.png": _encode(
                Image.fromarray(cv2.cvtColor(_tinted("JEANS-051946", (60, 60, 200)), cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257),
                "PNG",
            ),
            "meta.json": meta["lower_body"],
        },
        "MANIFEST-TEE": {"front.jpg": _encode(Image.fromarray(_tinted("TEE-03032", (40, 160, 60))), "JPEG"), "meta.json": b"{}"},
        "MULTI-IMAGE": {
            "front.jpg": _encode(Image.fromarray(_tinted("DRESS-053744", (200, 60, 160))), "JPEG"),
            "zz-back.jpg": tee,
            "meta.json": meta["dresses"],
        },
    }
    cami = _tinted("CAMI-048769", (40, 200, 200))
    alpha = (border_cut(cami).mask * 255).astype(np.uint8)
    files["ALPHA-CAMI"] = {
        "front.png": _encode(Image.fromarray(np.dstack([cami, alpha])), "PNG"),
        "meta.json": meta["upper_body"],
    }
    rotated = Image.fromarray(np.rot90(_tinted("TROUSER-051473", (230, 140, 40))).copy())  # stored on its side
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display" undoes the np.rot90 above
    files["ROTATED-TROUSER"] = {"front.jpg": _encode(rotated, "JPEG", exif=exif), "meta.json": meta["lower_body"]}
    for sku, named in files.items():
        for name, data in named.items():
            store.put_bytes(f"drops/{date}/{sku}/{name}", data)
    store.put_bytes(f"drops/{date}/manifest.csv", b"sku,category,title\nMANIFEST-TEE,upper_body,Green print tee\n")
    return {
        "EMPTY-FILE": Expected("quarantined", "empty_file"),
        "TRUNCATED": Expected("quarantined", "corrupt_image"),
        "TEXT-AS-JPG": Expected("quarantined", "not_an_image"),
        "GIF-FORMAT": Expected("quarantined", "unsupported_format"),
        "TOO-SMALL": Expected("quarantined", "too_small"),
        "BOMB": Expected("quarantined", "too_large"),
        "NO-CATEGORY": Expected("quarantined", "category_missing"),
        "BAD-CATEGORY": Expected("quarantined", "category_unknown"),
        "WORN": Expected("quarantined", "garment_worn_by_person"),
        "unsafe": Expected("rejected", "unsafe_sku"),
        "TEE-00055-COPY": Expected("rejected", "duplicate_of: TEE-00055"),
        "CMYK-TEE": Expected(ACCEPTED, None, ["converted_from_cmyk"]),
        "GREY-DRESS": Expected(ACCEPTED, None, ["converted_from_grayscale"]),
        "DEEP-JEANS": Expected(ACCEPTED, None, ["converted_from_16bit", "converted_from_grayscale"]),
        "MANIFEST-TEE": Expected(ACCEPTED, None, []),
        "MULTI-IMAGE": Expected(ACCEPTED, None, []),
        "ALPHA-CAMI": Expected(ACCEPTED, None, ["alpha_composited"]),
        "ROTATED-TROUSER": Expected(ACCEPTED, None, ["exif_rotated"]),
    }
