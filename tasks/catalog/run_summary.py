"""The run summary of a drop date (``reports/{date}/summary.json``): counts by state that add up
to the inputs, per category, every item with its state and reason, the models that made the
images, the drop's wait, the looks and the time per stage. The report builds it
(``tasks.report.build_summary``) and renders it; the CLI prints it and a backfill reads it to
decide whether a date runs again (``tasks.run_end.needs_run``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.catalog.documents import from_document
from tasks.storage import ObjectStore, report_key

SUMMARY = "summary.json"

Tally = dict[str, int]  # state (or cause, or category) -> how many


@dataclass
class DropWait:
    """Whether the drop was marked complete and what the run's wait for it came to."""

    marker: str
    marked_complete: bool
    outcome: str | None  # ready, not_waited, no_drop, error; None: the stages ran without the wait
    processed: bool = True
    wait_s: int | float | None = None  # as the run's params set it
    waited_s: float | None = None
    waiting: list[str] = field(default_factory=list)  # the inputs of an unfinished upload (no_drop)
    warnings: list[str] = field(default_factory=list)  # what the drop's reading found to tell


@dataclass
class ModelUsed:
    engine: str
    model_version: str
    weights_sha256: str
    released: bool
    note: str
    licensed: bool = False  # its weights' licences allow the deployment's use (tasks.licences)
    licence_note: str = ""  # in words: which licences stood behind its images, or which one does not allow the use
    generations: int = 0


@dataclass
class SpotChecks:
    checked: int
    missed: int


@dataclass
class SpotCheckTally:
    date: SpotChecks
    to_date: SpotChecks


@dataclass
class GarmentLine:
    sku: str
    category: str | None
    state: str
    reason: str | None
    source_key: str | None


@dataclass
class GenerationLine:
    generation_id: str
    sku: str
    photo_id: str
    category: str
    state: str
    reason: str | None
    engine: str
    model_version: str
    key: str | None


@dataclass
class PhotoLine:
    photo_id: str
    state: str
    reason: str | None
    categories: list[str]


@dataclass
class Partner:
    sku: str
    score: float


@dataclass
class LookFileLine:
    sku: str
    model: str
    partners: list[Partner]


@dataclass
class OutfitLine:
    generation_id: str
    look_id: str
    photo_id: str
    upper_sku: str
    lower_sku: str
    score: float
    looks_model: str
    engine: str
    state: str
    reason: str | None
    key: str | None


@dataclass
class LooksSummary:
    files: list[LookFileLine] = field(default_factory=list)
    outfits_by_state: Tally = field(default_factory=dict)
    outfits: list[OutfitLine] = field(default_factory=list)


@dataclass
class StageTime:
    """One stage of the run: its tasks, summed seconds, wall span, failed tasks."""

    stage: str
    tasks: int
    seconds: float
    failed: int
    started: str
    finished: str
    wall_seconds: float = 0.0


@dataclass
class FailedStage:
    stage: str
    error: str


@dataclass
class ShardFigures:
    """What one try-on task did with its shard: counts by outcome, and its engine's figures
    (weight loads and their seconds, engine seconds with the load left out, seconds per
    generation, and the seconds the engine waited on inputs and on writes)."""

    batches: int
    pid: int
    generated: int = 0
    existing: int = 0
    failed: int = 0
    superseded: int = 0
    engine_loads: int = 0
    load_seconds: float = 0.0
    engine_seconds: float = 0.0
    seconds_per_generation: float | None = None
    input_wait_seconds: float = 0.0
    write_wait_seconds: float = 0.0


@dataclass
class TryonTask:
    """A try-on task of the run: its record, with its shard's figures once it finished."""

    task: str | int | None
    attempt: int | None
    seconds: float | None
    ok: bool | None
    batches: int | None = None
    pid: int | None = None
    generated: int | None = None
    existing: int | None = None
    failed: int | None = None
    superseded: int | None = None
    engine_loads: int | None = None
    load_seconds: float | None = None
    engine_seconds: float | None = None
    seconds_per_generation: float | None = None
    input_wait_seconds: float | None = None
    write_wait_seconds: float | None = None


@dataclass
class CredentialsTally:
    """The Content Credentials on the date's storefront images, as a C2PA reader finds them."""

    images: int = 0  # the date's storefront images
    read: int = 0  # of them, read back (all, or an even sample)
    by_state: Tally = field(default_factory=dict)  # the reader's validation state: Valid, Trusted, Invalid, none (...)
    signers: list[str] = field(default_factory=list)
    example: str | None = None  # one image's credentials, in words


@dataclass
class RunSummary:
    date: str
    drop: DropWait
    inputs: int
    manifest: str = ""  # the date's storefront manifest key
    models: list[ModelUsed] = field(default_factory=list)
    spot_checks: SpotCheckTally = field(default_factory=lambda: SpotCheckTally(SpotChecks(0, 0), SpotChecks(0, 0)))
    garments_by_state: Tally = field(default_factory=dict)
    garments_by_category: Tally = field(default_factory=dict)
    category_by_state: dict[str, Tally] = field(default_factory=dict)
    generations_by_state: Tally = field(default_factory=dict)
    # flagged is two different things: failed QC, or passed QC from a preview model (or over an approved image)
    flagged_by_cause: Tally = field(default_factory=dict)
    photos_without_rights: dict[str, str] = field(default_factory=dict)  # photo id -> why its release keeps it off the storefront
    releases_ending: list[str] = field(default_factory=list)  # releases ending within TRYON_RIGHTS_WARN_DAYS, in words
    credentials: CredentialsTally = field(default_factory=CredentialsTally)
    model_photos_by_state: Tally = field(default_factory=dict)
    garments: list[GarmentLine] = field(default_factory=list)
    generations: list[GenerationLine] = field(default_factory=list)
    model_photos: list[PhotoLine] = field(default_factory=list)
    looks: LooksSummary = field(default_factory=LooksSummary)
    stages: list[StageTime] = field(default_factory=list)
    failed_stages: list[FailedStage] = field(default_factory=list)
    tryon_tasks: list[TryonTask] = field(default_factory=list)


def read_summary(store: ObjectStore, date: str) -> RunSummary | None:
    """The date's summary, or None before its first report. A summary written before the drop's
    wait was recorded counts as processed."""
    document = store.get_json_or_none(report_key(date, SUMMARY))
    if document is None:
        return None
    document.setdefault("drop", {"marker": "", "marked_complete": True, "outcome": None})
    return from_document(RunSummary, document)
