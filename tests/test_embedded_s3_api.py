"""The embedded store answers the S3 API as moto's S3 does: the same calls, made with boto3 through
ObjectStore against both servers, give the same answers (listings, pages, common prefixes,
ranges, ETags, copies, deletes, errors, boto3's managed ranged download). Its objects are files:
a new server over the same folder sees every object intact, and writing does not grow the
process's memory by what was written."""

from __future__ import annotations

import hashlib
import resource
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tasks.embedded_s3 import embedded_s3
from tasks.settings import Settings
from tasks.storage import ObjectStore

KEYS = ["a/b/c.jpg", "a/b/d.png", "a/b+c/e f.json", "a/bz.bin", "a/é/ü.bin", "ab/x.bin", "b.bin", "z/z/z/z.bin", "a/b/c.jpg.1"]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    root = tmp_path_factory.mktemp("embedded") / "s3"
    settings = Settings(home=root.parent, bucket="compat")
    with embedded_s3(settings, root) as endpoint:
        yield settings.model_copy(update={"s3_endpoint_url": endpoint}), root


def _stores(s3_endpoint: str, embedded) -> list[ObjectStore]:
    moto = ObjectStore.from_settings(Settings(bucket=f"compat-{uuid.uuid4().hex[:8]}", s3_endpoint_url=s3_endpoint))
    ours = ObjectStore.from_settings(embedded[0].model_copy(update={"bucket": f"compat-{uuid.uuid4().hex[:8]}"}))
    for store in (moto, ours):
        store.ensure_bucket()
        for i, key in enumerate(KEYS):
            store.put_bytes(key, bytes([i]) * (100 + i))
    return [moto, ours]


def _answers(store: ObjectStore, big: bytes, tmp: Path) -> dict:
    client, bucket = store.client, store.bucket
    out: dict = {}
    for prefix in ("", "a/", "a/b", "a/b/", "nothing/", "a/é/"):
        out[f"keys {prefix}"] = list(store.list_keys(prefix))
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="a/", PaginationConfig={"PageSize": 2})
    out["pages"] = [[c["Key"] for c in page.get("Contents", [])] for page in pages]
    for prefix in ("", "a/"):
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": 2}
        )
        out[f"delimited {prefix}"] = [
            ([c["Key"] for c in p.get("Contents", [])], [c["Prefix"] for c in p.get("CommonPrefixes", [])]) for p in pages
        ]
    listed = client.list_objects_v2(Bucket=bucket, Prefix="a/b/", StartAfter="a/b/c.jpg")
    out["start after"] = [(c["Key"], c["Size"], c["ETag"]) for c in listed["Contents"]]
    out["head"] = store.head("a/b/c.jpg")
    out["head missing"] = store.head("a/b/nothing.jpg")
    out["get"] = store.get_bytes("a/é/ü.bin")
    for byte_range in ("bytes=0-9", "bytes=95-", "bytes=-7", "bytes=50-10000"):
        answer = client.get_object(Bucket=bucket, Key="a/b/c.jpg", Range=byte_range)
        out[byte_range] = (answer["Body"].read(), answer["ContentRange"], answer["ResponseMetadata"]["HTTPStatusCode"])
    with pytest.raises(ClientError) as missing:
        store.get_bytes("a/b/nothing.jpg")
    out["get missing"] = missing.value.response["Error"]["Code"]
    store.copy("a/b/d.png", "copied/d.png")
    out["copied"] = (store.get_bytes("copied/d.png"), store.head("copied/d.png"))
    store.put_bytes("a/b/d.png", b"overwritten")
    out["overwritten"] = (store.get_bytes("a/b/d.png"), store.head("a/b/d.png"))
    store.delete("b.bin")
    store.delete("never/was.bin")
    deleted = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "z/z/z/z.bin"}, {"Key": "gone.bin"}]})
    out["delete_objects"] = sorted(d["Key"] for d in deleted["Deleted"])
    out["after deletes"] = list(store.list_keys(""))
    # the S3 console's folder objects: zero-byte keys ending in "/", beside the keys under them
    for key in ("f/", "f/g/", "f/g/h.bin"):
        store.put_bytes(key, b"" if key.endswith("/") else b"h")
    out["folder objects"] = [(key, info.size) for key, info in store.list_objects("f/")]
    out["folder object head"] = store.head("f/g/")
    out["folder object delimited"] = (
        client.list_objects_v2(Bucket=bucket, Prefix="f/", Delimiter="/").get("Contents", [{}])[0].get("Key")
    )
    store.delete("f/g/")
    out["folder object deleted"] = list(store.list_keys("f/"))
    store.put_bytes("big/weights.bin", big)
    store.download("big/weights.bin", tmp / f"{bucket}.bin")  # boto3's ranged, parallel download
    out["download"] = hashlib.sha256((tmp / f"{bucket}.bin").read_bytes()).hexdigest()
    with pytest.raises(ClientError) as no_bucket:
        client.get_object(Bucket=f"{bucket}-none", Key="x")
    out["no bucket"] = no_bucket.value.response["Error"]["Code"]
    return out


def test_the_same_answers_as_moto(s3_endpoint, embedded, tmp_path):
    big = bytes(range(256)) * (40 * 1024 + 7)  # 10 MB: above boto3's multipart threshold
    moto, ours = (_answers(store, big, tmp_path) for store in _stores(s3_endpoint, embedded))
    for name in moto:
        assert ours[name] == moto[name], name
    assert ours["keys a/"] == ["a/b+c/e f.json", "a/b/c.jpg", "a/b/c.jpg.1", "a/b/d.png", "a/bz.bin", "a/é/ü.bin"]


def test_objects_are_files_that_outlive_the_server(embedded, tmp_path):
    settings, _ = embedded
    root = tmp_path / "s3"
    written = {}
    with embedded_s3(settings, root) as endpoint:
        store = ObjectStore.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint}))
        for i in range(40):
            written[f"generations/v/{i % 4}/{i}.jpg"] = hashlib.sha256(str(i).encode()).digest() * (i + 1)
            store.put_bytes(f"generations/v/{i % 4}/{i}.jpg", written[f"generations/v/{i % 4}/{i}.jpg"])
    assert {p.relative_to(root / settings.bucket).as_posix() for p in root.rglob("*") if p.is_file()} == set(written)
    with embedded_s3(settings, root) as endpoint:
        store = ObjectStore.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint}))
        assert sorted(store.list_keys("")) == sorted(written)
        for key, data in written.items():
            assert store.get_bytes(key) == data
            assert store.head(key).etag == hashlib.md5(data).hexdigest()


def test_writing_does_not_hold_objects_in_memory(embedded):
    settings, root = embedded
    store = ObjectStore.from_settings(settings)
    block = b"\x01" * (1 << 20)
    store.put_bytes("warm/0.bin", block)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(300):  # 300 MB through the server
        store.put_bytes(f"memory/{i}.bin", block)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 60, f"peak memory grew {grown_mb:.0f} MB writing 300 MB"
    assert sum(1 for _ in store.list_keys("memory/")) == 300
    assert (root / settings.bucket / "memory" / "299.bin").stat().st_size == 1 << 20
