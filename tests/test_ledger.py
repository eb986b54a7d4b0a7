"""The ledger on SQLite (the embedded default) and on the machine's PostgreSQL."""

import time

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from tasks.ledger import (
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    Ledger,
    ModelPhoto,
    Publication,
    QCResult,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    return Ledger(request.getfixturevalue("postgres_url"))


def _garment(ledger, sku="SKU1", date="2026-11-20"):
    with ledger.session() as session:
        garment = Garment(drop_date=date, sku=sku, category="upper_body", sha256="a" * 64)
        session.add(garment)
        session.flush()
        return garment.id


def test_every_table_round_trips_with_explicit_states(ledger):
    garment_id = _garment(ledger)
    with ledger.session() as session:
        session.add(
            ModelPhoto(
                photo_id="p1",
                sha256="b" * 64,
                source_key="library/photos/p1.jpg",
                state="ready",
                categories=["upper_body"],
                backends={"pose": "mediapipe"},
            )
        )
        session.flush()
        session.add(
            Generation(
                generation_id="g1",
                garment_id=garment_id,
                photo_id="p1",
                drop_date="2026-11-20",
                sku="SKU1",
                category="upper_body",
                engine="warp-baseline",
                model_version="warp-baseline-1.0.0",
                weights_sha256="none",
                seed=0,
                parameters={"grid_step": 8},
            )
        )
        session.flush()
        session.add(QCResult(generation_id="g1", check="size", passed=True, value=1.0, threshold="==", state="passed"))
        session.add(
            Publication(
                generation_id="g1", drop_date="2026-11-20", sku="SKU1", photo_id="p1", storefront_key="storefront/SKU1/p1.jpg"
            )
        )
    [garment] = ledger.garments("2026-11-20")
    assert garment.state == GarmentState.DISCOVERED.value
    [generation] = ledger.generations("2026-11-20")
    assert generation.state == GenerationState.PLANNED.value and generation.parameters == {"grid_step": 8}
    with ledger.session() as session:
        assert session.get(ModelPhoto, "p1").categories == ["upper_body"]
        assert session.scalar(select(QCResult.state)) == "passed"
        assert session.scalar(select(Publication.storefront_key)) == "storefront/SKU1/p1.jpg"


def test_one_row_per_sku_and_date(ledger):
    _garment(ledger)
    _garment(ledger, date="2026-11-21")  # same SKU on another date is another input
    with pytest.raises(IntegrityError):
        _garment(ledger)


def test_a_failed_transaction_leaves_nothing_behind(ledger):
    with pytest.raises(RuntimeError), ledger.session() as session:
        session.add(Garment(drop_date="2026-11-20", sku="SKU9"))
        session.flush()
        raise RuntimeError("stage crashed")
    assert ledger.garments("2026-11-20") == []


def test_generation_must_reference_a_known_garment(ledger):
    with pytest.raises(IntegrityError):
        with ledger.session() as session:
            session.add(
                Generation(
                    generation_id="g2",
                    garment_id=999,
                    photo_id="nope",
                    drop_date="2026-11-20",
                    sku="X",
                    category="dresses",
                    engine="e",
                    model_version="v",
                    weights_sha256="none",
                    seed=0,
                )
            )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_lock_held_on_the_ledger_fails_a_write_after_the_lock_timeout(backend, request, tmp_path):
    """Another session holding the garment's row (or SQLite's write lock) makes a write fail
    after ``ledger_lock_timeout_s``, an error the task's retry handles, not a run hung for as
    long as the lock is held."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    holder, waiting = Ledger(url), Ledger(url, lock_timeout_s=1.0)
    garment_id = _garment(holder)
    with holder.session(exclusive=True) as session:
        session.scalars(select(Garment).where(Garment.id == garment_id).with_for_update()).one().reason = "held"
        session.flush()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock"):
            with waiting.session() as other:
                other.execute(update(Garment).where(Garment.id == garment_id).values(reason="waited"))
        assert 0.9 < time.monotonic() - started < 10


def test_a_statement_that_runs_too_long_is_cancelled_on_postgresql(postgres_url):
    ledger = Ledger(postgres_url, statement_timeout_s=0.5)
    with pytest.raises(OperationalError, match="statement timeout"):
        with ledger.session() as session:
            session.execute(text("SELECT pg_sleep(3)"))
