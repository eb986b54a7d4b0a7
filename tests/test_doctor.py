"""``tryon doctor``: what the settings name is checked in seconds, each failure one line naming
the setting to fix, and nothing is changed (no bucket created)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tasks.embedded_s3 import embedded_s3
from tasks.settings import Settings
from tests.conftest import cli_env


def doctor(home, **env) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "doctor"], cwd=home.parent, env=cli_env(home, **env), capture_output=True, text=True
    )
    return done, time.perf_counter() - started


def test_the_embedded_default_passes(tmp_path):
    done, _ = doctor(tmp_path / "home")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len([line for line in done.stdout.splitlines() if line.startswith("ok   ")]) == 4
    assert "4 of 4 checks passed" in done.stdout


def test_a_wrong_endpoint_ledger_and_registry_fail_in_seconds_naming_the_setting(tmp_path):
    done, seconds = doctor(
        tmp_path / "home",
        TRYON_S3_ENDPOINT_URL="http://127.0.0.1:9",  # the discard port: nothing listens
        TRYON_LEDGER_URL="postgresql://tryon@127.0.0.1:9/ledger",
        TRYON_ENGINE="ladi-vton",
    )
    assert done.returncode == 1 and seconds < 10, (seconds, done.stdout)
    lines = {line.split(":", 1)[0]: line for line in done.stdout.splitlines()}
    assert "cannot reach http://127.0.0.1:9" in lines["FAIL S3"] and lines["FAIL S3"].endswith("set TRYON_S3_ENDPOINT_URL")
    assert lines["FAIL ledger"].endswith("set TRYON_LEDGER_URL")
    assert "TRYON_MODEL_REGISTRY" in lines["FAIL models"]
    assert "fix: S3, ledger, models" in done.stdout


def test_a_mistyped_bucket_is_named_and_never_created(tmp_path):
    root = tmp_path / "s3"
    with embedded_s3(Settings(home=tmp_path / "home"), root) as endpoint:  # a real S3 API holding bucket 'tryon'
        keys = {key: os.environ[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        wrong, seconds = doctor(tmp_path / "home", TRYON_S3_ENDPOINT_URL=endpoint, TRYON_BUCKET="tyron", **keys)
        right, _ = doctor(tmp_path / "home", TRYON_S3_ENDPOINT_URL=endpoint, **keys)
        run, run_seconds = tryon(
            tmp_path / "home", "run", "--date", "2026-11-20", TRYON_S3_ENDPOINT_URL=endpoint, TRYON_BUCKET="tyron", **keys
        )
    assert (
        run.returncode == 2 and run_seconds < 10 and f"error: S3: no bucket 'tyron' at {endpoint}: set TRYON_BUCKET" in run.stderr
    )
    assert wrong.returncode == 1 and seconds < 10
    assert f"FAIL S3: no bucket 'tyron' at {endpoint}: set TRYON_BUCKET" in wrong.stdout
    assert sorted(p.name for p in root.iterdir()) == ["tryon"], "the doctor created no bucket"
    assert right.returncode == 0 and f"ok   S3: bucket 'tryon' at {endpoint}" in right.stdout


def tryon(home, *args: str, **env) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tasks.cli", *args], cwd=home.parent, env=cli_env(home, **env), capture_output=True, text=True
    )
    return done, time.perf_counter() - started


def test_run_backfill_and_evaluate_check_first_and_fail_in_seconds(tmp_path):
    """The doctor's checks before a run starts: a wrong endpoint ends run and backfill within
    seconds, one line naming the setting, exit 2; evaluate names the registry it lacks."""
    home = tmp_path / "home"
    for args in (("run", "--date", "2026-11-20"), ("backfill", "--from", "2026-11-18", "--to", "2026-11-20")):
        done, seconds = tryon(home, *args, TRYON_S3_ENDPOINT_URL="http://127.0.0.1:9")
        assert done.returncode == 2 and seconds < 10, (args, seconds, done.stdout, done.stderr)
        assert "error: S3: cannot reach http://127.0.0.1:9: set TRYON_S3_ENDPOINT_URL" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    done, seconds = tryon(home, "evaluate", "--versions", "warp-baseline")
    assert done.returncode == 2 and seconds < 10, (seconds, done.stderr)
    assert "error: evaluation: " in done.stderr and "TRYON_MODEL_REGISTRY" in done.stderr and "Traceback" not in done.stderr
    assert not (home / "airflow").exists(), "nothing started"


def test_the_ledger_keeps_its_bucket_and_refuses_another(tmp_path):
    """The first run claims the bucket for the ledger; a command set to another bucket is
    refused, audit --repair and status included, and a mistyped bucket of the embedded store is
    named, never created."""
    from tasks.doctor import preflight
    from tasks.ledger import Ledger

    home = tmp_path / "home"
    for bucket in ("tryon", "other"):
        (home / "s3" / bucket).mkdir(parents=True)
    settings = Settings(home=home)
    preflight(settings)  # what a run does first: the ledger claims 'tryon'
    assert Ledger(settings.resolved_ledger_url).bucket() == "tryon"
    for args in (
        ("audit", "--date", "2026-11-20", "--repair"),
        ("status", "--date", "2026-11-20"),
        ("run", "--date", "2026-11-20"),
    ):
        done, seconds = tryon(home, *args, TRYON_BUCKET="other")
        assert done.returncode == 2 and seconds < 10, (args, done.stdout, done.stderr)
        assert "records bucket 'tryon', not 'other': set TRYON_BUCKET=tryon" in done.stderr, (args, done.stderr)
    done, _ = tryon(home, "run", "--date", "2026-11-20", TRYON_BUCKET="tyron")
    assert done.returncode == 2 and "error: S3: no bucket 'tyron' in the embedded store" in done.stderr, done.stderr
    assert done.stderr.splitlines()[0].endswith("(it holds other, tryon): set TRYON_BUCKET")
    assert sorted(p.name for p in (home / "s3").iterdir()) == ["other", "tryon"]
