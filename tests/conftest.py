"""Shared fixtures: a real S3 API (moto's server over HTTP on loopback), per-test buckets and
SQLite ledgers, the machine's PostgreSQL for the ledger tests, and the fixture photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Under pytest-xdist the workers share the machine's cores: each worker (and every process it
# starts, Airflow's tasks among them) gets its share for torch's and the BLAS's thread pools.
# Left at every core each, two workers' pools spun against each other: two workers running the
# diffusion and feature-network tests side by side took 113 s, with one thread each 64 s.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    from bench.common import THREAD_POOLS

    _THREADS = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _pool in THREAD_POOLS:
        os.environ.setdefault(_pool, _THREADS)

# Everything below may import airflow or mediapipe: point their caches and homes at a
# throwaway folder first.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tryon-tests-"))
os.environ.update(
    {
        "TRYON_HOME": str(_SESSION_HOME / "home"),
        "XDG_CACHE_HOME": str(_SESSION_HOME / "cache"),
        "MPLCONFIGDIR": str(_SESSION_HOME / "matplotlib"),
        "HF_HUB_OFFLINE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        # the tests' deployment is nobody's storefront: CC BY-NC weights are theirs to use
        "TRYON_DEPLOYMENT_USE": "non_commercial",
    }
)

from tests.signing import make_signing_chain  # noqa: E402

# every test's deployment signs its storefront images' Content Credentials with a throwaway chain
# made now (subprocesses, Airflow's tasks among them, inherit it); TEST_SIGNING.ca_pem trusts it
TEST_SIGNING = make_signing_chain(_SESSION_HOME / "c2pa")
os.environ.update(
    {"TRYON_C2PA_CERT_CHAIN": str(TEST_SIGNING.cert_chain), "TRYON_C2PA_PRIVATE_KEY": str(TEST_SIGNING.private_key)}
)

import pytest  # noqa: E402

if TYPE_CHECKING:
    from tasks.catalog.library_build import PhotoCounts

from tasks.airflow_glue.runner import airflow_environment, configure_airflow
from tasks.context import RunContext
from tasks.ledger import Ledger
from tasks.settings import Settings, get_settings
from tasks.storage import STOREFRONT, ObjectStore, drop_marker_key

# configure_airflow keeps an Airflow home the environment already names (a deployment's). A
# pytest-xdist worker inherits its controller's environment, this module's settings included:
# without this, both workers' DAG runs shared the controller's metadata database.
for _name in airflow_environment(get_settings()):
    os.environ.pop(_name, None)
configure_airflow(get_settings())

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"  # copies of ../shared/fixtures/vton (see samples/NOTICE.md)
MODEL_PHOTOS = sorted((SAMPLES / "library").iterdir())
# the good garments of the sample drop: SKU -> (image, category)
GARMENTS = {
    path.parent.name: (path, json.loads((path.parent / "meta.json").read_text())["category"])
    for path in sorted((SAMPLES / "drop").glob("*/front.jpg"))
    if path.parent.name not in {"TEE-BROKEN", "SCARF-NOCAT"}
}


_TASKS, _STORAGE, _GATE = REPO / "tasks", REPO / "tasks" / "storage.py", REPO / "tasks" / "storefront"


def _storefront_writer(depth: int) -> Path | None:
    """The file that asked for a write: the first frame outside ``tasks/storage.py`` (and this file)."""
    frame = sys._getframe(depth)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path not in (_STORAGE, Path(__file__)):
            return path
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _check_storefront_write(key: str) -> None:
    """A write under ``storefront/`` from the pipeline's code is the storefront gate's; a test may
    arrange a scenario itself."""
    if not key.startswith(STOREFRONT):
        return
    writer = _storefront_writer(3)
    if writer is not None and writer.is_relative_to(_TASKS) and not writer.is_relative_to(_GATE):
        raise AssertionError(f"{writer.relative_to(REPO)} wrote {key} without the storefront gate (tasks/storefront/)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules that start Airflow services first, then those that run DAGs (``cluster``,
    ``airflow``: minutes each), then the rest, each module's tests kept together and in order.
    ``make test`` runs the suite on pytest-xdist workers (TEST_WORKERS) that take whole modules in this
    order: the longest start first and the short ones fill in at the end."""

    def weight(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("cluster") else 1 if item.get_closest_marker("airflow") else 2

    modules: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        modules[module] = min(modules.get(module, 2), weight(item))
    items.sort(key=lambda item: modules[item.nodeid.split("::")[0]])


@pytest.fixture(autouse=True)
def storefront_written_only_through_its_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write under storefront/ that a test's process makes goes through the storefront gate:
    a stage that copies, puts or deletes there itself fails the test that runs it."""
    put_bytes, delete, copy = ObjectStore.put_bytes, ObjectStore.delete, ObjectStore.copy

    def checked_put(self: ObjectStore, key: str, *args: Any, **kwargs: Any) -> None:
        _check_storefront_write(key)
        put_bytes(self, key, *args, **kwargs)

    def checked_delete(self: ObjectStore, key: str) -> None:
        _check_storefront_write(key)
        delete(self, key)

    def checked_copy(self: ObjectStore, source_key: str, dest_key: str) -> None:
        _check_storefront_write(dest_key)
        copy(self, source_key, dest_key)

    monkeypatch.setattr(ObjectStore, "put_bytes", checked_put)
    monkeypatch.setattr(ObjectStore, "delete", checked_delete)
    monkeypatch.setattr(ObjectStore, "copy", checked_copy)


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def settings(s3_endpoint: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own bucket on the shared S3 server and its own ledger."""
    return Settings(
        home=tmp_path / "home",
        bucket=f"test-{uuid.uuid4().hex[:12]}",
        s3_endpoint_url=s3_endpoint,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
    )


@pytest.fixture
def ctx(settings: Settings) -> RunContext:
    store = ObjectStore.from_settings(settings)
    store.ensure_bucket()
    return RunContext(settings=settings, store=store, ledger=Ledger(settings.resolved_ledger_url))


TEST_RELEASES = Path(__file__).resolve().parent / "data" / "releases.csv"


def put_test_releases(store: ObjectStore) -> None:
    """Releases that let the sample photos' try-on images reach a test's storefront (a throwaway
    bucket, nobody's shop): the tests of publishing need photos a release allows. The demo's own
    releases (samples/releases.csv) allow previews only."""
    from tasks.storage import LIBRARY_RELEASES_KEY

    store.put_bytes(LIBRARY_RELEASES_KEY, TEST_RELEASES.read_bytes(), "text/csv")


def grant_release(session: Any, photo_id: str) -> None:
    """A release allowing storefront images of ``photo_id``, recorded as a library build records
    one: for tests that make the ledger's photo rows themselves."""
    from datetime import date

    from tasks.ledger import PhotoReleaseRow

    session.add(
        PhotoReleaseRow(
            photo_id=photo_id,
            release_id=f"TEST-{photo_id}",
            channels=["all"],
            territories=["worldwide"],
            valid_from=date(2020, 1, 1),
            valid_until=None,
            ai_use=True,
        )
    )


@pytest.fixture(params=["moto+sqlite", "moto+postgresql", "embedded+sqlite"])
def each_store_ctx(request, ctx: RunContext) -> Iterator[RunContext]:
    """``ctx`` on each real S3 API (moto's server, the embedded store the CLI serves from files)
    and each ledger (SQLite, the machine's PostgreSQL)."""
    if request.param == "moto+sqlite":
        yield ctx
    elif request.param == "moto+postgresql":
        yield RunContext(settings=ctx.settings, store=ctx.store, ledger=Ledger(request.getfixturevalue("postgres_url")))
    else:
        from tasks.embedded_s3 import embedded_s3

        with embedded_s3(ctx.settings, ctx.settings.home / "s3") as endpoint:
            settings = ctx.settings.model_copy(update={"s3_endpoint_url": endpoint})
            yield RunContext(settings=settings, store=ObjectStore.from_settings(settings), ledger=ctx.ledger)


def _postgres_up() -> bool:
    import psycopg2

    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


def _ensure_service(up, start: list[str], what: str) -> None:
    """A service of the machine, started with its documented command if it is down."""
    if not up():
        subprocess.run(start, check=False, capture_output=True)
        for _ in range(30):
            if up():
                break
            time.sleep(1)
    if not up():
        pytest.fail(f"{what} is not reachable and could not be started ({' '.join(start)})")


@pytest.fixture(scope="session")
def postgres_server() -> None:
    """The machine's PostgreSQL (trust auth)."""
    version = sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else ""
    _ensure_service(
        _postgres_up, ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], "PostgreSQL at 127.0.0.1:5432"
    )


