"""Great Expectations' own records of a date's validations, kept with its report.

A stage that validates (the inputs check, QC) runs its suites through a Checkpoint in a GX file
context made for the task (:func:`gx_project`); when the task ends, what GX wrote goes under
``reports/{date}/gx/``, where a data engineer who knows GX looks for it:

- ``expectations/{suite}.json``: the suites as GX's suite JSON (made from ``expectations.yaml``,
  the versioned source QC calibration writes; the version is in each suite's meta);
- ``checkpoints/``, ``validation_definitions/``: the Checkpoint and what it validates;
- ``validations/``: the validations store, every run of the date (the earlier runs' results and
  the date's suites are fetched into the context first, so the Data Docs list them all);
- ``data_docs/index.html``: the Data Docs site (GX's pages load their styles from public CDNs, as
  GX's do everywhere; offline they read as plain tables).

The run report and the review page link the Data Docs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from tasks.context import RunContext
from tasks.storage import report_key

PREFIX = "gx/"
DATA_DOCS = PREFIX + "data_docs/"  # the site, under the date's report
DATA_DOCS_INDEX = DATA_DOCS + "index.html"
_STORES = {  # under the context's gx/ folder -> under the date's gx/ prefix
    "expectations": "expectations",
    "checkpoints": "checkpoints",
    "validation_definitions": "validation_definitions",
    "uncommitted/validations": "validations",
    "uncommitted/data_docs/local_site": "data_docs",
}
_FETCHED = ("expectations", "uncommitted/validations")  # into the task's context before it validates
# GX's site ships fonts and images (4 MB) that its pages do not need to read: only these go along
_SITE_STATIC = ("static/styles/data_docs_default_styles.css", "static/images/favicon.ico")


def data_docs_key(date: str) -> str:
    return report_key(date, DATA_DOCS_INDEX)


@dataclass(frozen=True)
class GxProject:
    """Where a task's Checkpoints run (a GX file context's folder) and the run name their results carry."""

    folder: Path
    run_name: str

    def context(self) -> Any:
        """The GX file context of the project's folder (made there on first use)."""
        import great_expectations as gx

        _share_compiled_templates()
        return gx.get_context(mode="file", project_root_dir=str(self.folder))


class _CompiledTemplates(BytecodeCache):
    """Jinja's bytecode cache, kept in memory for the process: a template compiled once (by its
    name and its source's checksum) is not compiled again."""

    def __init__(self) -> None:
        self.codes: dict[tuple[str, str], Any] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        bucket.code = self.codes.get((bucket.key, bucket.checksum))

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.codes[bucket.key, bucket.checksum] = bucket.code


def _share_compiled_templates() -> None:
    """Every GX page view of this process shares one Jinja bytecode cache. GX makes a Jinja
    environment per page it renders and each compiles its templates anew, 108 compiles of the same
    few templates per Data Docs build: an inputs check with its Data Docs took 1.4-1.6 s, 0.75 s
    with the templates compiled once. The pages come out the same."""
    from great_expectations.render.view.view import DefaultJinjaView

    init = DefaultJinjaView.__init__
    if getattr(init, "shares_compiled_templates", False):
        return
    templates = _CompiledTemplates()

    def shared(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.env.bytecode_cache = templates

    shared.shares_compiled_templates = True  # type: ignore[attr-defined]
    DefaultJinjaView.__init__ = shared  # type: ignore[method-assign]


@contextmanager
def gx_project(ctx: RunContext, date: str, task: str) -> Iterator[GxProject]:
    """A GX project folder for ``task``'s validations of ``date``, holding the date's earlier
    validation results; what GX wrote there is kept under ``reports/{date}/gx/`` afterwards."""
    prefix = report_key(date, PREFIX)
    with tempfile.TemporaryDirectory(prefix="tryon-gx-") as folder:
        root = Path(folder)
        for local in _FETCHED:  # the date's suites and results so far: the Data Docs show every run and suite
            stored = f"{prefix}{_STORES[local]}/"
            for key in ctx.store.list_keys(stored):
                target = root / "gx" / local / key[len(stored) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(ctx.store.get_bytes(key))
        project = GxProject(root, f"drop {date} {task}")
        yield project
        # a Checkpoint ran: the whole site, listing the date's other suites and runs too
        if (root / "gx" / "great_expectations.yml").is_file():
            project.context().build_data_docs()  # once a task, not once a Checkpoint
        for local, remote in _STORES.items():
            base = root / "gx" / local
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                name = path.relative_to(base).as_posix()
                if local.endswith("local_site") and name.startswith("static/") and name not in _SITE_STATIC:
                    continue
                ctx.store.put_bytes(f"{prefix}{remote}/{name}", path.read_bytes(), _media_type(name))


def _media_type(name: str) -> str:
    return {
        ".html": "text/html; charset=utf-8",
        ".json": "application/json",
        ".css": "text/css",
        ".ico": "image/x-icon",
    }.get(Path(name).suffix, "application/octet-stream")
