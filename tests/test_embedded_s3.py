"""The embedded S3 keeps every acknowledged write on disk: a process killed with SIGKILL right
after its writes loses none of them, and a new server sees the bucket as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tasks.embedded_s3 import FOLDER_OBJECT, PARTIAL_SUFFIX, embedded_s3
from tasks.settings import Settings
from tasks.storage import ObjectStore
from tests.conftest import REPO

WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from tasks.embedded_s3 import embedded_s3
    from tasks.settings import Settings
    from tasks.storage import ObjectStore

    settings = Settings(home=Path(sys.argv[1]), bucket="kept")
    with embedded_s3(settings, Path(sys.argv[1]) / "s3") as endpoint:
        store = ObjectStore.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint}))
        store.put_bytes("stays/gone.bin", b"deleted before the kill")
        for i in range(20):
            store.put_bytes(f"drops/a/{i:02d}.bin", bytes([i]) * (1000 + i))
        store.copy("drops/a/03.bin", "storefront/copied.bin")
        store.put_bytes("drops/a/05.bin", b"overwritten")
        store.delete("stays/gone.bin")
        store.client.delete_objects(Bucket="kept", Delete={"Objects": [{"Key": "drops/a/19.bin"}, {"Key": "drops/a/18.bin"}]})
        print("acknowledged", flush=True)
        time.sleep(600)  # killed here: nothing after the writes runs, no clean exit
""")


def _settings(home: Path) -> Settings:
    return Settings(home=home, bucket="kept")


def test_writes_survive_sigkill(tmp_path):
    home = tmp_path / "home"
    (home / "s3" / "kept" / "drops").mkdir(parents=True)
    (home / "s3" / "kept" / "drops" / f".x.bin.1234{PARTIAL_SUFFIX}").write_bytes(b"half")  # a crash's leftover
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert writer.stdout.readline().strip() == "acknowledged"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    with embedded_s3(_settings(home), home / "s3") as endpoint:
        store = ObjectStore.from_settings(_settings(home).model_copy(update={"s3_endpoint_url": endpoint}))
        keys = sorted(store.list_keys(""))
        assert keys == sorted([f"drops/a/{i:02d}.bin" for i in range(18)] + ["storefront/copied.bin"])
        assert store.get_bytes("drops/a/07.bin") == bytes([7]) * 1007
        assert store.get_bytes("drops/a/05.bin") == b"overwritten"
        assert store.get_bytes("storefront/copied.bin") == bytes([3]) * 1003
    assert not list((home / "s3" / "kept").rglob(f"*{PARTIAL_SUFFIX}"))


def test_a_key_that_cannot_be_a_file_is_refused_not_lost(tmp_path):
    home = tmp_path / "home"
    with embedded_s3(_settings(home), home / "s3") as endpoint:
        store = ObjectStore.from_settings(_settings(home).model_copy(update={"s3_endpoint_url": endpoint}))
        # ("folder/" is a folder object, kept as S3 keeps it: tests/test_embedded_s3_api.py; the
        # file that holds one cannot be named as a key of its own)
        for key in ("a/../../outside.bin", "a//b", f"x/{FOLDER_OBJECT}"):
            with pytest.raises(ClientError, match="cannot be one"):
                store.put_bytes(key, b"x")
        store.put_bytes("ok.bin", b"x")
    assert [p.name for p in (home / "s3").rglob("*") if p.is_file()] == ["ok.bin"]
    assert not (tmp_path / "outside.bin").exists()
