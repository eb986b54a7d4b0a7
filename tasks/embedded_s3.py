"""The embedded S3 of the default set-up: moto's S3 server on 127.0.0.1 with a free port. It is
a real S3 API over HTTP; boto3 talks to it exactly as to AWS or MinIO.

moto keeps objects in memory, so the embedded default keeps the bucket in a local folder as
well (``.tryon/s3/{bucket}/``, chosen by the caller), written through: every write (PUT, copy,
multipart completion, delete) is on disk, fsynced, before the client hears that it succeeded,
and a write that cannot be kept on disk is answered with an error. A run killed at any moment
(SIGKILL, Ctrl-C, a power cut after the fsync) loses no acknowledged write. The folder is
loaded when the server starts, which lets ``tryon run --date D`` see what ``tryon demo``
uploaded, and lets a person drop files into the folder by hand.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.s3.models import s3_backends
from werkzeug.serving import make_server

from tasks.settings import Settings
from tasks.storage import ObjectStore

# moto needs credentials to sign requests; they are not checked.
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PARTIAL_SUFFIX = ".tryon-partial"  # a file being written; never loaded, removed at start
_WRITES = ("PUT", "POST", "DELETE")


class WriteThrough:
    """WSGI middleware in front of moto: after moto applies a write to bucket ``bucket``, the
    object as moto now holds it (or its absence) is written to ``folder`` before the response
    leaves. Writes to one key are serialised, so the folder ends as the bucket does."""

    def __init__(self, app: Callable, bucket: str, folder: Path) -> None:
        self.app, self.bucket, self.folder = app, bucket, folder.resolve()
        self.enabled = False  # off while the folder itself is being loaded
        self._locks = [threading.Lock() for _ in range(64)]

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not self.enabled or environ["REQUEST_METHOD"] not in _WRITES:
            return self.app(environ, start_response)
        bucket, _, key = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace").lstrip("/").partition("/")
        if bucket != self.bucket:
            return self.app(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if key and self.path_of(key) is None:
            return _error(start_response, "400 Bad Request", "InvalidArgument",
                          f"the embedded store keeps objects as files; {key!r} cannot be one")
        if key and ("uploadId" in query and environ["REQUEST_METHOD"] == "PUT" or "uploads" in query):
            return self.app(environ, start_response)  # a part or a new upload: nothing visible changes yet
        lock = self._locks[int(hashlib.blake2b(key.encode(), digest_size=2).hexdigest(), 16) % len(self._locks)]
        with lock:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
                captured.update(status=status, headers=headers, exc_info=exc_info)
                return lambda _data: None

            body = self.app(environ, capture)
            if captured["status"].startswith("2"):
                try:
                    if key:
                        self.persist(key)
                    elif "delete" in query:  # DeleteObjects: the bucket's keys decide what stays
                        self.drop_missing()
                except OSError as error:
                    if hasattr(body, "close"):
                        body.close()
                    return _error(start_response, "503 Service Unavailable", "ServiceUnavailable",
                                  f"the write was not kept on disk: {error}")
        start_response(captured["status"], captured["headers"], captured["exc_info"])
        return body

    def path_of(self, key: str) -> Path | None:
        """The file of ``key`` inside the folder, or None for a key that cannot be a file there."""
        if not key or key.endswith("/") or any(part in ("", ".", "..") for part in key.split("/")) or "\x00" in key:
            return None
        if key.rsplit("/", 1)[-1].endswith(PARTIAL_SUFFIX):
            return None
        return self.folder / key

    def persist(self, key: str) -> None:
        obj = _backend().get_object(self.bucket, key)
        path = self.path_of(key)
        if obj is None:
            path.unlink(missing_ok=True)
            return
        write_durably(path, obj.value)

    def drop_missing(self) -> None:
        keys = set(_backend().get_bucket(self.bucket).keys.keys())
        for path in list(self.folder.rglob("*")):
            if path.is_file() and path.relative_to(self.folder).as_posix() not in keys:
                path.unlink(missing_ok=True)


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _backend() -> Any:
    return s3_backends[DEFAULT_ACCOUNT_ID]["global"]


def _error(start_response: Callable, status: str, code: str, message: str) -> list[bytes]:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{_xml_escape(message)}</Message></Error>").encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@contextmanager
def embedded_s3(settings: Settings, mirror: Path | None = None) -> Iterator[str]:
    """Start the server, point ``TRYON_S3_ENDPOINT_URL`` (and Airflow's ``aws_default``
    connection) at it for this process, create the bucket (loading ``mirror`` into it and
    writing through to it from then on), and yield the endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    app = DomainDispatcherApplication(create_backend_app)
    write_through = WriteThrough(app, settings.bucket, mirror) if mirror is not None else None
    server = make_server("127.0.0.1", 0, write_through or app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="embedded-s3")
    thread.start()
    host, port = server.server_address[:2]
    endpoint = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in (*_FAKE_CREDENTIALS, "TRYON_S3_ENDPOINT_URL")}
    for key, value in _FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    os.environ["TRYON_S3_ENDPOINT_URL"] = endpoint
    try:
        store = ObjectStore.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint}))
        store.ensure_bucket()
        if write_through is not None:
            load_mirror(store, mirror)
            write_through.enabled = True
        yield endpoint
    finally:
        server.shutdown()
        thread.join()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_mirror(store: ObjectStore, folder: Path) -> int:
    """Upload every file under ``folder`` to the bucket, keyed by its relative path; the
    leftovers of writes a crash interrupted are removed, never loaded."""
    count = 0
    if not folder.is_dir():
        return count
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name.endswith(PARTIAL_SUFFIX):
            path.unlink()
        elif path.is_file():
            store.put_bytes(path.relative_to(folder).as_posix(), path.read_bytes())
            count += 1
    return count
