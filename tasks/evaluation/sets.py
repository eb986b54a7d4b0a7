"""Evaluation sets: what a model version is measured on, kept in S3 as a frozen snapshot.

A set (``eval/sets/{name}/``) holds views (a person photo prepared for one category, as an
``.npz`` of the arrays an engine takes, with the parsing labels QC reads) and cloths (a garment
on the 768x1024 white canvas with its mask), and the pairs to generate:

- paired: a cloth on the view of the person who wears it; the view's photo is the target
  (SSIM, LPIPS);
- unpaired: a cloth on another person's view; the generations are compared as a distribution
  with the set's real photos of that category (FID, KID).

Two ways to make one:

- ``library_set``: from the model library itself, each ready view with its own worn garment cut
  out of the photo (from the parsing) as the cloth, so evaluation runs on the catalogue's photos;
- ``import_set``: the VITON-HD test layout (``image/``, ``cloth/``, ``test_pairs.txt``) or Dress
  Code's (``upper_body/``, ``lower_body/``, ``dresses/`` each with ``images/`` holding
  ``{id}_0.jpg`` persons and ``{id}_1.jpg`` cloths, and ``test_pairs_paired.txt`` /
  ``test_pairs_unpaired.txt``), prepared as the library and intake prepare photos and garments.

Whatever cannot be prepared is listed in the set's ``refused`` with the reason; nothing is
dropped silently.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.catalog.documents import from_document, to_document
from tasks.images import decode_mask, decode_rgb, encode_mask, encode_png, fit_to_canvas
from tasks.preprocess.garment import WHITE
from tasks.preprocess.model_photo import worn_garment_and_skin
from tasks.storage import ObjectStore

CATEGORIES = ("upper_body", "lower_body", "dresses")
LIBRARY_SET = "library"  # the set made from the model library (made anew from it on each evaluation)
MIN_GARMENT_SHARE = 0.01  # of the view: a smaller worn garment is no cloth to try on


def set_key(name: str, relative: str) -> str:
    return f"eval/sets/{name}/{relative}"


@dataclass(frozen=True)
class EvalPair:
    view: str
    cloth: str
    category: str
    paired: bool

    @property
    def slot(self) -> str:
        """The pair's name in file names and the comparison grid."""
        return f"{self.view}--{self.cloth}"


@dataclass
class EvalSet:
    """The set's manifest (``set.json``)."""

    name: str
    source: str  # where it came from, in words
    views: dict[str, str] = field(default_factory=dict)  # view id -> category
    cloths: dict[str, str] = field(default_factory=dict)  # cloth id -> category
    pairs: list[EvalPair] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # input -> why it is not in the set
    content_sha256: str = ""  # of every view and cloth file, in id order

    def chosen(self, limit: int | None = None, categories: list[str] | None = None) -> list[EvalPair]:
        """The pairs to generate: those of ``categories`` (default all), all of them or the first
        ``limit`` paired and unpaired ones of each category."""
        taken: dict[tuple[str, bool], int] = {}
        chosen = []
        for pair in self.pairs:
            kind = (pair.category, pair.paired)
            if categories and pair.category not in categories:
                continue
            if limit is None or taken.get(kind, 0) < limit:
                taken[kind] = taken.get(kind, 0) + 1
                chosen.append(pair)
        return chosen

    def counts(self) -> dict[str, dict[str, int]]:
        out = {c: {"views": 0, "paired": 0, "unpaired": 0} for c in CATEGORIES}
        for category in self.views.values():
            out[category]["views"] += 1
        for pair in self.pairs:
            out[pair.category]["paired" if pair.paired else "unpaired"] += 1
        return {c: n for c, n in out.items() if n["views"]}


@dataclass
class View:
    """One person view: what an engine takes, and what QC compares with."""

    person: np.ndarray  # (1024, 768, 3) uint8
    person_mask: np.ndarray  # (1024, 768) bool
    inpaint_mask: np.ndarray  # (1024, 768) bool
    keypoints: np.ndarray  # (18, 3)
    labels: np.ndarray  # (512, 384) ATR parsing

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **asdict(self))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> View:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(**{name: arrays[name] for name in arrays.files})

    def sample_fields(self) -> dict[str, np.ndarray]:
        return {
            "person": self.person,
            "person_mask": self.person_mask,
            "inpaint_mask": self.inpaint_mask,
            "keypoints": self.keypoints,
        }


