"""The fault-injection harness: a drop ready to run (bucket on the moto S3 server, ledger,
released random-weight LaDI-VTON, a size-only QC suite so QC does not decide), `tryon run`
as a separate process reaching S3 (and, for ledger outages, PostgreSQL) through the fault
proxies, kills of that process when a stage starts, and the verdict: what the storefront holds
against what the ledger says and what a run without faults publishes.

A scenario ends in one of: ``survived`` (the faulted run succeeded), ``recovered`` (a re-run
without faults, then ``tryon audit --repair`` where the audit found something, put everything
right) or ``FAILED``. Whatever the ending, the verdict counts lost publications (a slot the
fault-free run publishes that is not published), wrong ones (a storefront object whose bytes
are not its generation's, or a published row of a generation that did not pass QC), manifest
entries without an object, and garments left without a final state.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from tasks.context import RunContext
from tasks.ledger import Ledger, LedgerBucket
from tasks.settings import Settings
from tasks.storage import ObjectStore, credentialed_key, drop_marker_key, report_key, storefront_manifest_key

REPO = Path(__file__).resolve().parent.parent.parent
SAMPLES = REPO / "samples"
DATE = "2026-11-18"
STAGES = ("discover", "validate", "preprocess_garments", "check_inputs", "match", "tryon", "measure", "qc", "publish")
MAPPED = ("tryon", "measure")  # one task per shard: the first shard's record says the stage started
FINAL_GARMENT_STATES = {"published", "flagged", "rejected", "quarantined", "failed", "withdrawn"}
logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class World:
    """One drop, ready to run: its bucket (reached directly by ``store``), its ledger, the
    environment of a `tryon` process."""

    tmp: Path
    bucket: str
    s3_endpoint: str
    ledger_url: str
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return Settings(bucket=self.bucket, s3_endpoint_url=self.s3_endpoint, ledger_url=self.ledger_url)

    @property
    def store(self) -> ObjectStore:
        return ObjectStore.from_settings(self.settings)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.ledger_url)

    def tryon_env(self, s3_endpoint: str | None = None, ledger_url: str | None = None, **extra: str) -> dict[str, str]:
        return {
            **self.env,
            "TRYON_BUCKET": self.bucket,
            "TRYON_S3_ENDPOINT_URL": s3_endpoint or self.s3_endpoint,
            "TRYON_LEDGER_URL": ledger_url or self.ledger_url,
            **extra,
        }


def _run_env(tmp: Path, registry: Path, suite: Path) -> dict[str, str]:
    from tests.signing import make_signing_chain

    # Airflow as this process has it: the test worker's metadata database (its commands fork from
    # a warm process: tests/forked_cli.py); none for the benchmark, whose commands keep Airflow
    # in each world's home
    base = {key: value for key, value in os.environ.items() if not key.startswith("TRYON_")}
    chain = make_signing_chain(tmp / "c2pa")  # what signs the storefront images' Content Credentials
    return base | {
        "TRYON_C2PA_CERT_CHAIN": str(chain.cert_chain),
        "TRYON_C2PA_PRIVATE_KEY": str(chain.private_key),
        "PYTHONPATH": str(REPO),
        "TRYON_HOME": str(tmp / "home"),
        "TRYON_ENGINE": "ladi-vton",
        "TRYON_MODEL_REGISTRY": str(registry),
        "TRYON_INFERENCE_STEPS": "2",
        "TRYON_PHOTOS_PER_GARMENT": "2",
        "TRYON_QC_EXPECTATIONS": str(suite),
        "TRYON_TASK_RETRIES": "0",
        # the released CC BY-NC weights publish only where their licence allows (docs/rights.md)
        "TRYON_DEPLOYMENT_USE": "non_commercial",
    }


def tryon(world: World, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """A command without faults of its own (the re-run, the audit): forked where it can be
    (tests/forked_cli.py); the faulted run is ``run_with``'s process."""
    from tests.forked_cli import tryon as forked

    return forked(list(args), env or world.tryon_env(), timeout, cwd=str(world.tmp))


def template_world(tmp: Path, s3_endpoint: str, skus: tuple[str, ...], photos: tuple[str, ...]) -> World:
    """The drop and the library, with the library built once; each scenario starts from a copy
    of it (``copy_world``)."""
    import json

    from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
    from tests.conftest import build_library, put_test_releases, released_registry, size_only_suite

    tmp.mkdir(parents=True, exist_ok=True)
    registry = released_registry(save_published_layout(random_components(SMALL, seed=2), tmp / "weights", SMALL), "1.0-faults")
    world = World(
        tmp,
        f"faults-{uuid.uuid4().hex[:8]}",
        s3_endpoint,
        f"sqlite:///{tmp / 'ledger.db'}",
        _run_env(tmp, registry, size_only_suite(tmp)),
    )
    store = world.store
    store.ensure_bucket()
    put_test_releases(store)
    for sku in skus:
        folder = SAMPLES / "drop" / sku
        store.put_bytes(f"drops/{DATE}/{sku}/front.jpg", (folder / "front.jpg").read_bytes())
        store.put_json(f"drops/{DATE}/{sku}/meta.json", json.loads((folder / "meta.json").read_text()))
    store.put_json(drop_marker_key(DATE, "_READY"), {"complete": True})  # the catalogue team: the drop is complete
    for photo in photos:
        store.put_bytes(f"library/photos/{photo}", (SAMPLES / "library" / photo).read_bytes())
    # the faults are in the drop's run: the library is built in this process
    context = RunContext.from_settings(world.settings)
    build_library(context)
    context.ledger.engine.dispose()  # its last connection closed: a copy of the SQLite file holds every row (WAL)
    return world


