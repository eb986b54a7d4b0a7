"""What may enter the storefront: an image a reviewer approved; otherwise one that passed QC,
made by a model every weight of which the registry marks released now (:class:`Gate` asks at
publish time, the same way for every path), into a slot that holds no reviewer's approval. On
every path, approved or not, only an image whose weights' licences allow the deployment's use
(``tasks.licences``) and whose model photo's release allows it now (``tasks.rights``), in a
deployment that can sign its Content Credentials (``tasks.credentials``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tasks.context import RunContext
from tasks.inference.factory import Standing
from tasks.ledger import (
    Generation,
    GenerationState,
    LookGeneration,
    ReviewDecision,
)
from tasks.licences import LicenceVerdict, verdict
from tasks.models import ModelEntry
from tasks.rights import PhotoTerms, PhotoTermsLookup
from tasks.states import move
from tasks.storage import storefront_look_key
from tasks.storefront.credentialed import no_credentials_note
from tasks.storefront.objects import place_look
from tasks.storefront.slots import current_versions, made_from_old_version, others_in_slot, record_publication

# why a generation that passed QC still waits for a reviewer (or, unlicensed, for nobody: a reviewer sees why)
PREVIEW, REPLACES_APPROVED, UNLICENSED, NO_RELEASE = "preview", "replaces_approved", "unlicensed", "no_release"
NO_CREDENTIALS = "no_credentials"


def preview_reason(note: str) -> str:
    return f"{PREVIEW}: passed QC, but {note}; a reviewer decides"


def unlicensed_reason(note: str) -> str:
    return f"{UNLICENSED}: {note}; no reviewer can publish it"


def no_release_reason(note: str) -> str:
    return f"{NO_RELEASE}: {note}; no reviewer can publish it"


def no_credentials_reason(note: str) -> str:
    return f"{NO_CREDENTIALS}: {note}; once one is, a reviewer can publish it"


# each cause in a person's words (the run's closing lines and report): "N <words>"
CAUSE_WORDS = {
    "failed_qc": "failed QC",
    PREVIEW: "passed QC but were made by a preview model",
    REPLACES_APPROVED: "passed QC but would replace an image a reviewer approved",
    NO_RELEASE: "passed QC but their model photo's release does not allow the storefront (no reviewer can publish them)",
    UNLICENSED: "passed QC but their weights are not licensed for this deployment's use (no reviewer can publish them)",
    NO_CREDENTIALS: "passed QC but this deployment has no certificate to sign their Content Credentials",
}


def flag_cause(reason: str | None) -> str:
    """Why a flagged generation waits for a reviewer: ``failed_qc``, or it passed QC and is a
    ``preview`` (its model is not released), ``replaces_approved`` (its slot holds an approved
    image), ``unlicensed`` (its weights' licences do not allow the deployment's use) or
    ``no_release`` (its model photo's release does not allow it now) or ``no_credentials`` (the
    deployment cannot sign its Content Credentials)."""
    cause = (reason or "").split(":", 1)[0]
    return cause if cause in (PREVIEW, REPLACES_APPROVED, UNLICENSED, NO_RELEASE, NO_CREDENTIALS) else "failed_qc"


def _approved_elsewhere(session: Any, row: Generation) -> str | None:
    """The id of another generation whose approved image now holds this one's storefront slot."""
    current = session.scalar(others_in_slot(row))
    if current is None:
        return None
    approved = session.scalar(
        select(ReviewDecision).where(ReviewDecision.generation_id == current.generation_id, ReviewDecision.decision == "approved")
    )
    return current.generation_id if approved is not None else None


