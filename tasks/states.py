"""The life of every ledger row that has a state: which moves are legal, and the one place that
makes them. Nothing else in ``tasks/`` assigns a row's ``state`` (an import-rule test holds
this): a stage asks :func:`move` (a row it holds), :func:`move_if` (a conditional UPDATE, so of
two reviewers deciding one generation exactly one wins) or :func:`settle_garments` (a garment's
state derived from its generations). A move the tables do not allow raises :class:`IllegalMove`:
a bug in the caller, never something to retry.

Garments: ``discovered -> preprocessed -> matched -> published | flagged | rejected``, or
``quarantined`` (the input is unusable) or ``withdrawn`` (its folder left the drop). A re-run of
the date discovers every garment again, so every state may go back to ``discovered``; a stage
that fails leaves a garment ``rejected`` with the reason (``pipeline_incomplete``).

Generations: ``planned -> generated -> passed | flagged -> published``; ``failed`` and
``rejected`` (by a reviewer) end them, unless the reviewer undoes the decision in time (:func:`move_back`); ``superseded`` retires one that is no longer the pair's
current generation. A generation whose image was lost is planned (or, made again, generated)
anew. Full-outfit generations skip ``generated``: QC judges them where they are made.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import update

from tasks.ledger import (
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    LookGeneration,
    ModelPhoto,
    Publication,
    QCResult,
    rows_in,
)


class PublicationState(str, enum.Enum):
    LIVE = "published"
    SUPERSEDED = "superseded"  # the slot holds a newer generation
    WITHDRAWN = "withdrawn"


class CheckState(str, enum.Enum):
    """One QC expectation's result for one generation."""

    PASSED = "passed"
    FAILED = "failed"


class IllegalMove(RuntimeError):
    """A move the state tables do not allow: a bug in its caller."""


G, S = GarmentState, GenerationState
_GARMENT_MOVES: dict[GarmentState, frozenset[GarmentState]] = {
    G.DISCOVERED: frozenset({G.PREPROCESSED, G.QUARANTINED}),
    G.PREPROCESSED: frozenset({G.MATCHED, G.QUARANTINED}),
    G.MATCHED: frozenset(),
    G.PUBLISHED: frozenset(),
    G.FLAGGED: frozenset(),
    G.REJECTED: frozenset(),
    G.QUARANTINED: frozenset(),
    G.WITHDRAWN: frozenset(),
}
# from any state: discovered again (a re-run of the date), rejected (discovery refuses the name, a
# stage finds it unusable or fails), withdrawn (its folder left the drop)
_GARMENT_ANYWHERE = frozenset({G.DISCOVERED, G.REJECTED, G.WITHDRAWN})
# settled from its generations (publishing, a reviewer's decision), unless it was found unusable
# or has left the drop: a re-run a stage stopped early still counts what earlier runs made
_GARMENT_SETTLED = frozenset({G.PUBLISHED, G.FLAGGED})
_UNSETTLED = frozenset({G.QUARANTINED, G.WITHDRAWN})

_OPEN = frozenset({S.PLANNED, S.GENERATED, S.PASSED, S.FLAGGED, S.FAILED, S.PUBLISHED})
_GENERATION_MOVES: dict[GenerationState, frozenset[GenerationState]] = {
    S.PLANNED: frozenset(),
    S.GENERATED: frozenset({S.PASSED, S.FLAGGED}),
    # publish holds a preview, or a slot a reviewer approved, for review
    S.PASSED: frozenset({S.PUBLISHED, S.FLAGGED}),
    # QC judges again (a new suite version); a reviewer decides
    S.FLAGGED: frozenset({S.PASSED, S.PUBLISHED, S.REJECTED}),
    # a spot check's rejection; QC judging again
    S.PUBLISHED: frozenset({S.REJECTED, S.PASSED, S.FLAGGED}),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.SUPERSEDED: frozenset({S.PLANNED}),  # current again: the run's plan names it once more
}
# only a reviewer's decision undone in its window (``tasks.review.undo``, :func:`move_back`) brings
# a rejected generation back to review, or to the QC-passed state publishing starts from (a spot
# check's rejection), and a superseded one back to that state (its slot given back)
_UNDONE_MOVES: dict[GenerationState, frozenset[GenerationState]] = {
    S.REJECTED: frozenset({S.FLAGGED, S.PASSED}),
    S.SUPERSEDED: frozenset({S.PASSED}),
}
# from any open state: made (again: an image that was lost goes back to QC), failed, retired
# (superseded), or planned again (its image was lost: ``tryon audit``)
_GENERATION_FROM_OPEN = frozenset({S.GENERATED, S.FAILED, S.SUPERSEDED, S.PLANNED})

_LOOK_MOVES: dict[GenerationState, frozenset[GenerationState]] = {
    S.PLANNED: frozenset({S.PASSED, S.FLAGGED, S.FAILED}),
    S.PASSED: frozenset({S.PUBLISHED}),
    S.FLAGGED: frozenset({S.PUBLISHED, S.REJECTED}),
    S.PUBLISHED: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.SUPERSEDED: frozenset(),
}
# an outfit whose image is missing (or that failed) is made and judged again wherever it stood
_LOOK_REMADE = frozenset({S.PASSED, S.FLAGGED, S.FAILED})

