"""Great Expectations over the QC tables: the generation suite over the metrics table and the
inputs suite over a drop's items and the library index, analytics off. The stages run them
through a Checkpoint in a file context (the suite as GX's suite JSON, a validations store, Data
Docs: ``tasks.qc.data_docs`` keeps them under the date's report); QC calibration, which runs the
suite thousands of times, uses an ephemeral (in-memory) context.

Expectations come from ``expectations.yaml`` (versioned next to this file). Each generation
that fails is reported with the names of the expectations it failed, read from GX's own
per-row results (``unexpected_index_list`` keyed by ``generation_id``).
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tasks.catalog.qc_table import METRIC_COLUMNS
from tasks.qc.data_docs import GxProject

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

CONFIG = Path(__file__).with_name("expectations.yaml")
ID_COLUMN = "generation_id"


@dataclass
class SuiteOutcome:
    """What a suite run found: per row key, the names of the failed expectations."""

    suite: str
    version: int
    success: bool
    failed: dict[str, list[str]] = field(default_factory=dict)
    evaluated: int = 0
    statistics: dict[str, int] = field(default_factory=dict)  # expectation name -> rows that failed it
    failed_expectations: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Expectation:
    """One line of the generation suite: a metric's bounds (``min`` / ``max``, inclusive) or its
    value (``equals``), for the rows of ``category`` (all when None) where the boolean column
    ``when`` is true (all when None)."""

    name: str
    column: str
    min: float | None = None
    max: float | None = None
    equals: bool | float | None = None
    category: str | None = None
    when: str | None = None

    def applies(self, row: Mapping[str, Any]) -> bool:
        """Whether the expectation judges this row (its category, its ``when`` column)."""
        if self.category is not None and self.category != row["category"]:
            return False
        return self.when is None or bool(row.get(self.when, True))

    def fails(self, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` fails this expectation, as Great Expectations judges it (a missing
        value, None or NaN, is not judged by a bounds expectation)."""
        if not self.applies(row):
            return False
        value = row.get(self.column)
        if self.equals is not None:
            return value != self.equals
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return (self.min is not None and value < self.min) or (self.max is not None and value > self.max)

    def threshold(self) -> str:
        """The bounds in words, as a QC result records them."""
        if self.equals is not None:
            return f"== {self.equals}"
        if self.min is not None and self.max is not None:
            return f"{self.min} .. {self.max}"
        return f">= {self.min}" if self.min is not None else f"<= {self.max}"


@dataclass(frozen=True)
class SuiteConfig:
    """``expectations.yaml``: the generation suite (versioned: every QC result records the
    version that judged it) and the inputs suite."""

    version: int
    generation_suite: str
    expectations: tuple[Expectation, ...]
    inputs_suite: str
    allowed_categories: tuple[str, ...]

    def bound(self, column: str, side: str) -> float:
        """The first expectation's ``min`` or ``max`` on ``column``."""
        return float(next(getattr(e, side) for e in self.expectations if e.column == column and getattr(e, side) is not None))


OTHER_FAILURE = "other"  # a reviewer's failure mode that no expectation names


def failure_modes(config: SuiteConfig) -> tuple[str, ...]:
    """The failure modes a reviewer picks from: the expectation names of ``config`` (the suite
    that judged the image) and of the packaged suite, in their order, then ``other``. A rejection
    labelled with one teaches ``tryon qc calibrate`` that expectation."""
    names = [spec.name for suite in (config, load_config()) for spec in suite.expectations]
    return (*dict.fromkeys(names), OTHER_FAILURE)


def load_config(path: Path | None = None) -> SuiteConfig:
    """The QC suite's configuration: ``path`` or the packaged file. (The stages judge with the
    current version, ``tasks.qc.suite_versions.current_suite``.)"""
    path = path or CONFIG
    return parse_config(path.read_text(), str(path))


def parse_config(text: str, source: str) -> SuiteConfig:
    """A suite from its YAML (``source`` names it in errors)."""
    raw = yaml.safe_load(text)
    expectations = []
    for spec in raw["expectations"]:
        if ("equals" in spec) == ("min" in spec or "max" in spec):
            raise ValueError(f"{source}: expectation {spec['name']!r} needs equals, or min and/or max")
        unknown = sorted({spec["column"], spec.get("when", spec["column"])} - set(METRIC_COLUMNS))
        if unknown:
            raise ValueError(
                f"{source}: expectation {spec['name']!r} names {', '.join(unknown)}, not a QC metric (catalog.qc_table)"
            )
        expectations.append(Expectation(**spec))
    return SuiteConfig(
        version=int(raw["version"]),
        generation_suite=raw["generation_suite"],
        expectations=tuple(expectations),
        inputs_suite=raw["inputs_suite"],
        allowed_categories=tuple(raw["allowed_categories"]),
    )


def dump_config(config: SuiteConfig, header: str = "") -> str:
    """``config`` as YAML that ``parse_config`` reads back (``header``: comment lines on top)."""
    specs = [{k: v for k, v in vars(spec).items() if v is not None} for spec in config.expectations]
    body = yaml.safe_dump(
        {
            "version": config.version,
            "generation_suite": config.generation_suite,
            "expectations": specs,
            "inputs_suite": config.inputs_suite,
            "allowed_categories": list(config.allowed_categories),
        },
        sort_keys=False,
        default_flow_style=None,
        width=140,
    )
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + body


