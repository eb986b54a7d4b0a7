"""A corpus of bad (and a few awkward but good) drop inputs, made from the fixture photos: broken
meta.json files, manifests that are not what they claim, images that are not what they claim,
names that cannot be keys. Each SKU (or each drop, for what concerns a whole drop) comes with
what intake must make of it: the state and the reason's code, never a crash."""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass

from botocore.exceptions import ClientError
from PIL import Image

from tests.conftest import GARMENTS, SAMPLES
from tests.corpus import _encode, _tinted

DATE = "2026-11-20"  # the per-SKU cases and a manifest with bad rows
GOOD = "discovered"  # through discovery and validation, waiting for preprocessing


@dataclass(frozen=True)
class Case:
    state: str  # after discover + validate: discovered (accepted), quarantined or rejected
    reason: str | None = None  # the reason's code (its prefix)
    note: str | None = None  # an intake note an accepted one must carry


def _meta(category: str = "upper_body", **extra) -> bytes:
    return json.dumps({"category": category, **extra}).encode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header(width: int, height: int) -> bytes:
    """A well-formed PNG claiming ``width`` x ``height`` whose pixel data is a few bytes."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _chunk(b"IEND", b"")


def _jpeg_with_comment(image: Image.Image, comment: bytes) -> bytes:
    data = _encode(image, "JPEG", quality=90)
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return data[:2] + segment + data[2:]


def write_bad_inputs(store) -> dict[tuple[str, str], Case]:
    """Upload every case; return (date, SKU) -> what intake must make of it."""
    tee_bytes = GARMENTS["TEE-00055"][0].read_bytes()
    tee = Image.open(io.BytesIO(tee_bytes)).convert("RGB")
    distinct = iter(
        Image.fromarray(_tinted(sku, colour))
        for sku, colour in [
            ("TEE-00055", (200, 40, 40)),
            ("TEE-03032", (40, 40, 200)),
            ("JEANS-051946", (40, 160, 60)),
            ("DRESS-052234", (160, 60, 160)),
            ("CAMI-048769", (200, 160, 40)),
            ("TROUSER-051473", (60, 160, 160)),
            ("DRESS-053744", (120, 90, 60)),
            ("TEE-00055", (90, 120, 200)),
            ("TEE-03032", (200, 90, 120)),
            ("CAMI-048769", (90, 200, 120)),
        ]
    )
    worn = (SAMPLES / "library" / "05997_00.jpg").read_bytes()
    good_jpeg = lambda: _encode(next(distinct), "JPEG", quality=90)  # noqa: E731
    cases: dict[tuple[str, str], Case] = {}
    files: dict[tuple[str, str], dict[str, bytes]] = {}

    def add(sku: str, named: dict[str, bytes], case: Case, date: str = DATE) -> None:
        files[(date, sku)] = named
        cases[(date, sku)] = case

    # meta.json
    add(
        "META-LIST-CATEGORY",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": ["upper_body"]}'},
        Case("quarantined", "meta_category_invalid"),
    )
    add(
        "META-NUMBER-CATEGORY",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": 3}'},
        Case("quarantined", "meta_category_invalid"),
    )
    add(
        "META-OBJECT-CATEGORY",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": {"name": "dresses"}}'},
        Case("quarantined", "meta_category_invalid"),
    )
    add(
        "META-DEEP",
        {"front.jpg": tee_bytes, "meta.json": b"[" * 100_000 + b"]" * 100_000},
        Case("quarantined", "meta_json_too_large"),
    )
    add(
        "META-DEEP-5000",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": "upper_body", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"},
        Case("quarantined", "meta_json_too_deep"),
    )
    add(
        "META-DEEP-OBJECT",
        {"front.jpg": tee_bytes, "meta.json": b'{"a":' * 20 + b"1" + b"}" * 20},
        Case("quarantined", "meta_json_too_deep"),
    )
    add(
        "META-NAN",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": "upper_body", "weight": NaN}'},
        Case("quarantined", "meta_json_invalid"),
    )
    add(
        "META-INFINITY",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": "upper_body", "price": -Infinity}'},
        Case("quarantined", "meta_json_invalid"),
    )
    add("META-LONG-CATEGORY", {"front.jpg": tee_bytes, "meta.json": _meta("x" * 500)}, Case("quarantined", "category_unknown"))
    add(
        "META-LATIN1",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": "upper_body", "title": "caf\xe9"}'},
        Case("quarantined", "meta_json_encoding"),
    )
    add(
        "META-UTF16",
        {"front.jpg": tee_bytes, "meta.json": '{"category": "upper_body"}'.encode("utf-16")},
        Case("quarantined", "meta_json_encoding"),
    )
    add(
        "META-HUGE", {"front.jpg": tee_bytes, "meta.json": _meta(notes="n" * 100_000)}, Case("quarantined", "meta_json_too_large")
    )
    add("META-ARRAY", {"front.jpg": tee_bytes, "meta.json": b'["upper_body"]'}, Case("quarantined", "meta_json_invalid"))
    add("META-STRING", {"front.jpg": tee_bytes, "meta.json": b'"upper_body"'}, Case("quarantined", "meta_json_invalid"))
    add("META-EMPTY", {"front.jpg": tee_bytes, "meta.json": b""}, Case("quarantined", "meta_json_invalid"))
    add("META-TRAILING", {"front.jpg": tee_bytes, "meta.json": _meta() + b" and more"}, Case("quarantined", "meta_json_invalid"))
    add(
        "META-NULL-CATEGORY",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": null}'},
        Case("quarantined", "category_missing"),
    )
    add(
        "META-LOOKALIKE", {"front.jpg": tee_bytes, "meta.json": _meta("upper_bod\u0443")}, Case("quarantined", "category_unknown")
    )
    add(
        "META-NUL",
        {"front.jpg": tee_bytes, "meta.json": b'{"category": "upper\\u0000body"}'},
        Case("quarantined", "category_unknown"),
    )
    add("META-PADDED", {"front.jpg": tee_bytes, "meta.json": _meta(" upper_body ")}, Case("quarantined", "category_unknown"))
    add("META-BOM", {"front.jpg": good_jpeg(), "meta.json": b"\xef\xbb\xbf" + _meta()}, Case(GOOD))
    add(
        "META-EXTRA-FIELDS",
        {"front.jpg": good_jpeg(), "meta.json": _meta("lower_body", title="Jeans", sizes=["S", "M"], price=49.5)},
        Case(GOOD),
    )
    # images
    wide = tee.resize((20000, 256))
    add(
        "IMG-WIDE",
        {"front.png": _encode(wide, "PNG", compress_level=1), "meta.json": _meta()},
        Case("quarantined", "extreme_aspect_ratio"),
    )
    add(
        "IMG-TALL",
        {"front.jpg": _encode(tee.resize((256, 2000)), "JPEG"), "meta.json": _meta()},
        Case("quarantined", "extreme_aspect_ratio"),
    )
    add(
        "IMG-POLYGLOT-COMMENT",
        {"front.jpg": _jpeg_with_comment(tee, b"<html><script>alert(1)</script></html>"), "meta.json": _meta()},
        Case("quarantined", "polyglot_markup"),
    )
    add(
        "IMG-POLYGLOT-TRAILER",
        {"front.jpg": tee_bytes + b"<!DOCTYPE html><body onload=alert(1)>", "meta.json": _meta()},
        Case("quarantined", "trailing_data"),
    )
    add(
        "IMG-SVG-AS-JPG",
        {"front.jpg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "meta.json": _meta()},
        Case("quarantined", "not_an_image"),
    )
    add(
        "IMG-PDF",
        {"front.jpg": b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF", "meta.json": _meta()},
        Case("quarantined", "not_an_image"),
    )
    add("IMG-BMP", {"front.bmp": _encode(tee, "BMP"), "meta.json": _meta()}, Case("quarantined", "unsupported_format"))
    add("IMG-TIFF", {"front.tif": _encode(tee, "TIFF"), "meta.json": _meta()}, Case("quarantined", "unsupported_format"))
    add(
        "IMG-ANIMATED-GIF",
        {"front.gif": _encode(tee.convert("P"), "GIF", save_all=True, append_images=[tee.convert("P")]), "meta.json": _meta()},
        Case("quarantined", "unsupported_format"),
    )
    add("IMG-HEADER-HUGE", {"front.png": _png_header(100_000, 100_000), "meta.json": _meta()}, Case("quarantined", "too_large"))
    add("IMG-HEADER-ONLY", {"front.png": _png_header(800, 1000), "meta.json": _meta()}, Case("quarantined", "corrupt_image"))
    add("IMG-ZERO-WIDTH", {"front.png": _png_header(0, 1000), "meta.json": _meta()}, Case("quarantined", "not_an_image"))
    png = _encode(tee, "PNG")
    add("IMG-TRUNCATED-PNG", {"front.png": png[: len(png) // 2], "meta.json": _meta()}, Case("quarantined", "corrupt_image"))
    add("IMG-JPEG-200-BYTES", {"front.jpg": tee_bytes[:200], "meta.json": _meta()}, Case("quarantined", "not_an_image"))
    add("IMG-WORN", {"front.jpg": worn, "meta.json": _meta()}, Case("quarantined", "garment_worn_by_person"))
    add("IMG-ONLY-TEXT", {"notes.txt": b"photos follow", "meta.json": _meta()}, Case("quarantined", "no_image"))
    add("IMG-DOUBLE-EXTENSION", {"front.jpg.exe": tee_bytes, "meta.json": _meta()}, Case("quarantined", "no_image"))
    mpo = io.BytesIO()
    next(distinct).save(mpo, format="MPO", save_all=True, append_images=[tee])
    add("IMG-MPO", {"front.jpg": mpo.getvalue(), "meta.json": _meta("dresses")}, Case(GOOD, note="mpo_first_frame"))
    add("IMG-WEBP", {"front.webp": _encode(next(distinct), "WEBP", quality=90), "meta.json": _meta("dresses")}, Case(GOOD))
    add("IMG-UPPERCASE", {"FRONT.JPG": good_jpeg(), "meta.json": _meta()}, Case(GOOD))
    add("IMG-PNG-NAMED-JPG", {"front.jpg": _encode(next(distinct), "PNG"), "meta.json": _meta()}, Case(GOOD))
    add(
        "IMG-PALETTE-ALPHA",
        {"front.png": _encode(next(distinct).convert("RGBA").convert("P"), "PNG", transparency=0), "meta.json": _meta()},
        Case(GOOD, note="alpha_composited"),
    )
    bad_exif = Image.Exif()
    bad_exif[0x0112] = 9  # not an orientation
    add("IMG-BAD-ORIENTATION", {"front.jpg": _encode(next(distinct), "JPEG", exif=bad_exif), "meta.json": _meta()}, Case(GOOD))
    # names
    for sku in ("TEE-TAB\t", "-LEADING-DASH", "A" * 200, "TEE%2F01", "\u00dcMLAUT-TEE", "TEE 01", "TEE;rm -rf"):
        add(sku, {"front.jpg": tee_bytes, "meta.json": _meta()}, Case("rejected", "unsafe_sku"))
    add("TEE.01_v2", {"front.jpg": good_jpeg(), "meta.json": _meta()}, Case(GOOD))
    add("A..B", {"front.jpg": _encode(tee.rotate(90, expand=True), "JPEG"), "meta.json": _meta()}, Case(GOOD))
    # names the storefront and review layouts keep for their own prefixes
    for sku in ("looks", "manifests", "Looks"):
        add(sku, {"front.jpg": tee_bytes, "meta.json": _meta()}, Case("quarantined", "reserved_name"))
    # markup polyglots, found by structure (tasks/image_containers.py)
    add(
        "IMG-POLYGLOT-IMG-TRAILER",
        {"front.jpg": tee_bytes + b"<img src=x onerror=alert(1)>", "meta.json": _meta()},
        Case("quarantined", "trailing_data"),
    )
    add(
        "IMG-POLYGLOT-META-REFRESH",
        {"front.jpg": tee_bytes + b'<meta http-equiv="refresh" content="0;url=https://example.invalid/">', "meta.json": _meta()},
        Case("quarantined", "trailing_data"),
    )
    add(
        "IMG-POLYGLOT-ZTXT",
        {
            "front.png": png[:33] + _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"<script>alert(1)</script>")) + png[33:],
            "meta.json": _meta(),
        },
        Case("quarantined", "polyglot_markup"),
    )
    add(
        "IMG-POLYGLOT-UTF16",
        {
            "front.png": png[:33] + _chunk(b"tEXt", b"Comment\x00" + "<script>alert(1)</script>".encode("utf-16-le")) + png[33:],
            "meta.json": _meta(),
        },
        Case("quarantined", "polyglot_markup"),
    )
    # files beside the SKU folders
    files[(DATE, "readme.txt")] = {}
    cases[(DATE, "readme.txt")] = Case("quarantined", "outside_sku_folder")
    files[(DATE, "stray image.jpg")] = {}
    cases[(DATE, "stray image.jpg")] = Case("rejected", "outside_sku_folder")
    # manifest rows (the SKUs have no category of their own)
    for sku in ("MAN-DUP", "MAN-LONG-CELL", "MAN-BAD-CAT"):
        add(
            sku,
            {"front.jpg": tee_bytes, "meta.json": b"{}"},
            Case(
                "quarantined",
                {"MAN-DUP": "manifest_duplicate_sku", "MAN-LONG-CELL": "manifest_row_invalid", "MAN-BAD-CAT": "category_unknown"}[
                    sku
                ],
            ),
        )
    add("MAN-DUP-WITH-META", {"front.jpg": good_jpeg(), "meta.json": _meta()}, Case(GOOD))  # its own category wins
    add("MAN-OK", {"front.jpg": _encode(tee.rotate(180), "JPEG"), "meta.json": b"{}"}, Case(GOOD))

    for (date, sku), named in files.items():
        for name, data in named.items():
            store.put_bytes(f"drops/{date}/{sku}/{name}", data)
    store.put_bytes(f"drops/{DATE}/readme.txt", b"a note to the catalogue team")
    store.put_bytes(f"drops/{DATE}/stray image.jpg", tee_bytes)
    store.put_bytes(
        f"drops/{DATE}/manifest.csv",
        (
            "sku,category,title\n"
            "MAN-DUP,upper_body,First\nMAN-DUP,lower_body,Second\n"
            f"MAN-LONG-CELL,upper_body,{'t' * 5000}\n"
            "MAN-BAD-CAT,hats,A hat\n"
            "MAN-DUP-WITH-META,upper_body,One\nMAN-DUP-WITH-META,upper_body,Two\n"
            "MAN-OK,upper_body,Upside-down tee\n"
            "NOT-IN-THE-DROP,dresses,Listed only\n"
        ).encode(),
    )

    # whole drops: one manifest each, a SKU that needs it and one that does not (a bad manifest
    # never rejects a SKU with its own meta.json, nor the drop)
    for date, manifest, reason in [
        ("2026-11-21", "sku,category,title\nNEEDS-MANIFEST,upper_body,Caf\u00e9 tee\n".encode("latin-1"), None),  # Windows-1252
        ("2026-11-22", b"sku,category\nNEEDS-MANIFEST,upper\x00_body\n", "manifest_unreadable: manifest_invalid"),
        ("2026-11-23", b"id,category\nNEEDS-MANIFEST,upper_body\n", "manifest_unreadable: manifest_invalid"),
        ("2026-11-24", b"sku,category\n" + b"FILLER,upper_body\n" * 1_000_000, "manifest_unreadable: manifest_too_large"),
        ("2026-11-25", "sku,category\nNEEDS-MANIFEST,upper_body\n".encode("utf-16"), None),  # "Unicode text"
        ("2026-11-26", tee_bytes, "manifest_unreadable: manifest_invalid"),
        # a spreadsheet's export: BOM, capitals and spaces in the header, CRLF, Windows-1252, a SKU
        # twice alike, one listed but absent, one row with a byte no encoding explains
        (
            "2026-11-27",
            b"\xef\xbb\xbf SKU , Category ,Title\r\nNEEDS-MANIFEST,upper_body,Caf\xe9\r\nNEEDS-MANIFEST,upper_body,Caf\xe9\r\n"
            b"BAD-BYTES,dresses,x\x81y\r\nNEVER-ARRIVED,dresses,gone\r\n",
            None,
        ),
    ]:
        store.put_bytes(f"drops/{date}/manifest.csv", manifest)
        store.put_bytes(f"drops/{date}/NEEDS-MANIFEST/front.jpg", tee_bytes)
        store.put_bytes(f"drops/{date}/HAS-META/front.jpg", tee_bytes)
        store.put_bytes(f"drops/{date}/HAS-META/meta.json", _meta())
        cases[(date, "NEEDS-MANIFEST")] = Case("quarantined", reason) if reason else Case(GOOD)
        cases[(date, "HAS-META")] = Case(GOOD)
    store.put_bytes("drops/2026-11-27/BAD-BYTES/front.jpg", tee_bytes)
    cases[("2026-11-27", "BAD-BYTES")] = Case("quarantined", "manifest_encoding")

    # the S3 console's folder objects, and a root file named like a SKU folder (kept apart)
    folders = "2026-11-28"
    for key in (f"drops/{folders}/", f"drops/{folders}/FOLDER-SKU/", f"drops/{folders}/TWIN/"):
        store.put_bytes(key, b"")
    store.put_bytes(f"drops/{folders}/FOLDER-SKU/front.jpg", tee_bytes)
    store.put_bytes(f"drops/{folders}/FOLDER-SKU/meta.json", _meta())
    store.put_bytes(f"drops/{folders}/TWIN/front.jpg", tee_bytes)
    store.put_bytes(f"drops/{folders}/TWIN/meta.json", _meta())
    cases[(folders, "FOLDER-SKU")] = Case(GOOD)
    cases[(folders, "TWIN")] = Case(GOOD)
    try:
        store.put_bytes(f"drops/{folders}/TWIN", b"a file beside the folder of the same name")
        cases[(folders, "TWIN~file")] = Case("quarantined", "outside_sku_folder")
    except ClientError as error:  # the embedded store keeps objects as files: a file and a folder cannot share a name
        assert "cannot be one beside the objects" in str(error)
    return cases
