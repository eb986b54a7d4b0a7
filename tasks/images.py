"""Decoding, encoding and canvas helpers shared by every stage. Images are RGB ``uint8``
arrays of shape (H, W, 3); masks are ``bool`` or ``uint8`` arrays of shape (H, W)."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from tasks.image_containers import ContainerError, markup_in, read_container

CANVAS_WIDTH = 768
CANVAS_HEIGHT = 1024
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL refuses images over twice this before decoding


ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "MPO")  # MPO: a camera's multi-picture JPEG; its first frame is used


class ImageDecodeError(ValueError):
    """The bytes are not an image this pipeline can use. ``code`` names the case (the reason
    recorded with a quarantined file), the message says the detail."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@dataclass
class DecodedImage:
    image: np.ndarray  # RGB uint8
    format: str
    notes: list[str]  # what was done to make it RGB: exif_rotated, alpha_composited, ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def channel_max(image: np.ndarray) -> np.ndarray:
    """Per pixel, the largest of its channels (the last axis): ``image.max(axis=-1)``, which numpy
    reduces element by element over so short an axis, here as whole-array maxima (many times
    faster on a full image)."""
    largest = image[..., 0]
    for channel in range(1, image.shape[-1]):
        largest = np.maximum(largest, image[..., channel])
    return largest


def decode_image(data: bytes, min_short_side: int = 0, max_aspect: float | None = None) -> DecodedImage:
    """Decode JPEG, PNG or WebP bytes to RGB, with a named reason for every refusal. The size
    and the aspect ratio are checked from the header, before any pixel is decoded
    (decompression bombs). The file must end where its format says (``trailing_data``) and
    its metadata must not hold markup (``polyglot_markup``): ``tasks.image_containers``."""
    if not data:
        raise ImageDecodeError("empty_file", "zero bytes")
    try:
        with warnings.catch_warnings():  # the size is checked below, with a named reason
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ImageDecodeError("too_large", str(error)) from error
    except Exception as error:  # PIL raises several types for bytes it cannot identify
        raise ImageDecodeError("not_an_image", f"not a recognisable image ({error})") from error
    with opened as image:
        if image.format not in ACCEPTED_FORMATS:
            raise ImageDecodeError("unsupported_format", f"{image.format} (accepted: {', '.join(ACCEPTED_FORMATS)})")
        try:
            container = read_container(data, image.format)
        except ContainerError as error:
            raise ImageDecodeError(error.code, str(error).split(": ", 1)[1]) from error
        if found := markup_in(container.metadata):
            raise ImageDecodeError(
                "polyglot_markup",
                f"the {image.format} file's metadata carries {found!r}: an image must not also be a web page",
            )
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageDecodeError("too_large", f"{width}x{height} is over {MAX_PIXELS // 1_000_000} megapixels")
        if min(width, height) < min_short_side:
            raise ImageDecodeError("too_small", f"{width}x{height}, the short side must be at least {min_short_side} px")
        if max_aspect is not None and max(width, height) > max_aspect * min(width, height):
            raise ImageDecodeError("extreme_aspect_ratio", f"{width}x{height}: one side is over {max_aspect:g} times the other")
        notes: list[str] = []
        if image.format == "MPO":
            notes.append("mpo_first_frame")
        try:
            image.load()
        except Exception as error:
            raise ImageDecodeError("corrupt_image", f"the {image.format} data is broken ({error})") from error
        source_format = image.format
        transposed = ImageOps.exif_transpose(image)
        if transposed.size != image.size or image.getexif().get(0x0112, 1) != 1:
            notes.append("exif_rotated")
        picture: Image.Image = transposed
        if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
            notes.append("converted_from_16bit")
            array = np.asarray(picture, dtype=np.float64)
            picture = Image.fromarray((array / max(257.0, array.max() / 255.0)).clip(0, 255).astype(np.uint8))
        if picture.mode == "CMYK":
            notes.append("converted_from_cmyk")
        if picture.mode in ("L", "1"):
            notes.append("converted_from_grayscale")
        if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
            notes.append("alpha_composited")
            rgba = picture.convert("RGBA")
            picture = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        return DecodedImage(image=np.asarray(picture.convert("RGB"), dtype=np.uint8).copy(), format=source_format, notes=notes)


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode bytes to RGB (EXIF orientation applied, alpha composited on white)."""
    return decode_image(data).image


def decode_artifact(data: bytes) -> np.ndarray:
    """Decode an RGB image the pipeline wrote itself (a PNG or JPEG it encoded: no EXIF, no alpha)
    with OpenCV, twice as fast as ``decode_rgb`` and the same pixels; the checks ``decode_image``
    makes are for images from outside (drops, the library's photos)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageDecodeError("corrupt_image", "an artifact is not a decodable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


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
        raise ImageDecodeError("corrupt_image", "mask is not a decodable image")
    return mask > 127


def decode_labels(data: bytes) -> np.ndarray:
    """A label map stored as an 8-bit PNG (e.g. ATR parsing), values unchanged."""
    labels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2:
        raise ImageDecodeError("corrupt_image", "label map is not a decodable single-channel image")
    return labels


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
    # INTER_AREA only pays off for strong reductions; it is several times slower than linear
    interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR if scale < 1 else cv2.INTER_CUBIC
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


def fit_within(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` shrunk (never enlarged) so its long side is at most ``max_side``."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)


def thumbnail_jpeg(image: np.ndarray, height: int = 192) -> bytes:
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    return encode_jpeg(small, quality=85)