def copy_world(template: World, name: str, ledger_url: str | None = None) -> World:
    """A new bucket with the template's objects and a new ledger with its rows (a copy of the
    SQLite file, or, for ``ledger_url`` on PostgreSQL, the template's rows copied across)."""
    tmp = template.tmp.parent / name
    tmp.mkdir(parents=True, exist_ok=True)
    world = World(
        tmp,
        f"faults-{uuid.uuid4().hex[:8]}",
        template.s3_endpoint,
        ledger_url or f"sqlite:///{tmp / 'ledger.db'}",
        {**template.env, "TRYON_HOME": str(tmp / "home")},
    )
    source, target = template.store, world.store
    target.ensure_bucket()
    for key in source.list_keys(""):
        target.client.copy_object(Bucket=world.bucket, Key=key, CopySource={"Bucket": template.bucket, "Key": key})
    if ledger_url is None:
        shutil.copyfile(template.tmp / "ledger.db", tmp / "ledger.db")
    else:
        _copy_rows(template.ledger, Ledger(ledger_url))
    with world.ledger.session() as session:  # a ledger moved to another bucket: the copy's first run claims it
        session.execute(delete(LedgerBucket))
    return world


def _copy_rows(source: Ledger, target: Ledger) -> None:
    from tasks.ledger import Base

    with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in Base.metadata.sorted_tables:
            rows = [dict(row._mapping) for row in reading.execute(table.select())]
            if rows:
                writing.execute(table.insert(), rows)


@dataclass
class RunResult:
    returncode: int
    killed_at: str | None
    seconds: float
    last_line: str


def run_with(
    world: World,
    env: dict[str, str],
    when: Callable[[ObjectStore], bool] | None = None,
    action: Callable[[subprocess.Popen], str] | None = None,
    timeout: float = 900,
) -> RunResult:
    """`tryon run --date DATE` in its own process group; once ``when`` (polled on the bucket,
    directly) holds, ``action`` is taken once: it answers "killed" when it killed the run."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tasks.cli", "run", "--date", DATE],
        env=env,
        cwd=world.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    killed, acted, store, deadline = None, False, world.store, time.time() + timeout
    while process.poll() is None and time.time() < deadline:
        if when is not None and action is not None and not acted and when(store):
            acted = True
            if action(process) == "killed":
                killed = "kill"
                break
        time.sleep(0.1)
    if process.poll() is None and killed is None:
        os.killpg(process.pid, signal.SIGKILL)
        killed = "timeout"
    process.wait(timeout=60)
    reader.join(10)
    (world.tmp / "faulted-run.log").write_text("".join(output))  # for a person to read when a scenario surprises
    lines = [line.rstrip() for line in output if line.strip()]
    return RunResult(process.returncode, killed, time.perf_counter() - start, lines[-1] if lines else "")


def kill(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGKILL)
    return "killed"


def stage_started(stage: str) -> Callable[[ObjectStore], bool]:
    key = report_key(DATE, f"stages/{stage}.json" if stage not in MAPPED else f"stages/{stage}-0.json")

    def started(store: ObjectStore) -> bool:
        try:
            record = store.get_json(key)
        except Exception:
            return False
        return record.get("started", "") >= _run_start.get(store.bucket, "")

    return started


def stage_finished(stage: str) -> Callable[[ObjectStore], bool]:
    started = stage_started(stage)
    key = report_key(DATE, f"stages/{stage}.json")

    def finished(store: ObjectStore) -> bool:
        return started(store) and store.get_json(key).get("ok") is True

    return finished


def first_storefront_object(store: ObjectStore) -> bool:
    return any(not key.startswith("storefront/manifests/") for key in store.list_keys("storefront/"))


_run_start: dict[str, str] = {}


def mark_run_start(world: World) -> None:
    """Stage records older than this are an earlier run's (re-runs of one bucket)."""
    from datetime import UTC, datetime

    _run_start[world.bucket] = datetime.now(UTC).isoformat()