def _redis_up() -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture(scope="session")
def redis_server() -> None:
    """The machine's Redis at 127.0.0.1:6379."""
    _ensure_service(
        _redis_up,
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        "Redis at 127.0.0.1:6379",
    )


@pytest.fixture
def new_database(postgres_server: None):
    """A factory of fresh PostgreSQL databases (name -> psycopg2 URL), all dropped after the test."""
    import psycopg2

    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    made: list[str] = []

    def make() -> str:
        name = f"tryon_test_{uuid.uuid4().hex[:10]}"
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"

    yield make
    for name in made:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def postgres_url(new_database) -> str:
    """A fresh database for one test, dropped afterwards."""
    return new_database()


# fixture pairs (garment SKU, model photo) covering the three categories
PAIRS = [
    ("TEE-03032", "05997_00.jpg"),
    ("CAMI-048769", "049205_0.jpg"),
    ("JEANS-051946", "051918_0.jpg"),
    ("TROUSER-051473", "049205_0.jpg"),
    ("DRESS-052234", "052472_0.jpg"),
    ("DRESS-053744", "052472_0.jpg"),
]


@pytest.fixture(scope="session")
def samples():
    """(sku, photo) -> a TryOnSample on the 768x1024 canvas, built from the fixture photos by the
    pipeline's own preprocessing; seeds differ per sample."""
    from tasks.images import decode_rgb
    from tasks.inference.engine import TryOnSample
    from tasks.preprocess.garment import prepare_garment
    from tasks.preprocess.model_photo import prepare_model_photo

    photos, built = {}, {}
    for index, (sku, photo) in enumerate(PAIRS):
        if photo not in photos:
            photos[photo] = prepare_model_photo(decode_rgb((SAMPLES / "library" / photo).read_bytes()), Settings())
        path, category = GARMENTS[sku]
        garment = prepare_garment(decode_rgb(path.read_bytes()))
        view = photos[photo].views[category]
        built[(sku, photo)] = TryOnSample(
            generation_id=f"{sku}-{photo}",
            category=category,
            person=view.image,
            person_mask=view.person_mask,
            inpaint_mask=view.inpaint_mask,
            keypoints=view.keypoints,
            cloth=garment.cloth,
            cloth_mask=garment.mask,
            seed=1000 + index,
        )
    return built


