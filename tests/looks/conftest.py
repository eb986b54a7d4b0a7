"""The fixture library preprocessed once for the looks tests (every sample photo), in its own
bucket on the shared S3 server."""

from __future__ import annotations

import uuid

import pytest

from tasks.context import RunContext
from tasks.ledger import Ledger
from tasks.settings import Settings
from tasks.storage import ObjectStore, library_photos_prefix
from tests.conftest import SAMPLES


@pytest.fixture(scope="package")
def library_ctx(s3_endpoint: str, tmp_path_factory) -> RunContext:
    from tasks.preprocess.library_stage import build_index, preprocess_model_photos

    home = tmp_path_factory.mktemp("looks")
    settings = Settings(
        home=home / "home",
        bucket=f"looks-{uuid.uuid4().hex[:12]}",
        s3_endpoint_url=s3_endpoint,
        ledger_url=f"sqlite:///{home / 'ledger.db'}",
    )
    store = ObjectStore.from_settings(settings)
    store.ensure_bucket()
    for photo in sorted((SAMPLES / "library").iterdir()):
        store.put_bytes(library_photos_prefix() + photo.name, photo.read_bytes())
    ctx = RunContext(settings=settings, store=store, ledger=Ledger(settings.resolved_ledger_url))
    build_index(ctx, [preprocess_model_photos(ctx)])
    return ctx