@cache
def _context() -> Any:
    """One ephemeral GX context per process (making one costs seconds); each suite run adds its
    own data source and suite to it and removes them when done."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # task logs, not terminals
    return context


def _condition(spec: Expectation) -> Any:
    from great_expectations.expectations.row_conditions import Column

    parts = []
    if spec.category is not None:
        parts.append(Column("category") == spec.category)
    if spec.when is not None:
        parts.append(Column(spec.when) == True)  # noqa: E712 (builds a GX condition, not a comparison)
    condition: Any = None
    for part in parts:
        condition = part if condition is None else condition & part
    return condition


def _expectation(spec: Expectation) -> Any:
    import great_expectations as gx

    condition = _condition(spec)
    extra = {"meta": {"name": spec.name}, **({"row_condition": condition} if condition is not None else {})}
    if spec.equals is not None:
        return gx.expectations.ExpectColumnValuesToBeInSet(column=spec.column, value_set=[spec.equals], **extra)
    return gx.expectations.ExpectColumnValuesToBeBetween(column=spec.column, min_value=spec.min, max_value=spec.max, **extra)


def run_suite(
    name: str, frame: pd.DataFrame, expectations: list[Any], key: str, version: int, project: GxProject | None = None
) -> SuiteOutcome:
    """Validate ``frame`` against ``expectations``; failures are reported per value of column
    ``key``. With ``project``, the run is GX's own: a file context there, the suite
    stored as GX's suite JSON, a Checkpoint that keeps the result in its validations store and
    updates the Data Docs (``tasks.qc.data_docs`` keeps them with the date's report); without,
    an in-memory run (QC calibration's folds, thousands of them)."""
    outcome = SuiteOutcome(suite=name, version=version, success=True, evaluated=len(frame))
    if frame.empty:
        return outcome
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [key]}
    if project is not None:
        result = _checkpoint_run(project, name, frame, expectations, result_format, version)
    else:
        result = _in_memory_run(name, frame, expectations, result_format)
    outcome.success = bool(result.success)
    for item in result.results:
        label = (item.expectation_config.meta or {}).get("name", item.expectation_config.type)
        unexpected = item.result.get("unexpected_index_list") or []
        outcome.statistics[label] = outcome.statistics.get(label, 0) + len(unexpected)
        if not item.success and label not in outcome.failed_expectations:
            outcome.failed_expectations.append(label)
        # a table-level failure, or an expectation GX could not evaluate (a missing column):
        # every row fails it, under its name
        if not item.success and not unexpected:
            unexpected = [{key: value} for value in frame[key]] if key in frame else []
        for row in unexpected:
            names = outcome.failed.setdefault(str(row[key]), [])
            if label not in names:
                names.append(label)
    return outcome


def _in_memory_run(name: str, frame: pd.DataFrame, expectations: list[Any], result_format: dict) -> Any:
    import great_expectations as gx

    context, run = _context(), f"{name}-{uuid.uuid4().hex[:12]}"
    source = context.data_sources.add_pandas(run)
    try:
        batch = (
            source.add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe("whole")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        suite = context.suites.add(gx.ExpectationSuite(name=run, expectations=expectations))
        try:
            return batch.validate(suite, result_format=result_format)
        finally:
            context.suites.delete(run)
    finally:
        context.data_sources.delete(run)


def _checkpoint_run(
    project: GxProject, name: str, frame: pd.DataFrame, expectations: list[Any], result_format: dict, version: int
) -> Any:
    """The suite run as GX's users run one: a file context in ``project``'s folder holding the suite
    (``gx/expectations/{name}.json``, its tryon version in its meta), a validation definition and
    a Checkpoint whose action updates the Data Docs; the result lands in the context's
    validations store beside any earlier ones found there."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = project.context()
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    definition = (
        context.data_sources.add_or_update_pandas("qc").add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    )
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=name, expectations=expectations, meta={"tryon_suite_version": version})
    )
    validation = context.validation_definitions.add_or_update(gx.ValidationDefinition(name=name, data=definition, suite=suite))
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"tryon_{name}",
            validation_definitions=[validation],
            actions=[UpdateDataDocsAction(name="data_docs")],
            result_format=result_format,
        )
    )
    run_id = RunIdentifier(run_name=project.run_name)
    [result] = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id).run_results.values()
    return result  # the action rendered this run's pages; the whole site is built once, as the task's project closes


def validate_generations(
    metrics: pd.DataFrame, config: SuiteConfig | None = None, project: GxProject | None = None
) -> SuiteOutcome:
    """Run the generation suite over the metrics table (one row per generation); through a
    Checkpoint in ``project`` when given (``run_suite``)."""
    config = config or load_config()
    expectations = [_expectation(spec) for spec in config.expectations]
    outcome = run_suite(config.generation_suite, metrics, expectations, ID_COLUMN, config.version, project)
    order = list(dict.fromkeys(spec.name for spec in config.expectations))
    for names in outcome.failed.values():  # in the suite's order: a review item leads with the first
        names.sort(key=order.index)
    return outcome
