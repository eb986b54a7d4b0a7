"""One typed settings object, read from ``TRYON_*`` environment variables.

The defaults describe the *embedded default*: a project-local working folder (``.tryon/``),
a SQLite ledger inside it, an S3 API served in-process on loopback over files in ``home/s3/``
(``tasks/embedded_s3/``; the endpoint is filled in by whoever starts it), and the CPU warp-baseline engine.
"""

from __future__ import annotations

import os
from datetime import date, time
from importlib.metadata import version
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CATEGORIES: tuple[str, ...] = ("upper_body", "lower_body", "dresses")


class DropDateRefused(ValueError):
    """A drop date the pipeline will not run."""


def parse_deadline(value: str) -> time:
    """``HH:MM`` or ``HH:MM:SS`` (the team's clock: TRYON_NIGHT_DEADLINE)."""
    try:
        return time.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"TRYON_NIGHT_DEADLINE must be HH:MM or HH:MM:SS, not {value!r}") from error


class Settings(BaseSettings):
    # An empty variable means "not set" (compose and Kubernetes write `VAR=` for an unset optional)
    model_config = SettingsConfigDict(env_prefix="TRYON_", extra="ignore", env_ignore_empty=True)

    home: Path = Field(
        default=Path(".tryon"),
        description="Working folder of the embedded default: ledger, Airflow home, model cache.",
    )
    bucket: str = Field(default="tryon", description="S3 bucket holding every prefix of BRIEF section 3.")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 API endpoint (MinIO, moto). None means AWS's own endpoints."
    )
    s3_region: str = "us-east-1"
    s3_max_attempts: int = Field(
        default=8,
        ge=1,
        description="Attempts per S3 call (first try included), botocore standard retry mode: its backoff starts at 50 ms, so 8 attempts ride out about 3 s (at most 6 s) of refused connections.",
    )
    aws_conn_id: str | None = Field(
        default=None,
        description="Inside Airflow tasks: the Airflow connection (type aws) the S3 client comes from (the Amazon provider's hook: secrets backends work); unset: the TRYON_S3_* settings. The CLI always uses the TRYON_S3_* settings.",
    )
    ledger_conn_id: str | None = Field(
        default=None,
        description="Inside Airflow tasks: the Airflow connection (postgres or sqlite) of the ledger; unset: TRYON_LEDGER_URL.",
    )
    ledger_url: str | None = Field(default=None, description="SQLAlchemy URL of the ledger; default a SQLite file in `home`.")
    ledger_lock_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait for a lock held on the ledger (SQLite busy timeout, PostgreSQL lock_timeout); then the task fails and Airflow retries it.",
    )
    ledger_statement_timeout_s: float = Field(
        default=300.0, gt=0, description="PostgreSQL statement_timeout of the ledger's connections."
    )
    run_lease_s: float = Field(
        default=3600.0,
        ge=10,
        description="Lease of a drop date while a run holds it, renewed as its stages run; a dead run's lease expires after this and the next run takes the date over.",
    )
    drop_marker: str = Field(
        default="_READY",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="The object the catalogue team writes at the drop's root (drops/DATE/_READY) once every file is uploaded; garment_drop waits for it (docs/intake.md).",
    )
    drop_wait_s: int = Field(
        default=64800,
        ge=0,
        description="Longest wait of garment_drop for the drop's marker, in seconds (default 18 h); then the run ends as 'no drop' and processes nothing. 0: do not wait, take the drop as it is (backfills of drops made before markers).",
    )
    drop_poke_s: float = Field(
        default=60.0, gt=0, description="How often the waiting trigger asks S3 for the drop's marker, in seconds."
    )
    first_drop_date: date = Field(
        default=date(2026, 1, 1), description="The garment_drop DAG's start date: earlier drop dates are refused, not skipped."
    )
    library_schedule: str = Field(
        default="*/30 * * * *",
        description="How often model_library looks at library/photos/ (cron); it runs only when the photos changed since the last build (docs/library.md).",
    )
    rights_schedule: str = Field(
        default="0 5 * * *",
        description="When the rights DAG takes off the storefront what no longer holds and warns of releases ending (cron, docs/rights.md).",
    )
    rights_warn_days: int = Field(
        default=14, ge=0, description="Days before a model release ends that the report and the rights notifier warn of it."
    )
    rights_notify_conn_id: str = Field(
        default="tryon_rights_notify",
        description="The Airflow connection (an http or https webhook) the rights DAG posts its withdrawals and warnings to; "
        "none defined: they are in its task log and the report only.",
    )
    model_dir: Path | None = Field(default=None, description="Local cache of model weights; default `home`/models.")
    model_registry: Path | None = Field(default=None, description="YAML model registry (weights URIs, sha256, licences).")
    c2pa_cert_chain: Path | None = Field(
        default=None,
        description="PEM certificate chain (signer first) that signs the Content Credentials of every storefront image; "
        "with TRYON_C2PA_PRIVATE_KEY. Never in the repository (docs/rights.md).",
    )
    c2pa_private_key: Path | None = Field(default=None, description="PEM private key (EC P-256) of TRYON_C2PA_CERT_CHAIN.")
    c2pa_conn_id: str | None = Field(
        default=None,
        description="Inside Airflow tasks: the Airflow connection whose extra holds cert_chain and private_key (PEM), "
        "instead of the two files.",
    )
    storefront_channel: str = Field(
        default="ecommerce",
        description="The channel the storefront publishes to: a model photo's release must list it (or 'all') for its "
        "try-on images to reach the storefront (docs/rights.md).",
    )
    storefront_territories: str = Field(
        default="worldwide",
        description="Where the storefront is seen, ';'-separated: a model photo's release must cover every one "
        "(or say 'worldwide').",
    )
    deployment_use: str | None = Field(
        default=None,
        pattern="^(commercial|non_commercial)$",
        description="What this deployment uses its images for: 'commercial' or 'non_commercial'. An image reaches the "
        "storefront only when every weight behind it is licensed for that use (or the registry records a licence_grant); "
        "unset, nothing does. Production images set no default (docs/rights.md).",
    )
    pose_backend: str = Field(default="mediapipe", description="'mediapipe' or a registry model of backend rtmpose-onnx.")
    parsing_backend: str = Field(default="fallback", description="'fallback' or a registry model of backend schp-onnx.")
    background_backend: str = Field(
        default="u2netp",
        description="Garment cut-outs: a registry model of backend u2net-onnx (run through rembg and combined with the "
        "classical border cut; the shipped U2-Net-p by default), or 'opencv' for the border cut alone (no weights).",
    )
    embedding_backend: str = Field(
        default="colour-texture", description="'colour-texture' or a registry model of backend clip-image-onnx."
    )
    looks_model: str | None = Field(
        default=None,
        description="The outfit-compatibility model the drop's looks use: a registry model of backend looks-compat "
        "(released or not, as its entry says); default the library's latest trained (a preview; docs/looks.md).",
    )
    looks_per_garment: int = Field(default=5, ge=1, le=50, description="Compatible garments listed in a garment's look file.")
    outfits: str = Field(
        default="released",
        pattern="^(released|always|never)$",
        description="Full-outfit images of the drop's garments: 'released' (only when the engine is a released model: a "
        "preview's outfits can never publish by themselves), 'always' (previews too, for a reviewer), or 'never'.",
    )
    engine: str = Field(
        default="warp-baseline",
        description="Try-on engine: 'warp-baseline', 'ladi-vton', or 'null' (returns the photo unchanged: for measuring the pipeline alone, never publishable).",
    )
    ladi_vton_dataset: str = Field(
        default="vitonhd", description="LaDI-VTON training set whose weights the registry names: 'vitonhd' or 'dresscode'."
    )
    inference_steps: int = Field(default=50, ge=1, description="Denoising steps of a diffusion engine.")
    guidance_scale: float = Field(default=7.5, ge=1.0, description="Classifier-free guidance scale (1 = no guidance).")
    scheduler: str = Field(default="ddim", description="'ddim' (the reference, SD2 config) or 'dpm-solver++' (fewer steps).")
    precision: str = Field(
        default="auto", description="'auto' (bf16 on CUDA, fp32 on CPU), 'bf16', 'fp16' or 'fp32'; warping always fp32."
    )
    device: str = Field(
        default="auto",
        description="The worker's device: of a diffusion engine (torch) and of the preprocessing ONNX models (onnxruntime's CUDA provider): 'auto' (CUDA when present), 'cuda', 'cuda:1', 'cpu'.",
    )
    torch_compile: bool = Field(default=False, description="Compile the diffusion engine's UNet with torch.compile.")
    tryon_queue: str = Field(
        default="gpu", description="Airflow queue of the try-on tasks (Celery workers with a GPU listen on it)."
    )
    tryon_pool: str = Field(
        default="gpu", description="Airflow pool of the try-on tasks; created if missing with `gpu_pool_slots` slots."
    )
    night_deadline: str | None = Field(
        default=None,
        description="When the night must be done, HH:MM on the team's clock the morning after the drop date (e.g. 06:00): a nightly run still going then notifies as late (an Airflow deadline alert).",
    )
    team_timezone: str = Field(default="UTC", description="The catalogue team's time zone (IANA name) for TRYON_NIGHT_DEADLINE.")
    notify_conn_id: str = Field(
        default="tryon_notify",
        description="Airflow HTTP connection of the webhook that hears of each night (finished, failed, late); none such: no notices.",
    )
    cpu_queue: str = Field(
        default="cpu",
        description="Airflow queue of the CPU-heavy mapped stages (garment validation and preprocessing, QC's measuring, library preprocessing), so they never hold the try-on queue's workers.",
    )
    cpu_pool: str = Field(
        default="cpu", description="Airflow pool of the CPU-heavy mapped stages; created if missing with `cpu_pool_slots` slots."
    )
    cpu_pool_slots: int = Field(
        default=16,
        ge=1,
        description="Slots of the CPU pool when the pipeline creates it: CPU worker processes in the deployment.",
    )
    chunk_size: int = Field(
        default=100,
        ge=1,
        description="Work items (garments, generations to measure) per mapped task of a CPU stage; a drop this size or smaller is one task.",
    )
    gpu_pool_slots: int = Field(
        default=1,
        ge=1,
        description="Slots of the try-on pool when the pipeline creates it: GPUs (or engine copies) in the deployment.",
    )
    gpu_image: str = Field(
        default_factory=lambda: f"tryon-gpu-worker:{version('tryon-pipeline')}",
        description="KubernetesExecutor: the image of try-on pods (docker/Dockerfile.gpu); other pods take the pod template's.",
    )
    gpu_node_selector: dict[str, str] = Field(
        default_factory=dict,
        description='KubernetesExecutor: node labels a try-on pod must land on, as JSON (e.g. {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}).',
    )
    reviewers: dict[str, str] = Field(
        default_factory=dict,
        description="Review page sign-ins as JSON {name: password hash}; hashes from `tryon review hash-password`.",
    )
    review_secure_cookies: bool = Field(
        default=False,
        description="Mark the review page's cookies Secure and send HSTS: on wherever it is served over HTTPS (the deployment manifests set it).",
    )
    review_session_s: float = Field(
        default=12 * 3600,
        gt=0,
        description="Life of a review sign-in (sessions are held in the ledger; signing out ends one at once).",
    )
    review_max_attempts_per_name: int = Field(
        default=5,
        ge=1,
        description="Sign-in attempts per reviewer name within the lockout window before that name is locked out.",
    )
    review_max_attempts_per_address: int = Field(
        default=30,
        ge=1,
        description="Sign-in attempts per client address within the lockout window before that address is locked out.",
    )
    review_lockout_s: float = Field(default=900, gt=0, description="The review sign-in window and lockout, in seconds.")
    review_undo_s: float = Field(
        default=300,
        ge=0,
        description="How long a reviewer may undo a decision on the review page, in seconds; undoing an approval withdraws what it published (0: no undo).",
    )
    review_trusted_proxies: str = Field(
        default="127.0.0.1",
        description="Addresses (comma-separated) whose X-Forwarded-For the review page believes: the TLS proxy in front of it. Sign-in limits count the address it names; from anywhere else the header is ignored.",
    )
    model_batch: int = Field(
        default=0,
        ge=0,
        description="Images per call of the preprocessing ONNX models, gathered from the process's CPU threads (0: 16 on CUDA, 1 on the CPU, where batches buy nothing).",
    )
    cpu_threads: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)),
        ge=1,
        description="Threads a CPU task spreads its items over (QC's measuring, one garment at a time; garment and library preprocessing; the outfits' embeddings), started once per process and kept from task to task (each with its own mediapipe models); default the machine's cores, at most 4.",
    )
    qc_expectations: Path | None = Field(
        default=None,
        description="The QC suite's thresholds (YAML like tasks/qc/expectations.yaml, the default); a version is recorded with every QC result.",
    )
    spot_check_rate: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Share of each date's QC-passed, published generations that QA spot-checks on the review page (at least one where any passed; 0: none).",
    )
    evaluation_inception: str = Field(
        default="fid-inception-v3",
        description="Registry model (backend fid-inception-torchscript) whose pool features FID and KID compare: Inception-v3 as a TorchScript file.",
    )
    evaluation_alexnet: str = Field(
        default="lpips-alexnet",
        description="Registry model (backend alexnet-safetensors): the AlexNet trunk that LPIPS weighs with the shipped linear heads.",
    )
    photos_per_garment: int = Field(default=2, ge=1, description="k: model photos matched per garment.")
    batch_size: int = Field(
        default=8, ge=1, description="Generations per engine call inside a try-on shard (one category and cluster each)."
    )
    shards_per_gpu_slot: int = Field(
        default=1, ge=1, description="Try-on shards (mapped tasks, one weight load each) per slot of the try-on pool."
    )
    shard_min_generations: int = Field(
        default=64, ge=1, description="Fewest generations worth a try-on shard of its own (a shard loads the weights once)."
    )
    seed: int = Field(default=0, ge=0, description="Base seed; part of every generation id.")
    jpeg_quality: int = Field(default=95, ge=50, le=100)
    task_retries: int = Field(default=2, ge=0, description="Airflow retries per task (S3 hiccups, killed workers).")
    retry_delay_s: int = Field(default=30, ge=0, description="Seconds between an Airflow task's retries.")

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("night_deadline", mode="after")
    @classmethod
    def _deadline_clock(cls, value: str | None) -> str | None:
        if value:
            parse_deadline(value)
        return value or None

    @field_validator("team_timezone", mode="after")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"TRYON_TEAM_TIMEZONE {value!r} is not a known time zone (e.g. Europe/Berlin)") from error
        return value

    def check_drop_date(self, drop_date: str) -> None:
        """Refuse a drop date before ``first_drop_date``: Airflow would run nothing for it and
        report success."""
        if date.fromisoformat(drop_date) < self.first_drop_date:
            raise DropDateRefused(
                f"drop {drop_date} is before the pipeline's first drop date {self.first_drop_date} "
                "(TRYON_FIRST_DROP_DATE): Airflow runs nothing for it; set an earlier first date to process it"
            )

    # plain properties, not cached ones: ``model_copy(update=...)`` copies a cached value along
    # with the fields, and a copy pointed at another ledger or home kept the first one's
    @property
    def resolved_ledger_url(self) -> str:
        if self.ledger_url:
            return self.ledger_url
        return f"sqlite:///{self.home / 'ledger.db'}"

    @property
    def resolved_model_dir(self) -> Path:
        return (self.model_dir or self.home / "models").expanduser().resolve()


def get_settings() -> Settings:
    """Read the settings from the environment now (no caching: tasks may run in new processes
    and tests change the environment)."""
    return Settings()