@dataclass
class Verdict:
    published: int
    lost: int
    wrong: int
    manifest_missing: int
    unsettled: int
    details: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.wrong or self.manifest_missing or self.unsettled)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verdict(world: World, expected_slots: set[tuple[str, str]] | None) -> Verdict:
    """The storefront and the ledger held against each other and against the fault-free run's
    published slots (``expected_slots``; None for the fault-free run itself)."""
    from sqlalchemy import select

    from tasks.ledger import Publication

    store, ledger, details = world.store, world.ledger, []
    generations = {g.generation_id: g for g in ledger.generations(DATE)}
    with ledger.session() as session:
        live = list(session.scalars(select(Publication).where(Publication.drop_date == DATE, Publication.state == "published")))
    wrong = 0
    current = {g.sku: g.sha256 for g in ledger.garments(DATE)}
    for publication in live:
        generation = generations.get(publication.generation_id)
        if generation is None or generation.state != "published":
            wrong += 1
            details.append(f"live publication of {publication.generation_id} in state {generation and generation.state}")
            continue
        if generation.garment_sha256 != current.get(generation.sku):  # made from a photo a re-shoot replaced
            wrong += 1
            details.append(f"{publication.storefront_key} shows a superseded version of {generation.sku}")
            continue
        try:
            # a slot holds its generation's credentialed copy (its image with its Content Credentials)
            if _sha(store.get_bytes(publication.storefront_key)) != _sha(
                store.get_bytes(credentialed_key(generation.object_key))
            ):
                wrong += 1
                details.append(f"{publication.storefront_key} is not {generation.generation_id}'s image")
        except Exception as error:  # noqa: BLE001 - a missing object is a lost publication, counted below
            details.append(f"{publication.storefront_key}: {type(error).__name__}")
    slots = {
        (g.sku, g.photo_id)
        for g in generations.values()
        if g.state == "published"
        and store.exists(next((p.storefront_key for p in live if p.generation_id == g.generation_id), ""))
    }
    lost = len(expected_slots - slots) if expected_slots is not None else 0
    if lost:
        details.append(f"lost: {sorted(expected_slots - slots)}")
    try:
        manifest = store.get_json(storefront_manifest_key(DATE))["items"]
    except Exception:  # noqa: BLE001 - no manifest: nothing published, or the run never got there
        manifest = []
    missing = [item["key"] for item in manifest if not store.exists(item["key"])]
    if missing:
        details.append(f"manifest entries without objects: {missing}")
    unsettled = [g.sku for g in ledger.garments(DATE) if g.state not in FINAL_GARMENT_STATES]
    if unsettled:
        details.append(f"garments without a final state: {unsettled}")
    return Verdict(len(slots), lost, wrong, len(missing), len(unsettled), details)


def published_slots(world: World) -> set[tuple[str, str]]:
    return {(g.sku, g.photo_id) for g in world.ledger.generations(DATE) if g.state == "published"}


@dataclass
class Outcome:
    scenario: str
    fault: str
    faults_injected: int
    first_run: str
    ending: str
    reruns: int
    audit_findings: int
    verdict: Verdict
    seconds: float

    def row(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "scenario": self.scenario,
            "fault": self.fault,
            "injected": self.faults_injected,
            "first run": self.first_run,
            "ending": self.ending,
            "re-runs": self.reruns,
            "audit findings": self.audit_findings,
            "published": v.published,
            "lost": v.lost,
            "wrong": v.wrong,
            "manifest missing": v.manifest_missing,
            "unsettled": v.unsettled,
            "seconds": round(self.seconds, 1),
        }


def settle(
    world: World,
    scenario: str,
    fault: str,
    injected: Callable[[], int],
    first: RunResult,
    expected: set[tuple[str, str]],
    started: float,
    env: dict[str, str] | None = None,
) -> Outcome:
    """After the faulted run: a re-run where it did not succeed, then the audit (and its repair
    where it finds anything), then the verdict. They run without faults, unless ``env`` (a
    `tryon` environment through a proxy) says otherwise."""
    first_run = (
        "success"
        if first.returncode == 0 and first.killed_at is None
        else ("killed" if first.killed_at == "kill" else f"failed ({first.last_line[:160]})")
    )
    reruns = 0
    if first_run != "success":
        mark_run_start(world)
        again = tryon(world, "run", "--date", DATE, env=env)
        reruns = 1
        if again.returncode != 0:
            return Outcome(
                scenario,
                fault,
                injected(),
                first_run,
                f"FAILED: re-run: {(again.stdout + again.stderr).strip().splitlines()[-1:]}",
                reruns,
                0,
                verdict(world, expected),
                time.perf_counter() - started,
            )
    audit = tryon(world, "audit", "--date", DATE, env=env)
    counted = re.search(r"(\d+) finding", audit.stdout)
    findings = int(counted.group(1)) if counted else -1
    if audit.returncode != 0:
        repair = tryon(world, "audit", "--date", DATE, "--repair", env=env)
        if repair.returncode != 0:
            return Outcome(
                scenario,
                fault,
                injected(),
                first_run,
                "FAILED: audit --repair left findings",
                reruns,
                findings,
                verdict(world, expected),
                time.perf_counter() - started,
            )
    result = verdict(world, expected)
    ending = ("survived" if first_run == "success" and not findings else "recovered") if result.clean else "FAILED"
    return Outcome(scenario, fault, injected(), first_run, ending, reruns, findings, result, time.perf_counter() - started)
