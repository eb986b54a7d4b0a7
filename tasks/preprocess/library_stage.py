"""The model-photo library stage: every photo under ``library/photos/`` is preprocessed once per
content hash, then the library is clustered per category and indexed. What it writes, and how
the other stages read it, is ``tasks.catalog.library``."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from datetime import UTC, datetime

import numpy as np

from tasks.catalog.library import (
    ClusterSet,
    IndexRow,
    PhotoMeta,
    ViewMeta,
    photo_metas,
    read_photo_meta,
    write_index,
    write_photo,
    write_photo_meta,
    write_view,
)
from tasks.catalog.library_build import LibraryBuild, PhotoCounts, read_last_build, write_last_build
from tasks.catalog.releases import PhotoRelease, ReleasesFile, parse_releases
from tasks.context import RunContext
from tasks.images import (
    ImageDecodeError,
    decode_rgb,
    sha256_hex,
)
from tasks.ledger import ModelPhoto, PhotoReleaseRow, PhotoState
from tasks.preprocess.cleaning import PhotoRejected
from tasks.preprocess.embedding import cluster_count, kmeans
from tasks.preprocess.model_photo import PREPARATION_VERSION, PreparedPhoto, prepare_model_photo
from tasks.rights import current_releases
from tasks.settings import CATEGORIES
from tasks.states import move
from tasks.storage import LIBRARY_RELEASES_KEY, library_photo_id, library_photos_prefix
from tasks.worker_threads import each_on_threads

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
SAFE_PHOTO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _rejected(photo_id: str, sha256: str, key: str, reason: str) -> PhotoMeta:
    return PhotoMeta(photo_id, sha256, key, PhotoState.REJECTED.value, reason, backends={"preparation": PREPARATION_VERSION})


def _store_photo(ctx: RunContext, photo_id: str, sha256: str, key: str, photo: PreparedPhoto) -> PhotoMeta:
    write_photo(ctx, photo_id, photo.pose, photo.labels, photo.person_mask)
    views = {}
    for category, view in photo.views.items():
        write_view(ctx, photo_id, category, view, photo.pose.backend)
        views[category] = ViewMeta(crop=view.crop.to_dict(), embedding=view.embedding.tolist())
    return PhotoMeta(
        photo_id=photo_id,
        sha256=sha256,
        source_key=key,
        state=PhotoState.READY.value,
        reason=None,
        categories=photo.categories,
        unsuitable=photo.unsuitable,
        keypoints=photo.pose.keypoints.reshape(-1).tolist(),
        backends=photo.backends,
        views=views,
        sharpness=photo.sharpness,
        timings_ms={k: round(v, 2) for k, v in photo.timings_ms.items()},
    )


def preprocess_photo(ctx: RunContext, key: str) -> tuple[PhotoMeta, str]:
    """Bring one photo's artifacts up to date. Returns its metadata and what happened to it:
    ``processed`` (preprocessing ran), ``unchanged`` (its sha256 was already done) or
    ``refused`` (a name that cannot be a photo id: recorded as rejected, never processed)."""
    photo_id = library_photo_id(key)
    data = ctx.store.get_bytes(key)
    sha256 = sha256_hex(data)
    if not key.lower().endswith(PHOTO_EXTENSIONS) or not SAFE_PHOTO_ID.match(photo_id):
        # recorded under a safe id; nothing is written under the unsafe name
        photo_id = f"invalid-{sha256_hex(key.encode())[:12]}"
        meta = _rejected(photo_id, sha256, key, f"invalid_name: {key!r} (expected a safe id and .jpg/.jpeg/.png)")
        write_photo_meta(ctx, meta)
        return meta, "refused"
    known = read_photo_meta(ctx, photo_id)
    if known is not None and known.sha256 == sha256 and known.backends.get("preparation") == PREPARATION_VERSION:
        return known, "unchanged"  # the same bytes, prepared the same way
    try:
        meta = _store_photo(ctx, photo_id, sha256, key, prepare_model_photo(decode_rgb(data), ctx.settings))
    except (ImageDecodeError, PhotoRejected) as error:
        meta = _rejected(photo_id, sha256, key, str(error))
    write_photo_meta(ctx, meta)
    return meta, "processed"


def preprocess_model_photos(ctx: RunContext, keys: list[str] | None = None) -> PhotoCounts:
    """Preprocess the given library keys (default: all), on the process's CPU threads; return counts: how many photos were
    processed, how many were unchanged (``cached``) and how many names were refused."""
    keys = sorted(ctx.store.list_keys(library_photos_prefix())) if keys is None else keys
    counts = PhotoCounts()
    for meta, outcome in each_on_threads(lambda key: preprocess_photo(ctx, key), keys, ctx.settings.cpu_threads):
        _record(ctx, meta)
        counts.photos += 1
        if outcome == "unchanged":
            counts.cached += 1
        elif outcome == "refused":
            counts.refused += 1
        else:
            counts.processed += 1
        if meta.state == PhotoState.READY.value:
            counts.ready += 1
        else:
            counts.rejected += 1
    return counts


def photos_fingerprint(ctx: RunContext) -> str:
    """What the library is made of: every photo under ``library/photos/`` as listed (key, ETag,
    size) and the backends that prepare them. Another upload, a deletion or another backend gives
    another fingerprint; the listing alone is read."""
    settings = ctx.settings
    lines = [f"{key} {info.etag} {info.size}" for key, info in sorted(ctx.store.list_objects(library_photos_prefix()))]
    releases = ctx.store.head(LIBRARY_RELEASES_KEY)  # a changed release is a change too
    if releases is not None:
        lines.append(f"{LIBRARY_RELEASES_KEY} {releases.etag} {releases.size}")
    lines.append(
        f"backends {settings.pose_backend} {settings.parsing_backend} {settings.embedding_backend} {PREPARATION_VERSION}"
    )
    return sha256_hex("\n".join(lines).encode())


def library_changed(ctx: RunContext) -> str | None:
    """The photos' fingerprint when it differs from the last build's (a build is due), else None."""
    fingerprint = photos_fingerprint(ctx)
    last = read_last_build(ctx)
    return None if last is not None and last.photos_fingerprint == fingerprint else fingerprint


def build_index(ctx: RunContext, chunk_counts: list[PhotoCounts] | None = None, fingerprint: str | None = None) -> LibraryBuild:
    """Cluster the ready photos per category (k-means over the worn-garment embeddings),
    write each photo's clusters into its meta.json, then ``library/index.parquet``,
    ``library/clusters.json`` and ``library/last_build.json`` (with the preprocessing counts
    of the run, summed over its chunks: how many photos were processed, how many unchanged, how
    many names refused) and the photos' ``fingerprint`` taken before they were listed."""
    live = {library_photo_id(k) for k in ctx.store.list_keys(library_photos_prefix())}
    releases_changed, release_problems = record_releases(ctx)
    metas = [m for m in photo_metas(ctx) if m.photo_id in live or m.photo_id.startswith("invalid-")]
    clusters: dict[str, ClusterSet] = {}
    for category in CATEGORIES:
        members = [m for m in metas if m.state == PhotoState.READY.value and category in m.views]
        if not members:
            continue
        vectors = np.array([m.views[category].embedding for m in members], np.float32)
        centroids, assignment = kmeans(vectors, cluster_count(len(members)), seed=0)
        for meta, cluster in zip(members, assignment):
            meta.views[category].cluster = int(cluster)
        clusters[category] = ClusterSet(
            backend=members[0].backends.get("embedding"),
            centroids=centroids.tolist(),
            members={str(c): sorted(m.photo_id for m, a in zip(members, assignment) if a == c) for c in range(len(centroids))},
        )
    for meta in metas:
        if meta.state == PhotoState.READY.value:
            write_photo_meta(ctx, meta)
        _record(ctx, meta)
    rows = [_index_row(m) for m in sorted(metas, key=lambda m: m.photo_id)]
    write_index(ctx, rows, clusters)
    build = LibraryBuild(
        photos=len(rows),
        ready=sum(m.state == PhotoState.READY.value for m in metas),
        rejected=sum(m.state == PhotoState.REJECTED.value for m in metas),
        clusters={c: len(v.centroids) for c, v in clusters.items()},
        processed=sum(c.processed for c in chunk_counts or []),
        unchanged=sum(c.cached for c in chunk_counts or []),
        refused=sum(c.refused for c in chunk_counts or []),
        photos_fingerprint=fingerprint,
        built=datetime.now(UTC).isoformat(),
        releases_changed=releases_changed,
        release_problems=release_problems,
    )
    write_last_build(ctx, build)
    return build