def mark_drop_complete(store: ObjectStore, date: str, marker: str = "_READY") -> None:
    """What the catalogue team does when every file of a drop is uploaded (docs/intake.md)."""
    store.put_json(drop_marker_key(date, marker), {"complete": True})


def upload_drop(ctx: RunContext, date: str, skus: tuple[str, ...], photos: tuple[str, ...], *, complete: bool = True) -> None:
    """Put fixture garments (image + meta.json) under drops/{date}/ and fixture photos in the
    library; ``complete``: then the drop's marker, as the catalogue team does."""
    for sku in skus:
        path, category = GARMENTS[sku]
        ctx.store.put_bytes(f"drops/{date}/{sku}/front.jpg", path.read_bytes())
        ctx.store.put_json(f"drops/{date}/{sku}/meta.json", {"category": category})
    if complete:
        mark_drop_complete(ctx.store, date, ctx.settings.drop_marker)
    for photo in photos:
        ctx.store.put_bytes(f"library/photos/{photo}", (SAMPLES / "library" / photo).read_bytes())
    put_test_releases(ctx.store)


def plan_drop(ctx: RunContext, date: str, skus: tuple[str, ...], photos: tuple[str, ...]) -> tuple[list, dict, list]:
    """A drop uploaded and run through intake, the library and matching (the stages as plain
    functions): the drop's items, the library build's counts, and the try-on shards."""
    from tasks.intake import discover, validate
    from tasks.match import match
    from tasks.preprocess.garment_stage import preprocess_garments

    upload_drop(ctx, date, skus, photos)
    items = preprocess_garments(ctx, date, validate(ctx, date, discover(ctx, date)))
    counts = build_library(ctx)
    return items, counts, match(ctx, date, items)


