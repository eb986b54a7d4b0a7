"""Decoding, encoding and canvas helpers shared by every stage. Images are RGB ``uint8``
arrays of shape (H, W, 3); masks are ``bool`` or ``uint8`` arrays of shape (H, W)."""

from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
from PIL import Image, ImageOps

CANVAS_WIDTH = 768
CANVAS_HEIGHT = 1024
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL refuses images over twice this before decoding


class ImageDecodeError(ValueError):
    """The bytes are not an image this pipeline can use; the message is the reason."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode bytes to RGB, applying EXIF orientation and compositing alpha on white."""
    if not data:
        raise ImageDecodeError("empty file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageDecodeError(f"image too large: {image.width}x{image.height}")
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(white, rgba)
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"decompression bomb refused: {error}") from error
    except Exception as error:  # PIL raises many types for broken files
        raise ImageDecodeError(f"not a decodable image: {error}") from error


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()


def decode_mask(data: bytes) -> np.ndarray:
    mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ImageDecodeError("mask is not a decodable image")
    return mask > 127


def encode_mask(mask: np.ndarray) -> bytes:
    return encode_png((mask > 0).astype(np.uint8) * 255)


def fit_to_canvas(
    image: np.ndarray,
    fill: tuple[int, int, int],
    width: int = CANVAS_WIDTH,
    height: int = CANVAS_HEIGHT,
    mask: np.ndarray | None = None,
    margin: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scale ``image`` (and ``mask``) to fit a width x height canvas without distortion,
    leaving ``margin`` (a fraction of each side) free, centred, the rest filled with ``fill``."""
    h, w = image.shape[:2]
    scale = min(width * (1 - 2 * margin) / w, height * (1 - 2 * margin) / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = fill
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    canvas_mask = None
    if mask is not None:
        canvas_mask = np.zeros((height, width), bool)
        resized = cv2.resize(mask.astype(np.uint8), (new_w, new_h), interpolation=cv2.INTER_NEAREST)
        canvas_mask[y0 : y0 + new_h, x0 : x0 + new_w] = resized > 0
    return canvas, canvas_mask


def thumbnail_jpeg(image: np.ndarray, height: int = 192) -> bytes:
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    return encode_jpeg(small, quality=85)