def record_releases(ctx: RunContext) -> tuple[int, list[str]]:
    """Each photo's release as ``library/releases.csv`` states it now, recorded in the ledger
    where it changed (a new row: the old ones are its history); a photo the file stopped listing
    gets a revoked row. Returns how many photos changed and the file's problems, in words."""
    blob = ctx.store.get_bytes_or_none(LIBRARY_RELEASES_KEY)
    stated = parse_releases(blob.decode("utf-8-sig")) if blob is not None else ReleasesFile({}, [])
    changed = 0
    with ctx.ledger.session() as session:
        current = current_releases(session)
        for photo_id, release in sorted(stated.releases.items()):
            row = current.get(photo_id)
            if row is None or _stated(row) != release:
                session.add(_recorded(release))
                changed += 1
        for photo_id, row in sorted(current.items()):
            if photo_id not in stated.releases and not row.revoked:
                session.add(_recorded(replace(_stated(row), revoked=True), f"no longer listed in {LIBRARY_RELEASES_KEY}"))
                changed += 1
    return changed, stated.problems


def _recorded(release: PhotoRelease, note: str | None = None) -> PhotoReleaseRow:
    """``release`` as its ledger row (lists as JSON arrays)."""
    fields = asdict(release) | {"channels": list(release.channels), "territories": list(release.territories)}
    return PhotoReleaseRow(**fields, note=note)


