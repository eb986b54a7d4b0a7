"""Where an uploaded image's format says it ends, and what metadata it carries.

Validation by structure, not by a list of tags found anywhere in the bytes: a JPEG ends at its
EOI marker (an MPO's further frames are JPEGs too), a PNG at its IEND chunk, a WebP at the
length its RIFF header gives. Bytes after that end are a trailer; at most
``TRAILER_ALLOWANCE`` bytes of padding (NUL, 0xFF, white space: what some encoders and
transfer tools leave) are allowed, anything else is refused, whatever it holds (a web page, a
script, another file). The metadata segments (JPEG APPn and COM, PNG's ancillary chunks with
their compressed text inflated, WebP's EXIF/XMP/unknown chunks) are read out so that markup in
them can be refused; the pixels themselves are never searched (compressed data matches any
short pattern by chance). The pipeline re-encodes every image it uses, so none of this reaches
the engine or a page; refusing it keeps a file that is also a web page out of the bucket's
working copies as well.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

TRAILER_ALLOWANCE = 64  # bytes of padding (NUL, 0xFF, white space) allowed after an image's end
_PADDING = frozenset(b"\x00\xff \t\r\n")
TEXT_INFLATE_LIMIT = 1 << 20  # a compressed text chunk is inflated up to 1 MiB, no more

# markup a browser would act on: an HTML element or processing instruction, a script URL.
# Searched in metadata only (see the module's docstring), also with NUL bytes removed (UTF-16
# text). Patterns shorter than four letters after the bracket (``<a``, ``on...=``) are left out:
# binary metadata (an EXIF thumbnail, an ICC profile) matches them by chance.
MARKUP = re.compile(
    rb"<\s*(?:html|head|body|script|iframe|frame|frameset|object|embed|applet|svg|math|meta|link|style|img|image|"
    rb"form|input|button|base|video|audio|source|template|details|marquee)(?=[\s/>])"
    rb"|<\s*\?php|<\s*!doctype|<\?xml-stylesheet|javascript\s*:|vbscript\s*:|data\s*:\s*text/html",
    re.IGNORECASE,
)


class ContainerError(ValueError):
    """The file breaks its format's structure; ``code`` names how (``trailing_data``,
    ``corrupt_image``)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@dataclass
class Container:
    """An image file's structure: where its image data ends, and its metadata payloads."""

    end: int
    metadata: list[bytes] = field(default_factory=list)


def _u16(data: bytes, at: int) -> int:
    if at + 2 > len(data):
        raise ContainerError("corrupt_image", "the JPEG ends inside a segment header")
    return int(struct.unpack_from(">H", data, at)[0])


def _jpeg_frame(data: bytes, start: int, metadata: list[bytes]) -> int:
    """The offset just after the EOI of the JPEG frame starting at ``start``."""
    if data[start : start + 2] != b"\xff\xd8":
        raise ContainerError("corrupt_image", f"no JPEG start marker at offset {start}")
    at, size = start + 2, len(data)
    while at < size:
        if data[at] != 0xFF:
            raise ContainerError("corrupt_image", f"a JPEG marker was expected at offset {at}")
        while at < size and data[at] == 0xFF:  # fill bytes
            at += 1
        if at >= size:
            break
        marker = data[at]
        at += 1
        if marker == 0xD9:  # EOI
            return at
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        length = _u16(data, at)
        if length < 2 or at + length > size:
            raise ContainerError("corrupt_image", f"a JPEG segment at offset {at} runs past the end of the file")
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
            metadata.append(data[at + 2 : at + length])
        at += length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            while True:
                at = data.find(b"\xff", at)
                if at < 0 or at + 1 >= size:
                    raise ContainerError("corrupt_image", "the JPEG's scan data has no end marker (truncated)")
                following = data[at + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    at += 1
                    continue
                break
    raise ContainerError("corrupt_image", "the JPEG has no end marker (truncated)")


def _jpeg(data: bytes, multi_frame: bool) -> Container:
    container = Container(end=0)
    container.end = _jpeg_frame(data, 0, container.metadata)
    while multi_frame and data[container.end : container.end + 2] == b"\xff\xd8":  # an MPO's next frame
        container.end = _jpeg_frame(data, container.end, container.metadata)
    return container


_PNG_IMAGE_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"acTL", b"fcTL", b"fdAT"}


def _inflate(payload: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        return inflater.decompress(payload, TEXT_INFLATE_LIMIT)
    except zlib.error:
        return payload  # not our problem to decode: the raw bytes are searched


def _png_text(kind: bytes, payload: bytes) -> bytes:
    """A text chunk's text (inflated when compressed); other chunks as they are."""
    keyword, _, rest = payload.partition(b"\x00")
    if kind == b"zTXt" and rest:
        return keyword + b"\x00" + _inflate(rest[1:])
    if kind == b"iTXt" and len(rest) >= 2:
        compressed, tail = rest[0], rest[2:]
        parts = tail.split(b"\x00", 2)  # language, translated keyword, text
        if compressed and len(parts) == 3:
            return keyword + b"\x00" + parts[0] + b"\x00" + parts[1] + b"\x00" + _inflate(parts[2])
    return payload


def _png(data: bytes) -> Container:
    container, at, size = Container(end=0), 8, len(data)
    while at + 8 <= size:
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 12 + length
        if end > size:
            raise ContainerError("corrupt_image", f"the PNG chunk {kind!r} at offset {at} runs past the end of the file")
        if kind not in _PNG_IMAGE_CHUNKS:
            container.metadata.append(_png_text(kind, data[at + 8 : at + 8 + length]))
        at = end
        if kind == b"IEND":
            container.end = at
            return container
    raise ContainerError("corrupt_image", "the PNG has no IEND chunk (truncated)")


_WEBP_IMAGE_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}


def _webp(data: bytes) -> Container:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ContainerError("corrupt_image", "no RIFF/WEBP header")
    end = 8 + int(struct.unpack_from("<I", data, 4)[0])
    if end > len(data):
        raise ContainerError("corrupt_image", f"the RIFF header says {end} bytes, the file has {len(data)} (truncated)")
    container, at = Container(end=end), 12
    while at + 8 <= end:
        kind, length = struct.unpack_from("<4sI", data, at)
        if kind not in _WEBP_IMAGE_CHUNKS:
            container.metadata.append(data[at + 8 : at + 8 + length])
        at += 8 + length + (length & 1)
    return container


def read_container(data: bytes, image_format: str) -> Container:
    """The structure of ``data``, an image PIL identified as ``image_format`` (JPEG, MPO, PNG,
    WEBP). Raises :class:`ContainerError` when the structure is broken or the file goes on
    past its end beyond the allowance."""
    reader = {"JPEG": lambda: _jpeg(data, False), "MPO": lambda: _jpeg(data, True), "PNG": lambda: _png(data)}.get(
        image_format, lambda: _webp(data)
    )
    container = reader()
    trailer = data[container.end :]
    if trailer and (len(trailer) > TRAILER_ALLOWANCE or not set(trailer) <= _PADDING):
        raise ContainerError(
            "trailing_data",
            f"{len(trailer)} byte(s) after the {image_format} image's end (offset {container.end}); "
            f"an image file must end where its format says (at most {TRAILER_ALLOWANCE} bytes of padding)",
        )
    return container


def markup_in(metadata: list[bytes]) -> str | None:
    """The first piece of markup in the metadata payloads (as text, UTF-16 included), or None."""
    for payload in metadata:
        for text in (payload, payload.replace(b"\x00", b"")):
            if found := MARKUP.search(text):
                return found.group().decode("latin-1")
    return None