def cut_out(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A worn garment as a product shot: its pixels on white, centred on the canvas."""
    x0, y0, w, h = cv2.boundingRect(mask.astype(np.uint8))
    crop = np.where(mask[..., None], image, np.uint8(255))[y0 : y0 + h, x0 : x0 + w]
    cloth, cloth_mask = fit_to_canvas(crop, WHITE, mask=mask[y0 : y0 + h, x0 : x0 + w], margin=0.06)
    assert cloth_mask is not None  # a mask given, a mask returned
    return np.where(cloth_mask[..., None], cloth, np.uint8(255)), cloth_mask


def worn_garment(view: View, category: str) -> np.ndarray:
    """The garment of ``category`` the view's person wears, from the parsing: inside the person,
    less what is skin-coloured (a neckline, shoulders: the fallback parser's labels are coarse)."""
    from tasks.qc.appearance import skin_pixels

    garment, _ = worn_garment_and_skin(view.labels, category)
    bare = skin_pixels(view.person, view.person_mask, view.keypoints)
    inside = cv2.erode(view.person_mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    return garment & view.person_mask & inside & ~bare


class SetWriter:
    """Writes a set's files and its manifest (last: a set without ``set.json`` is not there)."""

    def __init__(self, store: ObjectStore, name: str, source: str) -> None:
        self.store, self.set = store, EvalSet(name=name, source=source)
        self.digests: dict[str, str] = {}

    def view(self, view_id: str, category: str, view: View) -> None:
        data = view.to_bytes()
        self.store.put_bytes(set_key(self.set.name, f"views/{view_id}.npz"), data, "application/octet-stream")
        self.set.views[view_id] = category
        self.digests[f"views/{view_id}"] = hashlib.sha256(data).hexdigest()

    def cloth(self, cloth_id: str, category: str, cloth: np.ndarray, mask: np.ndarray) -> None:
        png, mask_png = encode_png(cloth), encode_mask(mask)
        self.store.put_bytes(set_key(self.set.name, f"cloths/{cloth_id}.png"), png, "image/png")
        self.store.put_bytes(set_key(self.set.name, f"cloths/{cloth_id}_mask.png"), mask_png, "image/png")
        self.set.cloths[cloth_id] = category
        self.digests[f"cloths/{cloth_id}"] = hashlib.sha256(png + mask_png).hexdigest()

    def finish(self) -> EvalSet:
        lines = "".join(f"{k}\t{v}\n" for k, v in sorted(self.digests.items()))
        self.set.content_sha256 = hashlib.sha256(lines.encode()).hexdigest()
        self.set.pairs.sort(key=lambda p: (p.category, not p.paired, p.view, p.cloth))
        self.store.put_json(set_key(self.set.name, "set.json"), to_document(self.set))
        return self.set


def rotated_pairs(views: dict[str, str], wears: dict[str, str]) -> list[EvalPair]:
    """Unpaired pairs: in each category, every view with the cloth of the next view (in id order)."""
    pairs = []
    for category in CATEGORIES:
        ids = sorted(v for v, c in views.items() if c == category and v in wears)
        for index, view_id in enumerate(ids):
            other = ids[(index + 1) % len(ids)]
            if other != view_id:
                pairs.append(EvalPair(view_id, wears[other], category, paired=False))
    return pairs


def library_set(ctx: Any, name: str = LIBRARY_SET) -> EvalSet:
    """The set made from the model library: each ready view with its own worn garment as cloth."""
    from tasks.catalog.library import load_photo, load_view_labels, read_index

    writer = SetWriter(ctx.store, name, "the model library: each ready view, its own worn garment cut out as the cloth")
    wears: dict[str, str] = {}
    for row in sorted(read_index(ctx), key=lambda r: r.photo_id):
        if row.state != "ready":
            continue
        for category, suitable in sorted(row.suitable.items()):
            if not suitable:
                continue
            view_id = f"{row.photo_id}.{category}"
            labels = load_view_labels(ctx, row.photo_id, category)
            if labels is None:
                writer.set.refused[view_id] = (
                    "no parsing stored for this view (a library built before it kept one): rebuild the library"
                )
                continue
            view = View(labels=labels, **load_photo(ctx, row.photo_id, category))
            garment = worn_garment(view, category)
            if garment.sum() < MIN_GARMENT_SHARE * garment.size:
                writer.set.refused[view_id] = (
                    f"the worn {category} garment the parsing shows covers under {MIN_GARMENT_SHARE:.0%} of the view"
                )
                continue
            writer.view(view_id, category, view)
            writer.cloth(view_id, category, *cut_out(view.person, garment))
            wears[view_id] = view_id
            writer.set.pairs.append(EvalPair(view_id, view_id, category, paired=True))
    writer.set.pairs += rotated_pairs(writer.set.views, wears)
    return writer.finish()


def read_set(store: ObjectStore, name: str) -> EvalSet:
    key = set_key(name, "set.json")
    raw = store.get_json_or_none(key)
    if raw is None:
        raise LookupError(
            f"no evaluation set {name!r} ({key} is missing): make one with `tryon evaluate import PATH` or the library set"
        )
    return from_document(EvalSet, raw)


def load_view(store: ObjectStore, name: str, view_id: str) -> View:
    return View.from_bytes(store.get_bytes(set_key(name, f"views/{view_id}.npz")))


def load_cloth(store: ObjectStore, name: str, cloth_id: str) -> tuple[np.ndarray, np.ndarray]:
    return (
        decode_rgb(store.get_bytes(set_key(name, f"cloths/{cloth_id}.png"))),
        decode_mask(store.get_bytes(set_key(name, f"cloths/{cloth_id}_mask.png"))),
    )


# --- import ---------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Layout:
    """What a folder on disk holds: per category, person and cloth files and the pairs."""

    source: str
    persons: dict[str, tuple[str, Path]]  # person id -> (category, file)
    cloths: dict[str, tuple[str, Path]]
    paired: list[tuple[str, str]]  # (person id, cloth id)
    unpaired: list[tuple[str, str]]


def _pairs_file(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [(parts[0], parts[1]) for parts in (line.split() for line in path.read_text().splitlines()) if len(parts) >= 2]


def _stem(name: str) -> str:
    return Path(name).stem


def read_layout(folder: Path) -> Layout:
    """The VITON-HD or Dress Code test layout under ``folder`` (or its ``test/`` folder)."""
    folder = folder / "test" if (folder / "test").is_dir() and not (folder / "image").is_dir() else folder
    if (folder / "image").is_dir() and (folder / "cloth").is_dir():
        persons = {
            _stem(p.name): ("upper_body", p) for p in sorted((folder / "image").iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
        }
        cloths = {
            _stem(p.name): ("upper_body", p) for p in sorted((folder / "cloth").iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
        }
        listed = _pairs_file(folder / "test_pairs.txt") or _pairs_file(folder / "test_pairs_unpaired.txt")
        unpaired = [(_stem(a), _stem(b)) for a, b in listed if _stem(a) != _stem(b)]
        paired = [(p, p) for p in persons if p in cloths]
        return Layout("VITON-HD test layout", persons, cloths, paired, unpaired)
    persons, cloths, paired, unpaired = {}, {}, [], []
    for category in CATEGORIES:
        images = folder / category / "images"
        if not images.is_dir():
            continue
        for path in sorted(images.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and _stem(path.name).endswith(("_0", "_1")):
                (persons if _stem(path.name).endswith("_0") else cloths)[_stem(path.name)] = (category, path)
        listed_paired = _pairs_file(folder / category / "test_pairs_paired.txt")
        paired += [(_stem(a), _stem(b)) for a, b in listed_paired] or [
            (p, p[:-2] + "_1") for p, (c, _) in persons.items() if c == category and p[:-2] + "_1" in cloths
        ]
        unpaired += [(_stem(a), _stem(b)) for a, b in _pairs_file(folder / category / "test_pairs_unpaired.txt")]
    if not persons:
        raise ValueError(
            f"{folder}: neither the VITON-HD test layout (image/, cloth/, test_pairs.txt) nor Dress Code's "
            "(upper_body|lower_body|dresses/images/ with {id}_0 persons and {id}_1 cloths)"
        )
    return Layout("Dress Code test layout", persons, cloths, paired, unpaired)


def import_set(ctx: Any, folder: Path, name: str) -> EvalSet:
    """Prepare a folder in a known test layout as an evaluation set named ``name``."""
    from tasks.preprocess.backends import background_backend
    from tasks.preprocess.garment import prepare_garment
    from tasks.preprocess.model_photo import prepare_model_photo

    layout = read_layout(Path(folder))
    writer = SetWriter(ctx.store, name, f"{layout.source} imported from {Path(folder).name}")
    masker = background_backend(ctx.settings)
    view_of: dict[str, str] = {}
    for person_id, (category, path) in layout.persons.items():
        try:
            prepared = prepare_model_photo(decode_rgb(path.read_bytes()), ctx.settings)
        except Exception as error:  # a refused or unreadable photo: listed with its reason
            writer.set.refused[path.name] = f"person photo not usable: {error}"
            continue
        if category not in prepared.views:
            writer.set.refused[path.name] = f"no {category} view: {prepared.unsuitable.get(category, 'unsuitable')}"
            continue
        v = prepared.views[category]
        view_id = f"{person_id}.{category}"
        writer.view(view_id, category, View(v.image, v.person_mask, v.inpaint_mask, v.keypoints, v.labels))
        view_of[person_id] = view_id
    used = {c for pairs in (layout.paired, layout.unpaired) for _, c in pairs}
    for cloth_id, (category, path) in layout.cloths.items():
        if cloth_id not in used:
            continue
        try:
            garment = prepare_garment(decode_rgb(path.read_bytes()), masker)
        except Exception as error:
            writer.set.refused[path.name] = f"cloth not usable: {error}"
            continue
        writer.cloth(cloth_id, category, garment.cloth, garment.mask)
    for pairs, paired in ((layout.paired, True), (layout.unpaired, False)):
        for person_id, cloth_id in pairs:
            if person_id in view_of and cloth_id in writer.set.cloths:
                writer.set.pairs.append(EvalPair(view_of[person_id], cloth_id, writer.set.views[view_of[person_id]], paired))
            elif person_id in layout.persons and cloth_id in layout.cloths:
                writer.set.refused.setdefault(f"pair {person_id} {cloth_id}", "its person or cloth was refused (see above)")
            else:
                writer.set.refused[f"pair {person_id} {cloth_id}"] = "the pairs file names a file that is not in the folder"
    return writer.finish()


def describe(evalset: EvalSet) -> str:
    return json.dumps(
        {
            "name": evalset.name,
            "source": evalset.source,
            "counts": evalset.counts(),
            "refused": evalset.refused,
            "content_sha256": evalset.content_sha256,
        },
        indent=2,
    )
