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
