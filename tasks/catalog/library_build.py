"""A build of the model-photo library: what preprocessing each chunk of photos did (the
``preprocess`` tasks hand ``build_index`` these through XCom) and ``library/last_build.json``, the
build's counts and the photos' fingerprint it was built from (what ``tryon library build``
prints and what decides whether the next build is due)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.catalog.documents import from_document, to_document
from tasks.context import RunContext
from tasks.storage import LIBRARY_LAST_BUILD_KEY


@dataclass
class PhotoCounts:
    """What preprocessing a chunk of library photos did: photos seen, processed, unchanged
    (``cached``), names refused, and how many ended ready or rejected."""

    photos: int = 0
    processed: int = 0
    cached: int = 0
    refused: int = 0
    ready: int = 0
    rejected: int = 0


@dataclass
class LibraryBuild:
    """``library/last_build.json``: the index's counts, with what the build's run did (summed
    over its chunks) and the photos' fingerprint it was built from."""

    photos: int
    ready: int
    rejected: int
    clusters: dict[str, int]  # category -> clusters
    processed: int = 0
    unchanged: int = 0
    refused: int = 0
    photos_fingerprint: str | None = None
    built: str | None = None  # ISO time
    releases_changed: int = 0  # photos whose release the build recorded anew (library/releases.csv)
    release_problems: list[str] = field(default_factory=list)  # rows of releases.csv that name no release, in words


def read_last_build(ctx: RunContext) -> LibraryBuild | None:
    document = ctx.store.get_json_or_none(LIBRARY_LAST_BUILD_KEY)
    return None if document is None else from_document(LibraryBuild, document)


def write_last_build(ctx: RunContext, build: LibraryBuild) -> None:
    ctx.store.put_json(LIBRARY_LAST_BUILD_KEY, to_document(build))