_PUBLICATION_MOVES: dict[PublicationState, frozenset[PublicationState]] = {
    PublicationState.LIVE: frozenset({PublicationState.SUPERSEDED, PublicationState.WITHDRAWN}),
    # published again: a reviewer's approval or a passed generation takes its slot back
    PublicationState.SUPERSEDED: frozenset({PublicationState.LIVE}),
    PublicationState.WITHDRAWN: frozenset({PublicationState.LIVE}),
}


def _legal(row: Any, before: str, after: str) -> bool:
    if before == after:
        return True  # a re-run finds the row where it left it
    if isinstance(row, Garment):
        garment_was, garment_to = GarmentState(before), GarmentState(after)
        return (
            garment_to in _GARMENT_ANYWHERE
            or garment_to in _GARMENT_MOVES[garment_was]
            or (garment_to in _GARMENT_SETTLED and garment_was not in _UNSETTLED)
        )
    if isinstance(row, Generation):
        frm, to = GenerationState(before), GenerationState(after)
        return to in _GENERATION_MOVES[frm] or (frm in _OPEN and to in _GENERATION_FROM_OPEN)
    if isinstance(row, LookGeneration):
        frm, to = GenerationState(before), GenerationState(after)
        return to in _LOOK_MOVES[frm] or (frm != S.REJECTED and to in _LOOK_REMADE) or (frm in _OPEN and to == S.SUPERSEDED)
    if isinstance(row, Publication):
        return PublicationState(after) in _PUBLICATION_MOVES[PublicationState(before)]
    if isinstance(row, ModelPhoto | QCResult):
        return True  # re-read, or re-judged, whole each time: any state may follow any
    raise IllegalMove(f"{type(row).__name__} rows have no state machine")


def _value(state: enum.Enum | str) -> str:
    return state.value if isinstance(state, enum.Enum) else state


def move(row: Any, to: enum.Enum | str, reason: str | None = None) -> None:
    """Put ``row`` (a garment, generation, full-outfit generation, publication, model photo or
    QC result, held in the caller's session) in state ``to`` with ``reason`` (None clears it)."""
    after = _value(to)
    before = row.state
    if before is not None and not _legal(row, before, after):
        raise IllegalMove(
            f"{type(row).__name__} {_label(row)}: {before} -> {after} is not a legal move ({reason or 'no reason'})"
        )
    row.state = after
    row.reason = reason


def move_back(row: Generation, to: GenerationState, reason: str | None = None) -> None:
    """:func:`move`, and the moves only an undone review decision may make (``_UNDONE_MOVES``)."""
    if GenerationState(row.state) in _UNDONE_MOVES and to in _UNDONE_MOVES[GenerationState(row.state)]:
        row.state, row.reason = to.value, reason
        return
    move(row, to, reason)


def initial(row: Any, state: enum.Enum | str, reason: str | None = None) -> Any:
    """A new row's first state (returns the row, for ``session.add(initial(Generation(...), ...))``)."""
    row.state, row.reason = _value(state), reason
    return row


def move_if(
    session: Any, model: Any, key: Any, before: enum.Enum | str, to: enum.Enum | str, reason: str | None, **values: Any
) -> bool:
    """Move the row of ``model`` with primary key ``key`` from ``before`` to ``to`` in one
    conditional UPDATE (with ``values`` set too); False when it was no longer ``before``
    (someone else moved it first)."""
    if not _legal(model(), _value(before), _value(to)):
        raise IllegalMove(f"{model.__name__} {key}: {_value(before)} -> {_value(to)} is not a legal move")
    [column] = model.__table__.primary_key.columns
    changed = session.execute(
        update(model)
        .where(column == key, model.state == _value(before))
        .values(state=_value(to), reason=reason, **values)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return bool(changed == 1)


def settle(session: Any, generations: list[Generation]) -> None:
    """The garments of ``generations`` (read in the caller's session) take their states from them."""
    garment_ids = list({row.garment_id for row in generations})
    settle_garments({g.id: g for g in rows_in(session, Garment.id, garment_ids)}, generations)


def settle_garments(garments: Mapping[int, Garment], generations: Iterable[Generation]) -> None:
    """A garment's state from its generations: flagged if any awaits review, else published if
    any was published, else rejected with the generations' failure (or review) reasons.
    Superseded generations do not count (no longer the garment's); a withdrawn garment stays
    withdrawn, a quarantined one quarantined (its input is unusable, whatever was made before)."""
    by_garment: dict[int, list[Generation]] = {}
    for row in generations:
        if row.state != S.SUPERSEDED.value:
            by_garment.setdefault(row.garment_id, []).append(row)
    for garment_id, rows in by_garment.items():
        garment = garments[garment_id]
        if GarmentState(garment.state) in _UNSETTLED:
            continue
        states = {r.state for r in rows}
        reasons = "; ".join(sorted({r.reason or "unknown" for r in rows}))
        if S.FLAGGED.value in states:
            move(garment, G.FLAGGED)
        elif S.PUBLISHED.value in states:
            move(garment, G.PUBLISHED)
        elif states <= {S.FAILED.value}:
            move(garment, G.REJECTED, "generation_failed: " + reasons)
        elif states <= {S.FAILED.value, S.REJECTED.value}:
            move(garment, G.REJECTED, "rejected_in_review: " + reasons)


def _label(row: Any) -> str:
    for name in ("generation_id", "sku", "photo_id", "id"):
        value = getattr(row, name, None)
        if value is not None:
            return str(value)
    return "?"