class Gate:
    """Admission to the storefront for one run (or one decision): the standing of each model
    behind an image (released? licensed for the deployment's use?) asked once of the registry,
    now (``tasks.inference.factory.standing_of``), and each model photo's release asked once of
    the ledger, today (``tasks.rights``)."""

    def __init__(self, ctx: RunContext) -> None:
        from tasks.inference.factory import StandingLookup

        self._ctx = ctx
        self._standings = StandingLookup(ctx.settings)
        self._photos = PhotoTermsLookup(ctx.settings)

    def standing(self, row: Generation | LookGeneration) -> Standing:
        return self._standings(row)

    def photo_terms(self, photo_id: str, session: Any = None) -> PhotoTerms:
        if session is not None:
            return self._photos(session, photo_id)
        with self._ctx.ledger.session() as own:
            return self._photos(own, photo_id)

    def refusal(self, row: Generation | LookGeneration, session: Any = None) -> str | None:
        """Why no path may put ``row``'s image on the storefront, whoever asks (a reviewer's
        approval included), or None: its weights' licences do not allow the deployment's use
        (``unlicensed``), its model photo's release does not allow it now (``no_release``), or the
        deployment has no certificate to sign its Content Credentials (``no_credentials``)."""
        licence = self.standing(row).licence
        if not licence.allowed:
            return unlicensed_reason(licence.note)
        photo = self.photo_terms(row.photo_id, session)
        if not photo.allowed:
            return no_release_reason(photo.note)
        unsigned = no_credentials_note(self._ctx)
        return None if unsigned is None else no_credentials_reason(unsigned)

    def licensed(self, row: Generation | LookGeneration, session: Any = None) -> None:
        """Raises :class:`Unlicensed` when :meth:`refusal` names a reason: asked on a reviewer's
        approval, which may publish a preview but never an image its rights forbid."""
        refused = self.refusal(row, session)
        if refused is not None:
            raise Unlicensed(f"{row.generation_id} may not reach the storefront: {refused}")

    def admit_generation(self, session: Any, row: Generation) -> set[str]:
        """A generation that passed QC enters its slot (``published``; the slot's earlier one
        retired) unless its slot holds a reviewer's approval (``replaces_approved``), its rights
        forbid it (``unlicensed``, ``no_release``: :meth:`refusal`) or its model is not released
        now (``preview``): then it waits for a reviewer (``flagged``). Returns the dates whose
        manifests change."""
        approved = _approved_elsewhere(session, row)
        if approved is not None:  # a reviewer's approval is never replaced without a reviewer
            move(
                row,
                GenerationState.FLAGGED,
                f"{REPLACES_APPROVED}: the storefront image of {row.sku}/{row.photo_id} was approved in review ({approved})",
            )
            return set()
        waits = self._waits(row, session)
        if waits is not None:
            move(row, GenerationState.FLAGGED, waits)
            return set()
        return record_publication(session, row)

    def _waits(self, row: Generation | LookGeneration, session: Any = None) -> str | None:
        """Why an image that passed QC does not enter by itself: its rights forbid it
        (:meth:`refusal`), or its model is not released now (``preview``: a reviewer decides,
        whatever QC says); None when it enters."""
        refused = self.refusal(row, session)
        if refused is not None:
            return refused
        release = self.standing(row).release
        return None if release.released else preview_reason(release.note)

    def admit_look(self, row: LookGeneration) -> str | None:
        """A full-outfit image that passed QC enters ``storefront/looks/`` only when its rights
        allow it (:meth:`refusal`) and its model is released now (else it waits for a reviewer,
        ``flagged``); one published already is put back if its object went missing. Returns
        the storefront key, or None."""
        if row.state == GenerationState.PASSED.value:
            waits = self._waits(row)
            if waits is not None:
                move(row, GenerationState.FLAGGED, waits)
                return None
        if row.state not in (GenerationState.PASSED.value, GenerationState.PUBLISHED.value) or row.object_key is None:
            return None
        target = storefront_look_key(row.look_id, row.photo_id)
        if not self._ctx.store.exists(target):
            place_look(self._ctx, row)
        move(row, GenerationState.PUBLISHED, row.reason)
        return target

    def admit_look_file(self, entry: ModelEntry) -> LicenceVerdict:
        """Whether the compatibility model's licence allows the deployment's use of the look
        files it ranks (``tasks.looks.drop_looks`` writes none otherwise)."""
        return verdict(self._ctx.settings.deployment_use, [entry.weight_licence])


def approve_generation(ctx: RunContext, session: Any, row: Generation) -> set[str]:
    """A reviewer's approval (the row moved to ``published`` by the decision): the generation
    takes its slot, in the caller's transaction; :func:`place` copies it after the commit. An
    image whose rights forbid it is refused (:class:`Unlicensed`)."""
    Gate(ctx).licensed(row, session)
    if made_from_old_version(row, current_versions(session, {row.sku})):
        raise StaleVersion(
            f"generation {row.generation_id} was made from a photo of {row.sku} that a re-shoot replaced: "
            "the next run of the date makes the new one"
        )
    return record_publication(session, row)


class StaleVersion(ValueError):
    """An image made from a garment version a re-shoot replaced: it may never enter."""


class Unlicensed(ValueError):
    """An image whose rights forbid it (its weights' licences, its model photo's release): it may
    not enter, whoever asks."""
