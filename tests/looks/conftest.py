"""The fixture library preprocessed once for the looks tests (every sample photo), in its own
bucket on the shared S3 server, with the compatibility model trained on it once; a test that
adds garments or looks works on a copy (``library_copy``)."""

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


@pytest.fixture(scope="package")
def trained(library_ctx: RunContext):
    """The first training on the fixture library (``LooksTraining``, outcome ``trained``)."""
    from tasks.looks.train_stage import train_looks

    return train_looks(library_ctx)


def library_copy(source: RunContext, folder) -> RunContext:
    """A new bucket holding ``source``'s library objects (index, artifacts, outfits, looks model)
    and a new ledger with its photos recorded: a test's garments and looks stay its own."""
    from tasks.preprocess.library_stage import preprocess_model_photos

    settings = source.settings.model_copy(
        update={
            "home": folder / "home",
            "bucket": f"looks-{uuid.uuid4().hex[:12]}",
            "ledger_url": f"sqlite:///{folder / 'ledger.db'}",
        }
    )
    store = ObjectStore.from_settings(settings)
    store.ensure_bucket()
    for key in source.store.list_keys("library/"):
        store.client.copy_object(Bucket=store.bucket, Key=key, CopySource={"Bucket": source.store.bucket, "Key": key})
    ctx = RunContext(settings=settings, store=store, ledger=Ledger(settings.resolved_ledger_url))
    assert preprocess_model_photos(ctx).processed == 0, "the copy's photos are prepared already"
    return ctx
