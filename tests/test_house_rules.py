"""The house's rules, read from the code (docs/architecture.md): stages never import each other
(they share artefacts through ``tasks/catalog/``), and no module of ``tasks/`` reaches itself
through its imports (no import circles)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

TASKS = REPO / "tasks"
# the stages, each the unit a DAG task (or the review page) runs; a package's stage modules are
# one unit (the review page's decisions, the looks stages), a top-level stage module is its own
STAGES = {
    "tasks.intake": "intake",
    "tasks.preprocess.library_stage": "preprocess",
    "tasks.preprocess.garment_stage": "preprocess",
    "tasks.match": "match",
    "tasks.inference.tryon_stage": "inference",
    "tasks.qc.inputs": "qc",
    "tasks.qc.stage": "qc",
    "tasks.publish": "publish",
    "tasks.looks.train_stage": "looks",
    "tasks.looks.drop_looks": "looks",
    "tasks.looks.outfit_tryon": "looks",
    "tasks.evaluation.run": "evaluation",
    "tasks.report": "report",
    "tasks.run_end": "run_end",
    "tasks.audit": "audit",
    "tasks.review.decisions": "review",
    "tasks.review.look_decisions": "review",
    "tasks.review.spot_check": "review",
    "tasks.review.app": "review",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` imports anywhere (a function's lazy import too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found & modules


def _graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in TASKS.rglob("*.py") if "migrations" not in p.parts}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def test_every_listed_stage_exists() -> None:
    assert set(STAGES) <= set(_graph()), set(STAGES) - set(_graph())


def test_no_stage_imports_another_stage() -> None:
    graph = _graph()
    crossings = sorted(
        f"{stage} imports {other}"
        for stage, unit in STAGES.items()
        for other in graph[stage]
        if other in STAGES and STAGES[other] != unit
    )
    assert crossings == [], "share the artefact through tasks/catalog/ instead"


def test_no_import_circles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == []


def test_images_are_judged_on_one_path() -> None:
    """The try-on shards' QC, the full-outfit try-on and the evaluation judge images through
    ``tasks/qc/judge.py``: nothing outside ``tasks/qc/`` assembles QC's inputs, metrics or suite itself."""
    own = {"generation_metrics", "view_template", "validate_generations"}
    reaching = []
    for path in TASKS.rglob("*.py"):
        if (TASKS / "qc") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and {a.name for a in node.names} & own:
                reaching.append(f"{path.relative_to(REPO)}: {node.module}")
    assert reaching == [], "judge images with tasks.qc.judge"
