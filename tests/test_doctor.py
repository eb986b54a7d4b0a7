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
    assert wrong.returncode == 1 and seconds < 10
    assert f"FAIL S3: no bucket 'tyron' at {endpoint}: set TRYON_BUCKET" in wrong.stdout
    assert sorted(p.name for p in root.iterdir()) == ["tryon"], "the doctor created no bucket"
    assert right.returncode == 0 and f"ok   S3: bucket 'tryon' at {endpoint}" in right.stdout
