"""What every stage needs: settings, the bucket and the ledger, built from the environment
so the same stage code runs in an Airflow worker, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass

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
    def from_settings(cls, settings: Settings) -> RunContext:
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            store=ObjectStore.from_settings(settings),
            ledger=ledger_from_settings(settings),
        )
