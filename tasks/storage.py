"""S3 access through boto3 (configurable endpoint, botocore standard retries) and the key
layout of BRIEF section 3. Every key the pipeline writes is built by a function here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError, IncompleteReadError, ResponseStreamingError

from tasks.settings import Settings

T = TypeVar("T")

# --- key layout -------------------------------------------------------------------------


def drop_prefix(date: str) -> str:
    return f"drops/{date}/"


def drop_marker_key(date: str, marker: str) -> str:
    """The object that says the drop of ``date`` is complete (``Settings.drop_marker``)."""
    return drop_prefix(date) + marker


def library_photos_prefix() -> str:
    return "library/photos/"


def library_photo_id(name: str) -> str:
    """A library photo's id from its key or file name: the name without its folder or extension."""
    return name.rsplit("/", 1)[-1].rsplit(".", 1)[0]


LIBRARY_RELEASES_KEY = "library/releases.csv"  # each photo's talent release (tasks.catalog.releases)
LIBRARY_ARTIFACTS = "library/artifacts/"


def library_artifact_key(photo_id: str, name: str) -> str:
    return f"{LIBRARY_ARTIFACTS}{photo_id}/{name}"


def library_view_key(photo_id: str, category: str) -> str:
    """The photo as try-on of ``category`` is given it (refocused, ``tasks.catalog.library``)."""
    return library_artifact_key(photo_id, f"{category}/image.png")


def look_photo_view_key(photo_id: str) -> str:
    """The photo's view that stands for it beside a full-outfit image (the review page, the
    image's Content Credentials): its lower-body view, the one that shows the whole outfit."""
    return library_view_key(photo_id, "lower_body")


def library_index_key() -> str:
    return "library/index.parquet"


LIBRARY_CLUSTERS_KEY = "library/clusters.json"  # the k-means centroids and members per category
LIBRARY_LAST_BUILD_KEY = "library/last_build.json"
LIBRARY_OUTFITS_KEY = "library/outfits.parquet"  # each photo's outfit, as the looks model trains on it


def looks_model_key(version: str, name: str) -> str:
    """A compatibility model's files (``model.pt``, ``card.json``); ``current.json`` beside them."""
    return f"library/looks/{version}/{name}"


LOOKS_CURRENT_KEY = "library/looks/current.json"


def evaluation_key(evaluation_id: str, name: str) -> str:
    return f"reports/evaluations/{evaluation_id}/{name}"


def garment_artifact_key(garment_sha256: str, name: str) -> str:
    """Preprocessed garments are content-addressed: the same bytes are processed once."""
    return f"garments/{garment_sha256}/{name}"


def garment_cutout_key(garment_sha256: str) -> str:
    """The garment's cut-out, as try-on is given it (``tasks.catalog.garments``)."""
    return garment_artifact_key(garment_sha256, "cloth.png")


def generation_sku_prefix(model_version: str, sku: str) -> str:
    return f"generations/{model_version}/{sku}/"


def generation_key(model_version: str, sku: str, photo_id: str, generation_id: str, ext: str = "jpg") -> str:
    return f"{generation_sku_prefix(model_version, sku)}{photo_id}/{generation_id}.{ext}"


CREDENTIALED = ".c2pa.jpg"


def credentialed_key(generation_key: str) -> str:
    """The generation's JPEG with its Content Credentials, beside it: what the storefront gets
    (``tasks.storefront.credentialed``)."""
    return generation_key.rsplit(".", 1)[0] + CREDENTIALED


def generation_stem(key: str) -> str:
    """The generation id an object under ``generations/`` belongs to: its file name without the
    extension (``.jpg``, ``.json``, ``.c2pa.jpg``)."""
    name = key.rsplit("/", 1)[-1]
    return name[: -len(CREDENTIALED)] if name.endswith(CREDENTIALED) else name.rsplit(".", 1)[0]


