"""The embedded S3 of the default set-up: moto's ``ThreadedMotoServer`` on 127.0.0.1 with a
free port. It is a real S3 API over HTTP; boto3 talks to it exactly as to AWS or MinIO.

moto keeps objects in memory, so the embedded default mirrors the bucket to a local folder
(``.tryon/s3/{bucket}/``, chosen by the caller): loaded when the server starts, written back when it stops. That lets
``tryon run --date D`` see what ``tryon demo`` uploaded, and lets a person drop files into the
folder by hand.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moto.server import ThreadedMotoServer

from tasks.settings import Settings
from tasks.storage import ObjectStore

# moto needs credentials to sign requests; they are not checked.
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def embedded_s3(settings: Settings, mirror: Path | None = None) -> Iterator[str]:
    """Start the server, point ``TRYON_S3_ENDPOINT_URL`` (and Airflow's ``aws_default``
    connection) at it for this process, create the bucket, and yield the endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in (*_FAKE_CREDENTIALS, "TRYON_S3_ENDPOINT_URL")}
    for key, value in _FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    os.environ["TRYON_S3_ENDPOINT_URL"] = endpoint
    try:
        store = ObjectStore.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint}))
        store.ensure_bucket()
        if mirror is not None:
            load_mirror(store, mirror)
        yield endpoint
        if mirror is not None:
            save_mirror(store, mirror)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_mirror(store: ObjectStore, folder: Path) -> int:
    """Upload every file under ``folder`` to the bucket, keyed by its relative path."""
    count = 0
    if not folder.is_dir():
        return count
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            store.put_bytes(path.relative_to(folder).as_posix(), path.read_bytes())
            count += 1
    return count


def save_mirror(store: ObjectStore, folder: Path) -> int:
    """Write every object of the bucket to ``folder`` (the inverse of :func:`load_mirror`)."""
    count = 0
    for key in store.list_keys(""):
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))
        count += 1
    return count
