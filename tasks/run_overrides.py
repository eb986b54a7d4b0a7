"""What a single DAG run may set: the drop date (for a run without a logical date), the
settings a backfill with another model version or seed needs, and an operator's forcing of
the evaluation gate with a reason; nothing that moves data elsewhere. Each is a typed DAG param (``PARAMS``: JSON schema, shown as Airflow's trigger form,
validated by Airflow when a run is triggered); ``tryon backfill`` passes the same names.
``null`` means "the deployment's setting"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.settings import Settings

RUN_SETTINGS = (
    "drop_wait_s",
    "engine",
    "ladi_vton_dataset",
    "inference_steps",
    "guidance_scale",
    "scheduler",
    "precision",
    "seed",
    "photos_per_garment",
    "batch_size",
)


# Airflow validates a param each time it reads one (serialising a DAG reads every param of every
# task, a run does so dozens of times), and jsonschema checks the param's schema against its dialect's
# meta-schema first. A schema that names no dialect is checked as Draft 2020-12, whose meta-schema
# costs 2.6 times Draft 7's: about a second of each DAG run. The params use nothing newer than Draft 7.
PARAM_DIALECT = "http://json-schema.org/draft-07/schema#"


def with_dialect(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A param's JSON schema as Airflow and :func:`check_params` validate it: in ``PARAM_DIALECT``."""
    return {"$schema": PARAM_DIALECT, **schema}


def _nullable(kind: str, description: str, **schema: Any) -> dict[str, Any]:
    if "enum" in schema:
        schema["enum"] = [None, *schema["enum"]]
    return {"type": ["null", kind], "description": description, **schema}


PARAMS: dict[str, dict[str, Any]] = {
    "drop_date": _nullable(
        "string",
        "The drop date (drops/DATE/) for a run without a logical date; otherwise the logical date is the drop date.",
        format="date",
    ),
    "drop_wait_s": _nullable(
        "integer",
        "Longest wait for the drop's completion marker (drops/DATE/_READY), in seconds; "
        "then the run ends as 'no drop'. 0: take the drop as it is, without waiting.",
        minimum=0,
    ),
    "engine": _nullable("string", "Try-on engine for this run.", enum=["warp-baseline", "ladi-vton", "null"]),
    "ladi_vton_dataset": _nullable(
        "string", "LaDI-VTON weights: the training set they come from.", enum=["vitonhd", "dresscode"]
    ),
    "inference_steps": _nullable("integer", "Denoising steps of a diffusion engine.", minimum=1, maximum=1000),
    "guidance_scale": _nullable("number", "Classifier-free guidance scale.", minimum=1.0),
    "scheduler": _nullable("string", "Diffusion sampler.", enum=["ddim", "dpm-solver++"]),
    "precision": _nullable("string", "Numeric precision of the diffusion engine.", enum=["auto", "bf16", "fp16", "fp32"]),
    "seed": _nullable("integer", "Base seed (part of every generation id).", minimum=0),
    "photos_per_garment": _nullable("integer", "Model photos matched per garment.", minimum=1, maximum=50),
    "batch_size": _nullable("integer", "Generations per engine call.", minimum=1, maximum=256),
    # the evaluation gate (tasks/evaluation/gate.py): a model version other than the deployment's
    # runs only on an evaluation at least as good, or forced with a reason, recorded with the operator
    "force_reason": _nullable(
        "string",
        "Run a model version no evaluation shows at least as good as the deployment's: why (recorded in the ledger).",
        minLength=1,
    ),
    "operator": _nullable("string", "Who forces it (recorded with the reason); default: the run's id.", minLength=1),
}


def check_params(values: Mapping[str, Any]) -> None:
    """Refuse what Airflow would refuse, before a command starts anything (``ValueError`` naming
    the param)."""
    import jsonschema

    unknown = sorted(set(values) - set(PARAMS))
    if unknown:
        raise ValueError(f"a run may not set {', '.join(unknown)}; allowed: {', '.join(PARAMS)}")
    for name, value in values.items():
        try:
            jsonschema.validate(value, with_dialect(PARAMS[name]), format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError as error:
            raise ValueError(f"param {name}: {error.message}") from error


def apply_run_overrides(settings: Settings, params: Mapping[str, Any] | None) -> Settings:
    """The settings of a run with these params (those that are null keep the settings' value)."""
    overrides = {name: params[name] for name in RUN_SETTINGS if params and params.get(name) is not None}
    if not overrides:
        return settings
    return Settings(**{**settings.model_dump(), **overrides})


def parse_value(text: str) -> Any:
    """A command line's ``KEY=VALUE`` value as the param's JSON type: 20 -> 20, 7.5 -> 7.5, ddim -> 'ddim'."""
    import yaml

    value = yaml.safe_load(text)
    return value if isinstance(value, int | float | str) and not isinstance(value, bool) else text


def model_version_overrides(spec: str) -> dict[str, Any]:
    """``ENGINE`` or ``ENGINE/DATASET`` (e.g. ``ladi-vton/dresscode``) -> run settings."""
    engine, _, dataset = spec.partition("/")
    return {"engine": engine, **({"ladi_vton_dataset": dataset} if dataset else {})}
