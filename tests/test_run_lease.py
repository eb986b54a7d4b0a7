"""One run per drop date: the lease row (``tasks/run_lease.py``) on SQLite and PostgreSQL, and
the CLI refusing a second run of a date, or a date before the first drop date, at once."""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from tasks.ledger import Ledger, RunLease
from tasks.run_lease import LeaseHeld, acquire, held, release, renew
from tests.conftest import cli_env

DATE = "2026-11-20"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path) -> Ledger:
    if request.param == "sqlite":
        return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    return Ledger(request.getfixturevalue("postgres_url"))


def test_of_many_runs_starting_at_once_exactly_one_holds_the_date(ledger):
    runs = 8
    start = Barrier(runs)

    def attempt(n: int) -> str:
        start.wait()
        try:
            acquire(ledger, DATE, f"run-{n}", 60)
            return "held"
        except LeaseHeld as refused:
            return str(refused)

    with ThreadPoolExecutor(runs) as pool:
        outcomes = list(pool.map(attempt, range(runs)))
    assert outcomes.count("held") == 1, outcomes
    with ledger.session() as session:
        winner = session.get(RunLease, DATE).holder
    refusals = [o for o in outcomes if o != "held"]
    assert all(f"being processed by another run ({winner}" in o for o in refusals), refusals


def test_a_lease_is_renewed_by_its_holder_and_refused_to_others(ledger):
    acquire(ledger, DATE, "first", 60)
    acquire(ledger, DATE, "first", 60)  # a retried first stage takes it again
    renew(ledger, DATE, "first", 60)
    with pytest.raises(LeaseHeld, match=r"another run \(first"):
        acquire(ledger, DATE, "second", 60)
    with pytest.raises(LeaseHeld, match=r"another run \(first"):
        renew(ledger, DATE, "second", 60)
    acquire(ledger, "2026-11-21", "second", 60)  # other dates are free
    release(ledger, DATE, "second")  # not the holder: nothing happens
    with pytest.raises(LeaseHeld):
        acquire(ledger, DATE, "second", 60)
    release(ledger, DATE, "first")
    acquire(ledger, DATE, "second", 60)


def test_a_dead_runs_lease_expires_and_the_next_run_takes_the_date_over(ledger):
    acquire(ledger, DATE, "dead", 0.5)
    with pytest.raises(LeaseHeld):
        acquire(ledger, DATE, "next", 60)
    time.sleep(0.8)
    acquire(ledger, DATE, "next", 60)
    with pytest.raises(LeaseHeld, match=r"another run \(next"):
        renew(ledger, DATE, "dead", 60)  # the dead run, come back, learns it lost the date


def test_a_killed_run_of_this_machine_leaves_no_lease_to_wait_out(ledger):
    """A `tryon run` killed with SIGKILL cannot release its lease; its process is gone from this
    machine, so the next run takes the date at once instead of waiting an hour."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    host = socket.gethostname()
    acquire(ledger, DATE, f"cli:{host}:{gone}:deadbeef", 3600)
    acquire(ledger, DATE, "next", 60)
    with ledger.session() as session:
        assert session.get(RunLease, DATE).holder == "next"
    release(ledger, DATE, "next")
    for alive in (f"cli:{host}:{os.getpid()}:0badf00d", f"cli:another-host:{gone}:0badf00d"):
        acquire(ledger, DATE, alive, 3600)
        with pytest.raises(LeaseHeld):
            acquire(ledger, DATE, "next", 60)
        release(ledger, DATE, alive)


def test_a_held_lease_is_renewed_while_a_long_stage_runs(ledger):
    with held(ledger, DATE, "long", 0.9, take=True):
        time.sleep(2.0)  # more than twice the lease's time
        with pytest.raises(LeaseHeld):
            acquire(ledger, DATE, "other", 60)
    with ledger.session() as session:
        assert session.get(RunLease, DATE).holder == "long"


def run_cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tasks.cli", *args],
        env=cli_env(tmp_path / "home", **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_refuses_a_date_another_run_holds_at_once(tmp_path):
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    acquire(Ledger(ledger_url), DATE, "airflow:scheduled__2026-11-20", 3600)
    message = f"drop {DATE} is being processed by another run (airflow:scheduled__2026-11-20"
    for args in (["run", "--date", DATE], ["audit", "--date", DATE, "--repair"], ["backfill", "--from", DATE, "--to", DATE]):
        result = run_cli(tmp_path, *args, TRYON_LEDGER_URL=ledger_url)
        assert message in result.stdout + result.stderr, (args, result.stdout[-2000:], result.stderr[-2000:])
        assert result.returncode == (1 if args[0] == "backfill" else 2), args
        if args[0] == "run":
            assert not (tmp_path / "home" / "airflow").exists(), "refused before Airflow was set up"


def test_the_cli_refuses_a_date_before_the_first_drop_date(tmp_path):
    for args in (["run", "--date", "2025-12-31"], ["backfill", "--from", "2025-12-30", "--to", "2026-01-02"]):
        result = run_cli(tmp_path, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "is before the pipeline's first drop date 2026-01-01 (TRYON_FIRST_DROP_DATE)" in result.stderr
    assert not (tmp_path / "home" / "airflow").exists(), "refused before Airflow was set up"
