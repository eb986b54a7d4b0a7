"""The embedded store's buckets and objects: a bucket is a folder and an object a file, every
write fsynced before it is acknowledged (see ``tasks.embedded_s3``)."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
import threading
import uuid
from collections.abc import Iterable
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote
from wsgiref.types import StartResponse, WSGIEnvironment
from xml.etree import ElementTree

from tasks.embedded_s3.wire import (
    CHUNK,
    NS,
    Response,
    S3Error,
    error_response,
    iso_time,
    no_such_key,
    not_implemented,
    request_body,
    stream,
    untoken,
    xml_response,
)

PARTIAL_SUFFIX = ".tryon-partial"  # a file being written; never listed, removed at start


FOLDER_OBJECT = ".tryon-folder-object"  # the file of a key ending in "/" (a folder object), inside that folder


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def write_durably(path: Path, data: bytes, structure: threading.Lock | None = None) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never half.
    ``structure`` (held while folders are made) keeps a concurrent delete from removing the
    folder between its creation and the temporary file's."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")
    with structure or threading.Lock():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(partial, "wb")
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


class FolderS3:
    """The WSGI application: buckets are the folders under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._structure = threading.Lock()  # folders made or removed
        self._keys = [threading.Lock() for _ in range(64)]  # writes to one key, in order
        self._etags: dict[tuple[str, int, int], str] = {}
        self.remove_partials()

    # --- plumbing -------------------------------------------------------------------------

    def remove_partials(self) -> None:
        for path in self.root.rglob(f"*{PARTIAL_SUFFIX}"):
            path.unlink(missing_ok=True)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            # read the whole request first, even one refused: unread bytes would be taken for
            # the next request on the connection
            environ["tryon.body"] = request_body(environ)
            status, headers, body = self.route(environ)
        except S3Error as error:
            status, headers, body = error_response(error, environ["REQUEST_METHOD"] == "HEAD")
        except OSError as error:
            status, headers, body = error_response(
                S3Error("503 Service Unavailable", "ServiceUnavailable", f"the embedded store could not do it: {error}"), False
            )
        start_response(status, [*headers, ("x-amz-request-id", uuid.uuid4().hex[:16].upper())])
        return body

    def route(self, environ: WSGIEnvironment) -> Response:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "surrogateescape")
        bucket, _, key = path.lstrip("/").partition("/")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        if not bucket:
            if method == "GET":
                return self.list_buckets()
            raise not_implemented(method, "/")
        if {"uploads", "uploadId", "versioning", "acl", "policy", "tagging", "versions"} & query.keys():
            raise not_implemented(method, next(iter(query)))
        if not key:
            return self.bucket_operation(method, bucket, query, environ)
        folder = self.bucket_folder(bucket)
        if method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            return self.copy_object(folder, key, environ["HTTP_X_AMZ_COPY_SOURCE"])
        if method == "PUT":
            return self.put_object(folder, key, environ["tryon.body"])
        if method in ("GET", "HEAD"):
            return self.get_object(folder, key, environ.get("HTTP_RANGE"), head=method == "HEAD")
        if method == "DELETE":
            self.delete_key(folder, key)
            return "204 No Content", [], []
        raise not_implemented(method, "an object")

    def bucket_operation(self, method: str, bucket: str, query: dict[str, str], environ: WSGIEnvironment) -> Response:
        if method == "PUT":
            if not _BUCKET_NAME.match(bucket):
                raise S3Error("400 Bad Request", "InvalidBucketName", f"{bucket!r} is not a valid bucket name")
            (self.root / bucket).mkdir(exist_ok=True)
            return "200 OK", [("Location", f"/{bucket}"), ("Content-Length", "0")], []
        folder = self.bucket_folder(bucket)
        if method == "HEAD":
            return "200 OK", [("Content-Length", "0")], []
        if method == "GET" and "location" in query:
            return xml_response("LocationConstraint", None)
        if method == "GET":
            return self.list_objects(bucket, folder, query)
        if method == "POST" and "delete" in query:
            return self.delete_objects(folder, environ["tryon.body"])
        if method == "DELETE":
            try:
                folder.rmdir()
            except OSError:
                raise S3Error("409 Conflict", "BucketNotEmpty", "the bucket you tried to delete is not empty") from None
            return "204 No Content", [], []
        raise not_implemented(method, "a bucket")

    def bucket_folder(self, bucket: str) -> Path:
        folder = self.root / bucket
        if not _BUCKET_NAME.match(bucket) or not folder.is_dir():
            raise S3Error("404 Not Found", "NoSuchBucket", f"the bucket {bucket!r} does not exist")
        return folder

    def path_of(self, folder: Path, key: str) -> Path:
        """The file of ``key`` inside ``folder``; a key that cannot be a file there is refused. A
        key ending in ``/`` (a folder object, as the S3 console makes) is a file of its own inside
        that folder, ``FOLDER_OBJECT``."""
        parts = key[:-1].split("/") + [FOLDER_OBJECT] if key.endswith("/") else key.split("/")
        if (
            not key
            or any(part in ("", ".", "..") for part in parts)
            or "\x00" in key
            or parts[-1].endswith(PARTIAL_SUFFIX)
            or (parts[-1] == FOLDER_OBJECT and not key.endswith("/"))
            or len(key.encode("utf-8", "surrogateescape")) > 1024
        ):
            raise S3Error(
                "400 Bad Request", "InvalidArgument", f"the embedded store keeps objects as files; {key!r} cannot be one"
            )
        return folder.joinpath(*parts)

    def key_lock(self, path: Path) -> threading.Lock:
        return self._keys[int(hashlib.blake2b(str(path).encode("utf-8", "surrogateescape"), digest_size=2).hexdigest(), 16) % 64]

    def etag(self, path: Path, stat: os.stat_result) -> str:
        """The object's MD5, remembered per (file, inode, mtime): a rename over it changes both."""
        token = (str(path), stat.st_ino, stat.st_mtime_ns)
        if token not in self._etags:
            digest = hashlib.md5(usedforsecurity=False)
            with open(path, "rb") as handle:
                while block := handle.read(CHUNK):
                    digest.update(block)
            if len(self._etags) > 200_000:
                self._etags.clear()
            self._etags[token] = digest.hexdigest()
        return self._etags[token]

    # --- objects --------------------------------------------------------------------------

    def put_object(self, folder: Path, key: str, data: bytes) -> Response:
        etag, _ = self.write(folder, key, data)
        return "200 OK", [("ETag", f'"{etag}"'), ("Content-Length", "0")], []

    def copy_object(self, folder: Path, key: str, source: str) -> Response:
        source_bucket, _, source_key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
        data = self.read(self.path_of(self.bucket_folder(source_bucket), source_key), source_key)
        etag, stat = self.write(folder, key, data)
        return xml_response("CopyObjectResult", [("LastModified", iso_time(stat.st_mtime)), ("ETag", f'"{etag}"')])

    def write(self, folder: Path, key: str, data: bytes) -> tuple[str, os.stat_result]:
        """Keep ``data`` as the object ``key``; its ETag (remembered for later reads) and file stat."""
        path = self.path_of(folder, key)
        with self.key_lock(path):
            try:
                write_durably(path, data, self._structure)
            except (NotADirectoryError, IsADirectoryError, FileExistsError):
                raise S3Error(
                    "400 Bad Request",
                    "InvalidArgument",
                    f"the embedded store keeps objects as files; {key!r} cannot be one beside the objects it would contain or sit under",
                ) from None
            stat = path.stat()
            etag = self._etags[(str(path), stat.st_ino, stat.st_mtime_ns)] = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return etag, stat

    def read(self, path: Path, key: str) -> bytes:
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise no_such_key(key) from None

    def get_object(self, folder: Path, key: str, byte_range: str | None, head: bool) -> Response:
        path = self.path_of(folder, key)
        try:
            handle = open(path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise no_such_key(key) from None
        stat = os.fstat(handle.fileno())
        size = stat.st_size
        headers = [
            ("ETag", f'"{self.etag(path, stat)}"'),
            ("Last-Modified", formatdate(stat.st_mtime, usegmt=True)),
            ("Content-Type", mimetypes.guess_type(key)[0] or "application/octet-stream"),
            ("Accept-Ranges", "bytes"),
        ]
        start, end, status = 0, size - 1, "200 OK"
        if byte_range and (match := _RANGE.match(byte_range.strip())) and any(match.groups()):
            first, last = match.groups()
            start, end = (max(0, size - int(last)), size - 1) if not first else (int(first), min(size - 1, int(last or size - 1)))
            if start >= size or start > end:
                handle.close()
                raise S3Error("416 Requested Range Not Satisfiable", "InvalidRange", "the requested range is not satisfiable")
            status = "206 Partial Content"
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        headers.append(("Content-Length", str(end - start + 1)))
        if head:
            handle.close()
            return status, headers, []
        return status, headers, stream(handle, start, end - start + 1)

    def delete_key(self, folder: Path, key: str) -> None:
        path = self.path_of(folder, key)
        with self.key_lock(path), self._structure:
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return  # S3 answers a delete of a missing key with success
            parent = path.parent
            while parent != folder:  # empty folders would otherwise pile up and slow listings
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

    def delete_objects(self, folder: Path, body: bytes) -> Response:
        request = ElementTree.fromstring(body)
        quiet = (request.findtext(f"{{{NS}}}Quiet") or request.findtext("Quiet") or "").lower() == "true"
        results = []
        for item in list(request.iter(f"{{{NS}}}Object")) + list(request.iter("Object")):
            key = item.findtext(f"{{{NS}}}Key") or item.findtext("Key") or ""
            try:
                self.delete_key(folder, key)
                if not quiet:
                    results.append(("Deleted", [("Key", key)]))
            except S3Error as error:
                results.append(("Error", [("Key", key), ("Code", error.code), ("Message", error.message)]))
        return xml_response("DeleteResult", results)

    # --- listings -------------------------------------------------------------------------

    def keys_under(self, folder: Path, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted as S3 sorts them (by UTF-8 bytes, which is
        code-point order). Only the folder the prefix names is walked."""
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = folder.joinpath(*base.split("/")) if base else folder
        keys: list[str] = []
        for directory, subfolders, files in os.walk(start):
            relative = Path(directory).relative_to(folder).as_posix()
            head = "" if relative == "." else relative + "/"
            if head and not (head.startswith(prefix) or prefix.startswith(head)):
                subfolders.clear()
                continue
            keys.extend(
                key
                for name in files
                if not name.endswith(PARTIAL_SUFFIX)
                and (key := head + ("" if name == FOLDER_OBJECT else name)).startswith(prefix)
            )
        return sorted(keys)

    def list_objects(self, bucket: str, folder: Path, query: dict[str, str]) -> Response:
        if query.get("list-type") != "2":
            raise not_implemented("GET", "ListObjects (version 1); use ListObjectsV2")
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        encode = query.get("encoding-type") == "url"
        max_keys = min(1000, int(query.get("max-keys") or 1000))
        token = query.get("continuation-token")
        after = untoken(token) if token else query.get("start-after", "")
        entries: list[tuple[str, bool]] = []  # (key or common prefix, is a prefix)
        truncated = False
        for key in self.keys_under(folder, prefix):
            if key <= after:
                continue
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: len(prefix) + key[len(prefix) :].index(delimiter) + len(delimiter)]
                if entries and entries[-1] == (common, True) or common <= after:
                    continue
                item = (common, True)
            else:
                item = (key, False)
            if len(entries) == max_keys:
                truncated = True
                break
            entries.append(item)

        def name(text: str) -> str:
            return quote(text, safe="/") if encode else text

        fields: list[tuple[str, Any]] = [
            ("Name", bucket),
            ("Prefix", name(prefix)),
            ("KeyCount", str(len(entries))),
            ("MaxKeys", str(max_keys)),
            ("IsTruncated", "true" if truncated else "false"),
        ]
        if delimiter:
            fields.append(("Delimiter", name(delimiter)))
        if encode:
            fields.append(("EncodingType", "url"))
        if token:
            fields.append(("ContinuationToken", token))
        if "start-after" in query:
            fields.append(("StartAfter", name(query["start-after"])))
        if truncated:
            last = entries[-1][0]
            fields.append(("NextContinuationToken", base64.urlsafe_b64encode(last.encode("utf-8", "surrogateescape")).decode()))
        for entry, is_prefix in entries:
            if is_prefix:
                fields.append(("CommonPrefixes", [("Prefix", name(entry))]))
                continue
            path = self.path_of(folder, entry)
            try:
                stat = path.stat()
                etag = self.etag(path, stat)
            except FileNotFoundError:
                continue  # deleted while listed
            fields.append(
                (
                    "Contents",
                    [
                        ("Key", name(entry)),
                        ("LastModified", iso_time(stat.st_mtime)),
                        ("ETag", f'"{etag}"'),
                        ("Size", str(stat.st_size)),
                        ("StorageClass", "STANDARD"),
                    ],
                )
            )
        return xml_response("ListBucketResult", fields)

    def list_buckets(self) -> Response:
        buckets = [
            ("Bucket", [("Name", p.name), ("CreationDate", iso_time(p.stat().st_mtime))])
            for p in sorted(self.root.iterdir())
            if p.is_dir() and _BUCKET_NAME.match(p.name)
        ]
        return xml_response(
            "ListAllMyBucketsResult", [("Owner", [("ID", "tryon"), ("DisplayName", "tryon")]), ("Buckets", buckets)]
        )
