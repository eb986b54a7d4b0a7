"""Decoding with a named reason for every refusal and a note for every conversion."""

import io

import numpy as np
import pytest
from PIL import Image

from tasks.images import ImageDecodeError, decode_image


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


RGB = Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 400, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "name, data, code",
    [
        ("zero bytes", b"", "empty_file"),
        ("text named .jpg", b"this is not an image", "not_an_image"),
        ("truncated jpeg", _encode(RGB, "JPEG")[:3000], "corrupt_image"),
        ("gif", _encode(RGB, "GIF"), "unsupported_format"),
        ("tiff", _encode(RGB, "TIFF"), "unsupported_format"),
        ("200x100", _encode(RGB.resize((200, 100)), "JPEG"), "too_small"),
        ("48 megapixels", _encode(Image.new("L", (8000, 6000)), "PNG"), "too_large"),
    ],
)
def test_refusals_are_named(name, data, code):
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data, min_short_side=256)
    assert caught.value.code == code and str(caught.value).startswith(code)


def test_the_size_is_refused_from_the_header(monkeypatch):
    """A bomb is refused before its pixels are decoded."""
    data = _encode(Image.new("L", (8000, 6000)), "PNG")
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("pixels were decoded"))
    with pytest.raises(ImageDecodeError, match="too_large"):
        decode_image(data)


def test_conversions_are_accepted_and_noted():
    exif = RGB.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when displayed
    cases = {
        "cmyk": (_encode(RGB.convert("CMYK"), "JPEG"), ["converted_from_cmyk"]),
        "grey": (_encode(RGB.convert("L"), "PNG"), ["converted_from_grayscale"]),
        "alpha": (_encode(RGB.convert("RGBA"), "PNG"), ["alpha_composited"]),
        "exif": (_encode(RGB, "JPEG", exif=exif), ["exif_rotated"]),
        "plain": (_encode(RGB, "JPEG", quality=95), []),
    }
    for name, (data, notes) in cases.items():
        decoded = decode_image(data, min_short_side=256)
        assert decoded.notes == notes, name
        assert decoded.image.dtype == np.uint8 and decoded.image.shape[2] == 3
    assert decode_image(cases["exif"][0]).image.shape == (400, 600, 3)  # upright


def test_sixteen_bit_png_keeps_its_range():
    ramp = (np.linspace(0, 65535, 400)[None, :].repeat(300, axis=0)).astype(np.uint16)
    decoded = decode_image(_encode(Image.fromarray(ramp), "PNG"))
    assert "converted_from_16bit" in decoded.notes
    assert decoded.image[0, 0, 0] == 0 and decoded.image[0, -1, 0] == 255  # not clipped to white


def test_transparent_pixels_become_white():
    rgba = np.zeros((300, 300, 4), np.uint8)
    rgba[100:200, 100:200] = (200, 30, 30, 255)
    decoded = decode_image(_encode(Image.fromarray(rgba), "PNG"))
    assert (decoded.image[0, 0] == 255).all() and (decoded.image[150, 150] == (200, 30, 30)).all()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _with_png_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    return png[:33] + _png_chunk(kind, payload) + png[33:]  # after IHDR


JPEG, PNG, WEBP = _encode(RGB, "JPEG"), _encode(RGB, "PNG"), _encode(RGB, "WEBP")


@pytest.mark.parametrize(
    "name, data, code",
    [
        ("jpeg + <img onerror> after EOI", JPEG + b"<img src=x onerror=alert(1)>", "trailing_data"),
        ("jpeg + meta refresh after EOI", JPEG + b'<meta http-equiv="refresh" content="0;url=/x">', "trailing_data"),
        ("jpeg + a zip after EOI", JPEG + b"PK\x03\x04" + bytes(200), "trailing_data"),
        ("png + text after IEND", PNG + b"hello", "trailing_data"),
        ("webp + text after its RIFF length", WEBP + b"<svg onload=alert(1)>", "trailing_data"),
        (
            "png, zTXt holding <script>",
            _with_png_chunk(PNG, b"zTXt", b"Comment\x00\x00" + __import__("zlib").compress(b"<script>alert(1)</script>")),
            "polyglot_markup",
        ),
        (
            "png, UTF-16 <script> in tEXt",
            _with_png_chunk(PNG, b"tEXt", b"Comment\x00" + "<script>".encode("utf-16-le")),
            "polyglot_markup",
        ),
        (
            "png, iTXt holding <iframe>",
            _with_png_chunk(PNG, b"iTXt", b"Note\x00\x00\x00en\x00\x00<iframe src=x>"),
            "polyglot_markup",
        ),
        ("jpeg without its end marker", JPEG[:-2], "corrupt_image"),
    ],
)
def test_markup_polyglots_are_refused_by_structure(name, data, code):
    """An image file ends where its format says, and its metadata holds no markup
    (``tasks.image_containers``); the pixels are not searched."""
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data)
    assert caught.value.code == code, str(caught.value)


@pytest.mark.parametrize("data", [JPEG + b"\x00" * 16, JPEG + b"\r\n", PNG, WEBP])
def test_padding_and_plain_files_pass(data):
    assert decode_image(data).image.shape == (600, 400, 3)


def test_every_fixture_photo_passes_the_structure_check():
    """No false alarm on real photos (their EXIF, ICC profiles and thumbnails are metadata too)."""
    from tests.conftest import SAMPLES

    photos = [p for p in SAMPLES.rglob("*") if p.suffix.lower() in (".jpg", ".png", ".webp") and "BROKEN" not in str(p)]
    assert len(photos) >= 14
    for photo in photos:
        decode_image(photo.read_bytes())