def generate_drop(ctx: RunContext, date: str, skus: tuple[str, ...], photos: tuple[str, ...]) -> None:
    """``plan_drop``, then try-on with the context's engine, up to QC."""
    from tasks.inference import tryon_stage

    for shard in plan_drop(ctx, date, skus, photos)[2]:
        tryon_stage.run_shard(ctx, shard)


def small_jpeg(label: str) -> bytes:
    """A small real JPEG whose colour comes from ``label``: distinct labels, distinct images
    (what a test's ledger rows stand for: a generation's image, a model photo, a garment photo)."""
    import hashlib

    import numpy as np

    from tasks.images import encode_jpeg

    colour = np.frombuffer(hashlib.sha256(label.encode()).digest()[:3], dtype=np.uint8)
    return encode_jpeg(np.broadcast_to(colour, (32, 24, 3)).copy(), 90)


def put_jpeg(store: ObjectStore, key: str) -> str:
    """:func:`small_jpeg` of ``key`` at ``key``; returns ``key``."""
    store.put_bytes(key, small_jpeg(key), "image/jpeg")
    return key


def put_tryon_inputs(store: ObjectStore, photo: str, category: str, garment_sha256: str) -> None:
    """The photo's view of ``category`` and the garment's cut-out, as preprocessing leaves them
    (small real PNGs): what a generation's Content Credentials name as its ingredients."""
    import numpy as np

    from tasks.images import decode_rgb, encode_png
    from tasks.storage import garment_cutout_key, library_view_key

    for key in (library_view_key(photo, category), garment_cutout_key(garment_sha256)):
        store.put_bytes(key, encode_png(np.ascontiguousarray(decode_rgb(small_jpeg(key)))), "image/png")


def storefront_copy_of(ctx: RunContext, gid: str) -> bytes:
    """What a storefront slot of generation ``gid`` holds: its credentialed copy, whose
    credentials a C2PA reader verifies."""
    from tasks.credentials import read_credentials
    from tasks.ledger import Generation
    from tasks.storage import credentialed_key

    with ctx.ledger.session() as session:
        row = session.get(Generation, gid)
        assert row is not None, gid
        key = credentialed_key(row.stored_key)
    data = ctx.store.get_bytes(key)
    assert read_credentials(data, TEST_SIGNING.ca_pem).state == "Trusted", key
    return data


def approve_everything(ctx: RunContext, date: str) -> None:
    """QC's verdict stood in for (every generation of ``date`` flagged), then a reviewer approves each."""
    from sqlalchemy import select

    from tasks.ledger import Generation
    from tasks.publish import publish
    from tasks.review import decisions

    with ctx.ledger.session() as session:
        for row in session.scalars(select(Generation).where(Generation.drop_date == date, Generation.state == "generated")):
            row.state = "flagged"
    publish(ctx, date)
    for row in ctx.ledger.generations(date):
        if row.state == "flagged":
            decisions.approve(ctx, row.generation_id, "ana")


