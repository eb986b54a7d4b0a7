"""model_library: preprocess the model-photo library and publish its index.

Every photo under ``library/photos/`` is preprocessed once per content hash (pose, person mask,
faces, cleaning, parsing, refocused views with LaDI-VTON masks and pose maps, embeddings), in
mapped chunks; then the library is clustered per category and ``library/index.parquet`` is
written. That file is the Airflow asset (named by its S3 URI) that garment_drop's matching reads.
Then ``looks`` embeds each photo's outfit and trains the outfit-compatibility model when the
outfits changed (docs/looks.md).

The DAG looks at the photos on ``library_schedule`` (every 30 minutes by default) and runs only
when they changed since the last build (their listing's fingerprint: keys, ETags, sizes, and the
preprocessing backends); otherwise the run ends at its first task, skipping the rest. The
``rebuild`` param (``tryon library build``) runs it whatever the fingerprint says.

The ``erase`` param (``tryon library erase PHOTO --reason ... --by ...``; ``erase_reason`` and
``erased_by`` with it) first erases that photo and everything made from it (``tasks.erasure``,
docs/rights.md); the build that follows leaves it out of the index, the clusters and the looks.
"""

from __future__ import annotations

from dataclasses import asdict

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from tasks.airflow_glue.common import (
    checked_run_context,
    dag_defaults,
    library_index,
    library_photos,
    models_on,
    param,
    report_lineage,
    run_context,
)
from tasks.airflow_glue.xcom import allow_xcom_classes
from tasks.catalog.library_build import LibraryBuild, PhotoCounts
from tasks.settings import get_settings

SETTINGS = get_settings()  # read at each parse of this file
allow_xcom_classes()  # the chunks' counts and the build cross XCom as these dataclasses

CHUNK = 16


@dag(
    dag_id="model_library",
    schedule=CronTriggerTimetable(SETTINGS.library_schedule, timezone="UTC"),
    params={
        "rebuild": param(False, "Build even when the photos have not changed since the last build.", type="boolean"),
        "erase": param(None, "A photo (id or file name) to erase first, with all made from it.", type=["null", "string"]),
        "erase_reason": param("", "Why the photo is erased (kept in the erasure record).", type="string"),
        "erased_by": param("", "Who asked for the erasure (kept in the erasure record).", type="string"),
        "looks": param(
            True,
            "Bring the outfits up to date and train the looks model when they changed; false leaves them as they are "
            "(the demo, whose preview engine makes no full outfits and publishes nothing to look files).",
            type="boolean",
        ),
    },
    doc_md=__doc__,
    **dag_defaults(SETTINGS),
)
def model_library() -> None:
    @task
    def erase() -> str | None:
        """The preflight checks, then the ``erase`` param's photo erased (tasks.erasure), or
        nothing when it is not set."""
        from tasks.erasure import erase_photo

        ctx, params = checked_run_context(("S3", "ledger")), get_current_context()["params"]
        if not params.get("erase"):
            return None
        done = erase_photo(ctx, params["erase"], params.get("erase_reason") or "", params.get("erased_by") or "")
        print(done.describe())
        return done.describe()

    @task.short_circuit
    def photos_changed() -> str | None:
        """The photos' fingerprint when a build is due; None ends the run here (nothing changed)."""
        from tasks.preprocess.library_stage import library_changed, photos_fingerprint

        ctx = run_context()
        if get_current_context()["params"].get("rebuild"):
            return photos_fingerprint(ctx)
        return library_changed(ctx)

    @task(inlets=[library_photos(SETTINGS)])
    def list_photos() -> list[list[str]]:
        from tasks.storage import library_photos_prefix

        keys = sorted(run_context().store.list_keys(library_photos_prefix()))
        return [keys[i : i + CHUNK] for i in range(0, len(keys), CHUNK)]

    @task(queue=SETTINGS.cpu_queue, pool=SETTINGS.cpu_pool)
    def preprocess(keys: list[str]) -> PhotoCounts:
        from tasks.preprocess.library_stage import preprocess_model_photos

        ctx = run_context()
        models_on(ctx, None, "pose", "parsing", "embedding")
        return preprocess_model_photos(ctx, keys)

    @task(outlets=[library_index(SETTINGS)])
    def build_index(chunks: list[PhotoCounts], fingerprint: str) -> LibraryBuild:
        from tasks.preprocess.library_stage import build_index as run

        # index by length: iterating the lazy sequence probes one past its end, which Airflow
        # logs as an error
        ctx = run_context()
        built = run(ctx, [chunks[i] for i in range(len(chunks))], fingerprint)
        report_lineage(ctx.settings, "build_index")
        return built

    @task
    def looks(built: LibraryBuild) -> dict[str, object]:
        """The photos' outfits (library/outfits.parquet), and a compatibility model trained on
        them when they changed since the current one (docs/looks.md)."""
        from tasks.looks.train_stage import LooksTraining, train_looks

        if not get_current_context()["params"]["looks"]:
            return asdict(LooksTraining("skipped", 0, None))
        return asdict(train_looks(run_context()))

    fingerprint = photos_changed()
    erase() >> fingerprint
    photos = list_photos()
    fingerprint >> photos
    looks(build_index(preprocess.expand(keys=photos), fingerprint))


model_library()