def _stated(row: PhotoReleaseRow) -> PhotoRelease:
    return PhotoRelease(
        photo_id=row.photo_id,
        release_id=row.release_id,
        channels=tuple(row.channels),
        territories=tuple(row.territories),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        ai_use=row.ai_use,
        revoked=row.revoked,
    )


def describe_build(build: LibraryBuild) -> str:
    """A build's summary in words: every photo counted once as ready or rejected (of those, how
    many for a name that cannot be an id), then what this run did."""
    why = f" ({build.refused} of them for a name that cannot be a photo id)" if build.refused else ""
    return (
        f"library: {build.photos} photos, {build.ready} ready, {build.rejected} rejected{why}"
        f"{' (the reasons below)' if build.rejected else ''}; this run processed {build.processed}, "
        f"{build.unchanged} unchanged; clusters {build.clusters}"
    )


def _index_row(meta: PhotoMeta) -> IndexRow:
    """The photo's row of the library index."""
    views = meta.views
    return IndexRow(
        photo_id=meta.photo_id,
        sha256=meta.sha256,
        state=meta.state,
        reason=meta.reason,
        keypoints=meta.keypoints,
        suitable={c: c in views for c in CATEGORIES},
        unsuitable_reasons=dict(meta.unsuitable),
        clusters={c: v.cluster for c, v in views.items() if v.cluster is not None},
        embeddings={c: v.embedding for c, v in views.items()},
        backends=dict(meta.backends),
    )


def _record(ctx: RunContext, meta: PhotoMeta) -> None:
    with ctx.ledger.session() as session:
        row = session.get(ModelPhoto, meta.photo_id) or ModelPhoto(photo_id=meta.photo_id)
        row.sha256, row.source_key = meta.sha256, meta.source_key
        move(row, meta.state, meta.reason)
        row.categories, row.backends = meta.categories, meta.backends
        session.merge(row)