def flagged_generations(
    ctx: RunContext, n: int, sku: str = "TEE-1", photo: str = "p1", seed0: int = 0, date: str = "2026-11-20"
) -> list[str]:
    """``n`` flagged generations of one storefront slot, each with its image and review copy in
    the store, as the publish stage leaves them (ledger rows made directly: no engine runs)."""
    from sqlalchemy import select

    from tasks.catalog.review_copies import copy_for_review
    from tasks.ledger import Garment, Generation, GenerationState, ModelPhoto

    ids = []
    with ctx.ledger.session() as session:
        garment = session.scalar(select(Garment).where(Garment.drop_date == date, Garment.sku == sku))
        if garment is None:
            garment = Garment(drop_date=date, sku=sku, category="upper_body", sha256="a" * 64, state="flagged")
            session.add(garment)
        if session.get(ModelPhoto, photo) is None:
            session.add(ModelPhoto(photo_id=photo, sha256="b" * 64, source_key=f"library/photos/{photo}.jpg", state="ready"))
            grant_release(session, photo)
        session.flush()
        put_tryon_inputs(ctx.store, photo, garment.category or "upper_body", garment.sha256 or "")
        for i in range(n):
            gid = f"{sku}-{photo}-{date}-{seed0 + i}"
            key = f"generations/v1/{sku}/{photo}/{gid}.jpg"
            put_jpeg(ctx.store, key)
            session.add(generation_row(garment, photo, gid, key, GenerationState.FLAGGED.value, WEIGHTLESS_V1, seed0 + i))
            ids.append(gid)
    for gid in ids:
        with ctx.ledger.session() as session:
            copy_for_review(ctx.store, session.get(Generation, gid), ["test"])
    return ids


WARP_BASELINE = ("warp-baseline", "warp-baseline-1.0.0", "none", {})  # an engine without learned weights: nothing to license
WEIGHTLESS_V1 = ("test", "v1", "none", {})  # a test engine without learned weights, its images under generations/v1/


def generation_row(garment, photo: str, gid: str, key: str, state: str, engine=WARP_BASELINE, seed: int = 0):
    """A generation of ``garment`` on ``photo`` as try-on and QC leave it, ``engine`` naming
    what made it (name, model version, weights sha256, parameters)."""
    from tasks.ledger import Generation

    name, model_version, weights, parameters = engine
    return Generation(
        generation_id=gid,
        garment_id=garment.id,
        garment_sha256=garment.sha256,
        photo_id=photo,
        drop_date=garment.drop_date,
        sku=garment.sku,
        category=garment.category,
        engine=name,
        model_version=model_version,
        weights_sha256=weights,
        parameters=parameters,
        seed=seed,
        object_key=key,
        state=state,
    )


def prepare_drops(
    settings: Settings, drops: dict[str, tuple[str, ...]], photos: tuple[str, ...], unfinished: tuple[str, ...] = ()
) -> RunContext:
    """A bucket holding each date's drop (date -> SKUs) and the model photos, with the library
    preprocessed and its index written, as a run of garment_drop expects to find it. The drops of
    the ``unfinished`` dates are not marked complete."""
    ctx = RunContext.from_settings(settings)
    ctx.store.ensure_bucket()
    for date, skus in drops.items():
        upload_drop(ctx, date, skus, photos, complete=date not in unfinished)
    build_library(ctx)
    return ctx


def build_library(ctx: RunContext) -> PhotoCounts:
    """The model photos in the bucket preprocessed and indexed in this process, as the
    model_library DAG's build leaves them (that DAG has tests of its own); the preprocessing's
    counts."""
    from tasks.preprocess import library_stage

    counts = library_stage.preprocess_model_photos(ctx)
    library_stage.build_index(ctx, [counts])
    return counts


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its TRYON_ and AIRFLOW settings (a person's shell),
    with TRYON_HOME and ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRYON_", "AIRFLOW"))}
    return env | {"TRYON_HOME": str(home)} | extra


def released_registry(registry: Path, version: str) -> Path:
    """The registry as an operator who releases these weights writes it: a version, released,
    not marked random (the weights are random all the same: only the policy is under test)."""
    import yaml

    data = yaml.safe_load(registry.read_text())
    for entry in data["models"].values():
        entry.update(version=version, released=True, random_weights=False)
    released = registry.with_name("released.yaml")
    released.write_text(yaml.safe_dump(data))
    return released


def size_only_suite(folder: Path) -> Path:
    """A QC suite file (TRYON_QC_EXPECTATIONS) with only the size expectations: what a test of the
    publish policy or the spot check uses so that QC does not decide for it."""
    import yaml

    from tasks.qc.suite import CONFIG

    suite = yaml.safe_load(CONFIG.read_text())
    suite["expectations"] = [e for e in suite["expectations"] if e["name"].startswith("size_")]
    path = folder / "size-only.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path
