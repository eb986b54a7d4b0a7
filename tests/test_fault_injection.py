"""The fault-injection suite's checks that fit in the test run (the whole suite, with its
figures, is bench/fault_injection.py; docs/operations.md): the proxies break what they carry
and the pipeline's S3 calls ride every fault through; the ledger comes back after an outage;
and one drop, run through a proxy that answers 503, cuts answers and resets connections, killed
as publish starts, then run again through the same proxy, ends with its image published, the
audit clean and nothing lost or wrong."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import OperationalError

from tasks.ledger import Ledger
from tasks.run_lease import release
from tasks.settings import Settings
from tasks.storage import ObjectStore
from tests.faults.harness import DATE, copy_world, kill, mark_run_start, run_with, settle, stage_started, template_world
from tests.faults.proxy import S3FaultProxy, TcpFaultProxy, burst, every, mixed, no_faults


def _client(endpoint: str) -> ObjectStore:
    """The pipeline's own store (its retry configuration) on ``endpoint``."""
    return ObjectStore.from_settings(Settings(bucket="faults-proxy", s3_endpoint_url=endpoint))


@pytest.mark.parametrize(
    "plan, fault",
    [
        (every(3, "reset"), "reset"),
        (every(3, "cut"), "cut"),
        (every(3, "503"), "503"),
        (every(5, "delay"), "delay"),
        (burst(8, 1, "refuse"), "refuse"),
    ],
)
def test_every_fault_is_injected_and_ridden_through(s3_endpoint, plan, fault):
    proxy = S3FaultProxy(s3_endpoint, plan, delay_s=0.3, refuse_s=0.3)
    store = _client(proxy.endpoint)
    try:
        store.ensure_bucket()
        for n in range(8):
            body = bytes([n]) * (5000 + n)
            store.put_bytes(f"{fault}/{n}.bin", body)
            assert store.get_bytes(f"{fault}/{n}.bin") == body
            assert store.head(f"{fault}/{n}.bin").size == len(body)
            store.put_json(f"{fault}/{n}.json", {"n": n})  # small: a cut can break off inside the headers
            assert store.get_json(f"{fault}/{n}.json") == {"n": n}
        assert sorted(store.list_keys(f"{fault}/")) == sorted(
            [f"{fault}/{n}.bin" for n in range(8)] + [f"{fault}/{n}.json" for n in range(8)]
        )
    finally:
        proxy.stop()
    assert proxy.log.faults[fault] >= 1 and set(proxy.log.faults) == {fault}


def test_without_a_retry_a_cut_answer_would_fail(s3_endpoint):
    """The proxy's cut is a real fault: one read attempt, as boto3 alone makes for a body, fails."""
    proxy = S3FaultProxy(s3_endpoint, no_faults)
    store = _client(proxy.endpoint)
    try:
        store.ensure_bucket()
        store.put_bytes("cut/x.bin", b"y" * 50_000)
        proxy.plan = every(1, "cut")
        store.read_attempts = 1
        with pytest.raises(Exception, match="Connection broken|IncompleteRead|reset"):
            store.get_bytes("cut/x.bin")
    finally:
        proxy.stop()


@pytest.mark.parametrize("broken", ["checksum", "headers"])
def test_an_answer_that_arrives_broken_is_asked_for_again(s3_endpoint, broken):
    """What the s3-cut scenario met: an answer cut after its checksum header (an empty body that
    botocore refuses, FlexibleChecksumError), or cut inside its headers (a number in them empty:
    ValueError while botocore parses it). Where a cut falls depends on the answer's length, so
    the error is raised here once, as botocore raises it."""
    from botocore.exceptions import FlexibleChecksumError

    error = (
        FlexibleChecksumError(error_msg="Expected checksum Wo6p4A== did not match calculated checksum: AAAAAA==")
        if broken == "checksum"
        else ValueError("invalid literal for int() with base 10: ''")
    )
    store = _client(s3_endpoint)
    store.ensure_bucket()
    store.put_json("broken/x.json", {"x": 1})
    calls = []
    for operation in ("get_object", "head_object"):
        real = getattr(store.client, operation)

        def first_answer_broken(real=real, **kwargs):
            calls.append(kwargs["Key"])
            if len(calls) % 2 == 1:
                raise error
            return real(**kwargs)

        setattr(store.client, operation, first_answer_broken)
    assert store.get_json("broken/x.json") == {"x": 1} and store.exists("broken/x.json")
    assert calls == ["broken/x.json"] * 4
    store.read_attempts, calls[:] = 1, []
    with pytest.raises(type(error)):
        store.get_json("broken/x.json")


def test_the_ledger_comes_back_after_an_outage(postgres_url):
    database = postgres_url.rsplit("/", 1)[1]
    proxy = TcpFaultProxy(("127.0.0.1", 5432))
    ledger = Ledger(f"postgresql+psycopg2://postgres@127.0.0.1:{proxy.port}/{database}")
    try:
        assert ledger.garments(DATE) == []
        proxy.down()
        with pytest.raises(OperationalError):
            ledger.garments(DATE)
        assert "OperationalError" in release(ledger, DATE, "cli:here:1:x"), (
            "a run ending in an outage does not crash on its lease"
        )
        proxy.up()
        time.sleep(0.2)
        assert ledger.garments(DATE) == [], "a new connection once the database is back (pool_pre_ping)"
    finally:
        ledger.engine.dispose()
        proxy.stop()


@pytest.mark.airflow
def test_a_drop_killed_at_publish_under_s3_faults_is_put_right_by_a_re_run(s3_endpoint, tmp_path):
    template = template_world(tmp_path / "template", s3_endpoint, ("TEE-03032",), ("049205_0.jpg",))
    world = copy_world(template, "killed")
    proxy = S3FaultProxy(world.s3_endpoint, mixed({7: "503", 11: "cut", 13: "reset"}))
    env = world.tryon_env(s3_endpoint=proxy.endpoint)
    started = time.perf_counter()
    try:
        mark_run_start(world)
        first = run_with(world, env, stage_started("publish"), kill)
        assert first.killed_at == "kill"
        outcome = settle(
            world,
            "ci",
            "S3 faults, SIGKILL at publish",
            lambda: sum(proxy.log.faults.values()),
            first,
            {("TEE-03032", "049205_0")},
            started,
            env=env,
        )
    finally:
        proxy.stop()
    assert outcome.ending == "recovered" and outcome.reruns == 1, (outcome.row(), outcome.verdict.details)
    assert outcome.verdict.clean and outcome.verdict.published == 1, outcome.verdict.details
    assert {"503", "cut", "reset"} <= set(proxy.log.faults), proxy.log.faults


def test_a_head_answer_cut_before_its_length_is_asked_for_again(s3_endpoint):
    """What the kill-at-publish test met once intake asked HEAD more: headers cut before
    Content-Length (botocore parses what arrived, without it). Asked again, never a KeyError
    that quarantines a good garment."""
    store = _client(s3_endpoint)
    store.ensure_bucket()
    store.put_json("cut/head.json", {"x": 1})
    real, calls = store.client.head_object, []

    def first_answer_without_length(**kwargs):
        calls.append(kwargs["Key"])
        answer = real(**kwargs)
        return {k: v for k, v in answer.items() if k != "ContentLength"} if len(calls) == 1 else answer

    store.client.head_object = first_answer_without_length
    assert store.head("cut/head.json").size == len(store.get_bytes("cut/head.json")) and len(calls) == 2
