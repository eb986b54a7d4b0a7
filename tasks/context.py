"""What every stage needs: settings, the bucket and the ledger, built from the environment
so the same stage code runs in an Airflow worker, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.ledger import Ledger, ledger_from_settings
from tasks.settings import Settings, get_settings
from tasks.storage import ObjectStore


@dataclass
class RunContext:
    settings: Settings
    store: ObjectStore
    ledger: Ledger

    @classmethod
    def from_env(cls) -> RunContext:
        return cls.from_settings(get_settings())

    @classmethod
    def from_settings(cls, settings: Settings, s3_client: Any = None) -> RunContext:
        """``s3_client``: one an Airflow connection gave (``tasks.airflow_glue.common``); by default one
        made from the ``TRYON_S3_*`` settings."""
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            store=ObjectStore.from_settings(settings, s3_client),
            ledger=ledger_from_settings(settings),
        )