STOREFRONT = "storefront/"
MANIFESTS = "manifests"  # storefront/manifests/: the dates' manifests
LOOKS = "looks"  # storefront/looks/, review/{date}/looks/, generations/{version}/looks/: full outfits and look files
# names the layout gives its own prefixes beside the SKUs' (compared without case: a bucket
# mirrored to a case-insensitive file system must not mix them either); a SKU of such a name is
# quarantined (``reserved_name``) and never used in a key
RESERVED_SKU_NAMES = frozenset({MANIFESTS, LOOKS})


def is_reserved_sku(sku: str) -> bool:
    return sku.lower() in RESERVED_SKU_NAMES


def storefront_sku_prefix(sku: str) -> str:
    """Every storefront image of one SKU (its slots), and nothing else."""
    return f"{STOREFRONT}{sku}/"


def storefront_key(sku: str, photo_id: str) -> str:
    return f"{storefront_sku_prefix(sku)}{photo_id}.jpg"


def storefront_manifest_key(date: str) -> str:
    return f"{STOREFRONT}{MANIFESTS}/{date}.json"


def review_prefix(date: str) -> str:
    return f"review/{date}/"


def review_key(date: str, sku: str, photo_id: str, generation_id: str, ext: str = "jpg") -> str:
    return f"{review_prefix(date)}{sku}/{photo_id}/{generation_id}.{ext}"


# full-outfit images (docs/looks.md): under ``looks/`` beside the SKUs' own prefixes
def look_generation_key(model_version: str, look_id: str, photo_id: str, generation_id: str, ext: str = "jpg") -> str:
    return f"generations/{model_version}/{LOOKS}/{look_id}/{photo_id}/{generation_id}.{ext}"


def look_file_key(sku: str) -> str:
    """The garments that go with ``sku`` (``tasks/looks/drop_looks.py``)."""
    return f"{STOREFRONT}{LOOKS}/{sku}.json"


def storefront_look_key(look_id: str, photo_id: str) -> str:
    return f"{STOREFRONT}{LOOKS}/{look_id}/{photo_id}.jpg"


def review_look_key(date: str, look_id: str, photo_id: str, generation_id: str, ext: str = "jpg") -> str:
    return f"{review_prefix(date)}{LOOKS}/{look_id}/{photo_id}/{generation_id}.{ext}"


def quarantine_prefix(date: str, sku: str) -> str:
    return f"quarantine/{date}/{sku}/"


QC_SUITES = "qc/suites/"


def qc_suite_key(version: int) -> str:
    """A calibrated QC suite version (``tryon qc calibrate``), current once promoted."""
    return f"{QC_SUITES}v{version}.yaml"


def report_key(date: str, name: str) -> str:
    return f"reports/{date}/{name}"


REPORT_THUMBS = "thumbs/"  # the report's thumbnails, under its date's prefix


def qc_table_key(date: str) -> str:
    """The date's QC table (``tasks.catalog.qc_table``)."""
    return report_key(date, "metrics.parquet")


