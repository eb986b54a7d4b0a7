"""The embedded S3 of the default set-up: an S3 API over HTTP on 127.0.0.1 (a free port) whose
buckets are folders and whose objects are files (``.tryon/s3/{bucket}/{key}``). boto3 talks to it
as to AWS or MinIO, through the same ``ObjectStore`` code that the tests run against moto's S3.

Why not moto's server, as before: moto holds every object in memory, so the embedded default
uploaded the whole folder into it at every command and grew by the size of every object written
(issue 16: 2.5 MB of memory per generation, and a start-up that read every past drop). Here
nothing is loaded at start and nothing is held: a request reads or writes the one file it names.

It serves the operations the pipeline and boto3's managed download use: buckets (create, head,
list), objects (put, get with ranges, head, delete, copy), ListObjectsV2 (prefix, delimiter,
pages, start-after, URL encoding) and DeleteObjects. Anything else (multipart uploads,
versioning, ACLs) is answered 501 NotImplemented, never pretended. Credentials are not checked:
it listens on loopback only.

Every write is on disk, fsynced, before the client hears that it succeeded (a temporary file
renamed over the object), and a write that cannot be kept is answered with an error. A process
killed at any moment loses no acknowledged write; the leftovers of an interrupted write are
never listed and are removed at start. ETags are the MD5 of the bytes (computed when written or
first asked for); the content type is the one the key's extension implies.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from tasks.embedded_s3.folder import FOLDER_OBJECT, PARTIAL_SUFFIX, FolderS3
from tasks.settings import Settings
from tasks.storage import ObjectStore

__all__ = ["FOLDER_OBJECT", "PARTIAL_SUFFIX", "FolderS3", "embedded_s3"]

# boto3 needs credentials to sign requests; they are not checked.
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:  # one access-log line per request otherwise
        pass


@contextmanager
def embedded_s3(settings: Settings, root: Path | None = None) -> Iterator[str]:
    """Serve the buckets kept under ``root`` (one folder each; a temporary folder when None),
    point ``TRYON_S3_ENDPOINT_URL`` at the server for this process, create the settings' bucket
    when the store holds none yet (its first start: a mistyped ``TRYON_BUCKET`` later is refused
    by the commands' preflight, ``tasks.doctor``, never created), and yield the endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="tryon-s3-") if root is None else _nothing(root) as folder:
        server = make_server("127.0.0.1", 0, FolderS3(Path(folder)), threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True, name="embedded-s3")
        thread.start()
        endpoint = f"http://127.0.0.1:{server.server_port}"
        saved = {key: os.environ.get(key) for key in (*_FAKE_CREDENTIALS, "TRYON_S3_ENDPOINT_URL")}
        for key, value in _FAKE_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        os.environ["TRYON_S3_ENDPOINT_URL"] = endpoint
        try:
            if not any(path.is_dir() for path in Path(folder).iterdir()):  # the store's first start: its bucket
                ObjectStore.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint})).ensure_bucket()
            yield endpoint
        finally:
            server.shutdown()
            thread.join()
            for key, before in saved.items():
                if before is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = before


@contextmanager
def _nothing(root: Path) -> Iterator[Path]:
    yield root
