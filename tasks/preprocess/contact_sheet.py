"""Contact sheets: where a person checks what preprocessing made before trusting it.

- The library (``tryon library sheet``): one row per photo: the photo as uploaded, then its view
  per category with LaDI-VTON's inpaint mask outlined in red and the keypoints in green (or the
  reason the category is unsuitable), then the photo's state and reasons in full, and whether its
  release allows storefront images or previews only (``tasks.rights``).
- A drop's garments (``tryon garments sheet DATE``): one row per garment: the photo as uploaded,
  the cut-out on its canvas with the mask outlined in red, then its state, reason, how the mask
  was cut and the intake notes.

Rows are 1680 px wide; text is wrapped at word boundaries and never cut.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tasks.catalog.garments import read_meta
from tasks.catalog.library import read_index, read_photo_meta
from tasks.context import RunContext
from tasks.images import ImageDecodeError, decode_mask, decode_rgb
from tasks.preprocess.pose import PoseResult
from tasks.rights import PhotoTermsLookup
from tasks.settings import CATEGORIES
from tasks.storage import garment_artifact_key, garment_cutout_key, library_artifact_key, library_view_key

CELL_W, CELL_H = 300, 400
TEXT_W = 480
SHEET_W = (1 + len(CATEGORIES)) * CELL_W + TEXT_W  # 1680
PAPER, INK, GREY, RED, GREEN = (255, 255, 255), (20, 20, 20), (110, 110, 110), (215, 35, 35), (40, 190, 40)
Line = tuple[str, tuple[int, int, int]]


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _wrap(text: str, width: int, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> list[str]:
    """``text`` in lines no wider than ``width`` px, broken between words (a word longer than
    the line, such as a long key, is broken between characters)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while font.getlength(word) > width:
            cut = max(1, next(i for i in range(len(word), 0, -1) if font.getlength(word[:i]) <= width))
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    return [*lines, current] if current else lines


def _text_panel(lines: Iterable[Line], width: int, min_height: int, size: int = 18) -> np.ndarray:
    font = _font(size)
    wrapped = [(part, colour) for text, colour in lines for part in (_wrap(text, width - 24, font) or [""])]
    step = size + 6
    panel = Image.new("RGB", (width, max(min_height, 16 + step * len(wrapped))), PAPER)
    draw = ImageDraw.Draw(panel)
    for i, (text, colour) in enumerate(wrapped):
        draw.text((12, 10 + i * step), text, fill=colour, font=font)
    return np.asarray(panel).copy()