def report_thumbnail_key(date: str, generation_id: str) -> str:
    """A generation's thumbnail beside its date's report (QC writes it when it measures the image)."""
    return report_key(date, f"{REPORT_THUMBS}{generation_id}.jpg")


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` is the store or the ledger failing (a connection refused or reset past
    every retry, a 5xx or throttling answer, the database unreachable), not one input being
    wrong: a stage lets such an error fail its task, to be retried, rather than quarantine a
    good input for it."""
    from sqlalchemy.exc import OperationalError

    if isinstance(error, (BotoCoreError, OperationalError)):
        return True
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status >= 500 or code in {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
    return False


def _none_if_missing(error: ClientError) -> None:
    """Return for an answer that says there is no such object (the caller answers None); raise
    any other error."""
    if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
        return None
    raise error


# --- client -----------------------------------------------------------------------------


def json_body(payload: Any) -> bytes:
    """The bytes ``ObjectStore.put_json`` writes for ``payload``."""
    return json.dumps(payload, indent=2, sort_keys=True).encode()


@dataclass(frozen=True)
class ObjectInfo:
    etag: str
    size: int


def client_options(settings: Settings) -> dict[str, Any]:
    """botocore's retries and path-style addressing, whoever makes the client (as the options
    of a botocore ``Config``, the form the Amazon provider's sensors take)."""
    return {"retries": {"mode": "standard", "total_max_attempts": settings.s3_max_attempts}, "s3": {"addressing_style": "path"}}


def client_config(settings: Settings) -> Config:
    return Config(**client_options(settings))


@dataclass
class ObjectStore:
    """A bucket and the few operations the pipeline needs on it."""

    client: Any
    bucket: str
    read_attempts: int = 5

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> ObjectStore:
        """The settings' bucket through ``client`` (one an Airflow connection gave), or through a
        client made from the ``TRYON_S3_*`` settings."""
        if client is None:
            client = boto3.client(
                "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=client_config(settings)
            )
        return cls(client=client, bucket=settings.bucket, read_attempts=settings.s3_max_attempts)

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def _answer(self, call: Callable[[], T]) -> T:
        """``call``'s answer, read again when it arrived broken. botocore retries a request that
        fails before its answer begins; an answer that breaks off after that (a body that stops
        streaming, a checksum that does not match what arrived, headers cut short so that a
        number in them is empty) reaches us as an error it does not retry. Every operation here
        is idempotent, so it is made again, up to ``read_attempts`` times."""
        attempt = 1
        while True:
            try:
                return call()
            except (ResponseStreamingError, IncompleteReadError, FlexibleChecksumError, ValueError):
                if attempt >= self.read_attempts:
                    raise
                time.sleep(min(5.0, 0.1 * 2**attempt))
                attempt += 1

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._answer(lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type))

    def put_json(self, key: str, payload: Any) -> None:
        self.put_bytes(key, json_body(payload), "application/json")

    def get_bytes(self, key: str) -> bytes:
        return self._answer(lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def get_json_or_none(self, key: str) -> Any:
        """The JSON object at ``key``, or None when there is none: one request where
        ``exists`` then ``get_json`` make two."""
        blob = self.get_bytes_or_none(key)
        return None if blob is None else json.loads(blob)

    def get_bytes_or_none(self, key: str) -> bytes | None:
        """The object at ``key``, or None when there is none (one request)."""
        try:
            return self.get_bytes(key)
        except ClientError as error:
            _none_if_missing(error)
            return None

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def head(self, key: str) -> ObjectInfo | None:
        """The object's ETag and size, or None when there is no such object."""
        if not key:
            return None

        def ask() -> ObjectInfo:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
            if "ETag" not in answer or "ContentLength" not in answer:  # headers cut short: ask again
                raise ValueError(f"HEAD {key}: the answer lacks its ETag or Content-Length")
            return ObjectInfo(etag=answer["ETag"].strip('"'), size=answer["ContentLength"])

        try:
            return self._answer(ask)
        except ClientError as error:
            _none_if_missing(error)
            return None

    def download(self, key: str, path: Path) -> None:
        """Stream an object to a local file (boto3's managed transfer: ranged, parallel parts for
        large objects), never holding it whole in memory: model weights are gigabytes."""
        self.client.download_file(self.bucket, key, str(path))

    def delete(self, key: str) -> None:
        self._answer(lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    def copy(self, source_key: str, dest_key: str) -> None:
        self._answer(
            lambda: self.client.copy_object(
                Bucket=self.bucket, Key=dest_key, CopySource={"Bucket": self.bucket, "Key": source_key}
            )
        )

    def list_keys(self, prefix: str) -> Iterator[str]:
        for key, _ in self.list_objects(prefix):
            yield key

    def list_objects(self, prefix: str) -> Iterator[tuple[str, ObjectInfo]]:
        """The keys under ``prefix`` with each object's ETag and size, as a listing gives them (a
        thousand a request: what a HEAD per object would tell, without the requests)."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], ObjectInfo(etag=item["ETag"].strip('"'), size=item["Size"])
