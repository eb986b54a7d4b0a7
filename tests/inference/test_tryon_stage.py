"""A try-on shard as a worker runs it: inputs read ahead of the engine, outputs written behind
it, each generation's ledger state committed as it is stored, and a shard killed mid-way
resumed without generating again what it stored (real S3 API, real SQLite ledger, the warp
baseline, and a real SIGKILL of the process running the shard)."""

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tasks.inference import tryon_stage
from tasks.inference.warp_baseline import WarpBaselineEngine
from tests.conftest import REPO, plan_drop
from tests.test_garment_drop_dag import generation_objects

DATE = "2026-11-20"

# the shard in a process of its own, as a Celery worker runs it; after two batches are stored
# (their ledger rows say so) the process is killed with SIGKILL, as an OOM killer or a lost node would
KILLED_MIDWAY = """
import json, os, signal, sys, time
from tasks.context import RunContext
from tasks.inference import tryon_stage
from tasks.inference.shard import Shard
from tasks.inference.warp_baseline import WarpBaselineEngine
from tasks.ledger import Generation
from tasks.settings import Settings

shard = Shard(**json.loads(sys.argv[1]))
ctx = RunContext.from_settings(Settings())
first_two = shard.batches[0] + shard.batches[1]

class KilledMidway(WarpBaselineEngine):
    calls = 0

    def generate(self, samples):
        self.calls += 1
        if self.calls == 3:
            deadline = time.time() + 30
            while time.time() < deadline:
                with ctx.ledger.session() as session:
                    if all(session.get(Generation, gid).state == "generated" for gid in first_two):
                        break
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().generate(samples)

engine = KilledMidway()
tryon_stage.get_engine = lambda settings: engine
tryon_stage.run_shard(ctx, shard)
"""


@pytest.fixture
def shard(ctx):
    """Two garments on two photos each (k=2), one generation per batch: one shard of four batches."""
    ctx.settings.batch_size = 1
    [planned] = plan_drop(ctx, DATE, ("TEE-03032", "JEANS-051946"), ("05997_00.jpg", "051918_0.jpg", "049205_0.jpg"))[2]
    assert len(planned.batches) == 4
    return planned


class Recording(WarpBaselineEngine):
    """The warp baseline, slowed to stand for a model call, recording what it was asked for."""

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__()
        self.seconds, self.calls = seconds, []

    def generate(self, samples):
        started = time.perf_counter()
        time.sleep(self.seconds)
        output = super().generate(samples)
        self.calls.append(([s.generation_id for s in samples], started, time.perf_counter()))
        return output


def test_a_shard_killed_midway_resumes_without_generating_again(ctx, shard, monkeypatch):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TRYON_HOME": str(ctx.settings.home),
        "TRYON_BUCKET": ctx.settings.bucket,
        "TRYON_S3_ENDPOINT_URL": ctx.settings.s3_endpoint_url,
        "TRYON_LEDGER_URL": ctx.settings.resolved_ledger_url,
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MIDWAY, json.dumps(dataclasses.asdict(shard))],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    first_two = shard.batches[0] + shard.batches[1]
    states = {g.generation_id: g.state for g in ctx.ledger.generations(DATE)}
    assert [states[gid] for gid in shard.generation_ids] == ["generated", "generated", "planned", "planned"], (
        "each generation's state is committed as it is stored, not when the shard ends"
    )
    before = generation_objects(ctx.store)
    assert len(before) == 2 * 2, "image and sidecar of each of the first two generations"

    engine = Recording()
    monkeypatch.setattr(tryon_stage, "get_engine", lambda settings: engine)
    resumed = tryon_stage.run_shard(ctx, shard)
    assert (resumed.generated, resumed.existing, resumed.failed, resumed.batches) == (2, 2, 0, 4)
    assert [ids for ids, _, _ in engine.calls] == shard.batches[2:], "only what was not stored is generated"
    after = generation_objects(ctx.store)
    assert {key: after[key] for key in before} == before, "nothing stored before the kill was written again"
    assert len(after) == 2 * 4
    assert {g.generation_id: g.state for g in ctx.ledger.generations(DATE)} == dict.fromkeys(shard.generation_ids, "generated")
    assert not set(first_two) & {gid for ids, _, _ in engine.calls for gid in ids}


def test_inputs_are_read_while_the_engine_generates_and_written_behind_it(ctx, shard, monkeypatch):
    engine = Recording(seconds=0.4)
    monkeypatch.setattr(tryon_stage, "get_engine", lambda settings: engine)
    reads: dict[str, tuple[float, float, str]] = {}
    prepare = tryon_stage.ShardReader.prepare

    def timed_prepare(self, generation_ids):
        started = time.perf_counter()
        batch = prepare(self, generation_ids)
        reads[generation_ids[0]] = (started, time.perf_counter(), threading.current_thread().name)
        return batch

    writers: set[str] = set()
    store = tryon_stage.ShardWriter._store

    def watched_store(self, *args):
        writers.add(threading.current_thread().name)
        return store(self, *args)

    monkeypatch.setattr(tryon_stage.ShardReader, "prepare", timed_prepare)
    monkeypatch.setattr(tryon_stage.ShardWriter, "_store", watched_store)
    counts = tryon_stage.run_shard(ctx, shard)
    assert counts.generated == 4 and counts.engine_loads == 0
    for (ids, _, generate_ended), following in zip(engine.calls, shard.batches[1:]):
        read_started, read_ended, thread = reads[following[0]]
        assert read_started < generate_ended, f"batch {following} was read only after the engine finished {ids}"
        assert read_ended < generate_ended, "a batch's inputs are ready before the engine needs them"
        assert thread.startswith("tryon-reader")
    assert writers and all(name.startswith("tryon-writer") for name in writers), writers
    assert counts.input_wait_seconds < 0.4 * len(shard.batches), counts  # only the first batch is read while the engine idles