def _cell(image: np.ndarray | None, caption: str, mask: np.ndarray | None = None, points: np.ndarray | None = None) -> np.ndarray:
    """``image`` fitted into a cell (aspect kept) with ``mask`` outlined and ``points`` dotted,
    its caption above; a grey cell when there is no image."""
    cell = np.full((CELL_H, CELL_W, 3), 236, np.uint8)
    top = 28
    if image is not None:
        image = image.copy()
        if mask is not None:
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(image, contours, -1, RED, max(2, image.shape[0] // 170))
        for x, y, score in points if points is not None else ():
            if score >= 0.5:
                cv2.circle(image, (int(x), int(y)), max(4, image.shape[0] // 110), GREEN, -1)
        scale = min(CELL_W / image.shape[1], (CELL_H - top) / image.shape[0])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        x0 = (CELL_W - size[0]) // 2
        cell[top : top + size[1], x0 : x0 + size[0]] = small
    label = _text_panel([(caption, INK)], CELL_W, top, size=16)[:top]
    cell[:top] = label
    return cell


def _row(cells: list[np.ndarray], lines: list[Line]) -> np.ndarray:
    text = _text_panel(lines, SHEET_W - CELL_W * len(cells), CELL_H)
    height = max(CELL_H, text.shape[0])
    row = np.full((height, SHEET_W, 3), 255, np.uint8)
    for i, cell in enumerate(cells):
        row[:CELL_H, i * CELL_W : (i + 1) * CELL_W] = cell
    row[: text.shape[0], CELL_W * len(cells) :] = text
    row[-2:] = 200  # a rule between rows
    return row


def _original(ctx: RunContext, key: str | None) -> np.ndarray | None:
    if not key or not ctx.store.exists(key):
        return None
    try:
        return decode_rgb(ctx.store.get_bytes(key))
    except ImageDecodeError:
        return None


def _view_cell(ctx: RunContext, photo_id: str, category: str) -> np.ndarray:
    get, key = ctx.store.get_bytes, library_artifact_key
    image = decode_rgb(get(library_view_key(photo_id, category)))
    mask = decode_mask(get(key(photo_id, f"{category}/inpaint.png")))
    pose = PoseResult.from_openpose_json(ctx.store.get_json(key(photo_id, f"{category}/keypoints.json")))
    return _cell(image, category, mask=mask, points=pose.keypoints)


def render_sheet(ctx: RunContext) -> np.ndarray:
    """The library sheet: one row per photo of the index (see the module docstring)."""
    rows = [
        _header("library", "photo as uploaded | a view per category: inpaint mask (red), keypoints (green) | state and reasons")
    ]
    rights = PhotoTermsLookup(ctx.settings)
    for row in read_index(ctx):
        photo_id = row.photo_id
        meta = read_photo_meta(ctx, photo_id)
        with ctx.ledger.session() as session:
            terms = rights(session, photo_id)
        original = _original(ctx, meta.source_key if meta else None)
        cells = [_cell(original, photo_id if original is not None else f"{photo_id}: no readable photo")]
        lines: list[Line] = [(photo_id, INK)]
        if row.state == "ready":
            lines.append((f"ready; sharpness {(meta.sharpness if meta else None) or 0:.0f}", GREY))
            for category in CATEGORIES:
                if row.suitable.get(category):
                    cells.append(_view_cell(ctx, photo_id, category))
                    lines.append((f"{category}: suitable", INK))
                else:
                    cells.append(_cell(None, f"{category}: not suitable"))
                    lines.append((f"{category}: {row.unsuitable_reasons.get(category, 'not suitable')}", RED))
            # the release: storefront images, or previews and evaluation only (tasks.rights)
            lines.append(
                (f"storefront: {terms.note}" if terms.allowed else f"previews only: {terms.note}", INK if terms.allowed else RED)
            )
        else:
            cells.extend(_cell(None, "rejected") for _ in CATEGORIES)
            lines.append((f"rejected: {row.reason or 'no reason recorded'}", RED))
        rows.append(_row(cells, lines))
    return np.vstack(rows)


def render_garment_sheet(ctx: RunContext, date: str) -> np.ndarray:
    """A drop's garments sheet: one row per garment the ledger recorded for ``date``."""
    rows = [
        _header(
            f"garments of {date}",
            "photo as uploaded | cut-out on its canvas, mask outlined (red) | state, reason, mask, intake notes",
        )
    ]
    for garment in ctx.ledger.garments(date):
        cut: np.ndarray | None = None
        mask: np.ndarray | None = None
        artifacts = read_meta(ctx, garment.sha256) if garment.sha256 else None
        if garment.sha256 and artifacts is not None:
            cut = decode_rgb(ctx.store.get_bytes(garment_cutout_key(garment.sha256)))
            mask = decode_mask(ctx.store.get_bytes(garment_artifact_key(garment.sha256, "mask.png")))
        source = (artifacts.source_key if artifacts else None) or garment.source_key
        lines: list[Line] = [
            (f"{garment.sku}  ({garment.category or 'no category'})", INK),
            (f"state: {garment.state}", RED if garment.state in ("quarantined", "rejected") else INK),
        ]
        if garment.reason:
            lines.append((f"reason: {garment.reason}", RED))
        if artifacts:
            lines.append((f"mask: {artifacts.mask_method}", GREY))
            lines.append((f"backend: {artifacts.backend}", GREY))
        notes = (garment.meta or {}).get("intake_notes") or []
        lines.append((f"intake notes: {', '.join(notes) if notes else 'none'}", GREY))
        original = _original(ctx, source)
        cells = [
            _cell(original, garment.sku if original is not None else f"{garment.sku}: no readable photo"),
            _cell(cut, "cut-out" if cut is not None else "no cut-out", mask=mask),
        ]
        rows.append(_row(cells, lines))
    return np.vstack(rows)


def _header(title: str, legend: str) -> np.ndarray:
    return _text_panel([(title, INK), (legend, GREY)], SHEET_W, 64, size=20)
