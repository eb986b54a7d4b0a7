"""The state machine (tasks/states.py): the one place that changes a ledger row's state, and the
moves it refuses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tasks.ledger import Base, Garment, GarmentState, Generation, GenerationState, LookGeneration, Publication
from tasks.states import IllegalMove, PublicationState, initial, move, move_back, settle_garments
from tests.conftest import REPO

STATE_MACHINE = REPO / "tasks" / "states.py"


LEDGER_ROWS = {mapper.class_.__name__ for mapper in Base.registry.mappers}


def _writes_a_row(func: ast.expr) -> bool:
    """A call that makes or changes ledger rows: a table's constructor, an UPDATE's ``values``, an upsert."""
    if isinstance(func, ast.Name):
        return func.id in LEDGER_ROWS
    return isinstance(func, ast.Attribute) and func.attr in {"values", "upsert", *LEDGER_ROWS}


def _state_writes(path: Path) -> list[str]:
    """Where ``path`` assigns a ``.state`` or passes ``state=`` to a call that makes or changes
    ledger rows (a row's constructor, an UPDATE's values, an upsert)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            for target in node.targets:
                targets += target.elts if isinstance(target, ast.Tuple) else [target]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        found += [
            f"{path.relative_to(REPO)}:{node.lineno}" for t in targets if isinstance(t, ast.Attribute) and t.attr == "state"
        ]
        if isinstance(node, ast.Call) and any(k.arg == "state" for k in node.keywords) and _writes_a_row(node.func):
            found.append(f"{path.relative_to(REPO)}:{node.lineno} (state=)")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "state":
                found.append(f"{path.relative_to(REPO)}:{node.lineno} (setattr)")
    return found


def test_nothing_but_the_state_machine_assigns_a_state() -> None:
    sources = [*(REPO / "tasks").rglob("*.py"), *(REPO / "dags").rglob("*.py")]
    writes = [w for p in sources if p != STATE_MACHINE and "migrations" not in p.parts for w in _state_writes(p)]
    assert writes == [], "change states with tasks.states.move / move_if / initial"
    assert _state_writes(STATE_MACHINE), "the rule looks at the right thing"


def _generation(state: GenerationState) -> Generation:
    return initial(Generation(generation_id="g1", garment_id=1), state)


def test_legal_moves_go_and_others_are_refused_naming_the_row() -> None:
    row = _generation(GenerationState.PLANNED)
    for state in (GenerationState.GENERATED, GenerationState.PASSED, GenerationState.PUBLISHED, GenerationState.REJECTED):
        move(row, state, "why")
    assert (row.state, row.reason) == ("rejected", "why")
    with pytest.raises(IllegalMove, match="Generation g1: rejected -> published is not a legal move"):
        move(row, GenerationState.PUBLISHED)
    with pytest.raises(IllegalMove, match="planned -> published"):
        move(_generation(GenerationState.PLANNED), GenerationState.PUBLISHED)  # never without QC
    with pytest.raises(IllegalMove, match="superseded -> published"):
        move(_generation(GenerationState.SUPERSEDED), GenerationState.PUBLISHED)
    # only an undone review decision brings a rejected or superseded generation back, and not to the storefront
    move_back(row, GenerationState.FLAGGED, "failed: not_blank")
    assert (row.state, row.reason) == ("flagged", "failed: not_blank")
    with pytest.raises(IllegalMove, match="rejected -> published"):
        move_back(_generation(GenerationState.REJECTED), GenerationState.PUBLISHED)
    garment = initial(Garment(sku="TEE-1"), GarmentState.QUARANTINED)
    with pytest.raises(IllegalMove, match="Garment TEE-1: quarantined -> matched"):
        move(garment, GarmentState.MATCHED)
    move(garment, GarmentState.DISCOVERED)  # a re-run takes every garment from the top
    look = initial(LookGeneration(generation_id="l1"), GenerationState.REJECTED)
    with pytest.raises(IllegalMove):
        move(look, GenerationState.FLAGGED)  # a reviewer's rejection is not undone by making it again
    publication = initial(Publication(generation_id="g1"), PublicationState.LIVE)
    move(publication, PublicationState.WITHDRAWN, "withdrawn")
    move(publication, PublicationState.LIVE)


def test_garments_settle_from_their_generations_unless_unusable_or_gone() -> None:
    garments = {
        1: initial(Garment(id=1, sku="A"), GarmentState.MATCHED),
        2: initial(Garment(id=2, sku="B"), GarmentState.QUARANTINED, "bad_image"),
        3: initial(Garment(id=3, sku="C"), GarmentState.MATCHED),
        4: initial(Garment(id=4, sku="D"), GarmentState.WITHDRAWN, "gone"),
    }
    generations = [
        initial(Generation(generation_id="a1", garment_id=1), GenerationState.PUBLISHED),
        initial(Generation(generation_id="a2", garment_id=1), GenerationState.FLAGGED, "failed: x"),
        initial(Generation(generation_id="b1", garment_id=2), GenerationState.FLAGGED, "failed: x"),
        initial(Generation(generation_id="c1", garment_id=3), GenerationState.FAILED, "engine_error: boom"),
        initial(Generation(generation_id="c2", garment_id=3), GenerationState.SUPERSEDED, "old"),
        initial(Generation(generation_id="d1", garment_id=4), GenerationState.PUBLISHED),
    ]
    settle_garments(garments, generations)
    assert {g.sku: (g.state, g.reason) for g in garments.values()} == {
        "A": ("flagged", None),
        "B": ("quarantined", "bad_image"),
        "C": ("rejected", "generation_failed: engine_error: boom"),
        "D": ("withdrawn", "gone"),
    }
