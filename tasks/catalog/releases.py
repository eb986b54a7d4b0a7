"""Model releases: the talent release each library photo is licensed by, as the catalogue team
gives it with the photos (``library/releases.csv``, read by the library build; docs/rights.md).

One row per photo::

    photo,release_id,channels,territories,valid_from,valid_until,ai_use,revoked
    049205_0.jpg,R-2026-031,ecommerce;social,worldwide,2026-01-01,2027-12-31,yes,no

- ``photo``: the photo's file name under ``library/photos/`` (or its id, the name without extension);
- ``channels`` and ``territories``: ``;``-separated (``all`` and ``worldwide`` cover every one);
- ``valid_until`` empty: no end;
- ``ai_use``: whether the release allows derived, AI-generated images of the person;
- ``revoked`` (optional): the release was withdrawn.

This module is the one place the file is parsed. A malformed row is reported with its line
number and leaves its photo without a release (never a release it does not hold).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from tasks.storage import library_photo_id

COLUMNS = ("photo", "release_id", "channels", "territories", "valid_from", "valid_until", "ai_use")
YES, NO = ("yes", "true", "1", "y"), ("no", "false", "0", "n", "")


@dataclass(frozen=True)
class PhotoRelease:
    """A photo's release as the ledger keeps it (one row per change: its history)."""

    photo_id: str
    release_id: str
    channels: tuple[str, ...]
    territories: tuple[str, ...]
    valid_from: date
    valid_until: date | None
    ai_use: bool
    revoked: bool = False


@dataclass(frozen=True)
class ReleasesFile:
    releases: dict[str, PhotoRelease]  # photo id -> its release
    problems: list[str]  # in words, with the line: rows that name no release


def _flag(value: str, column: str) -> bool:
    word = value.strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    raise ValueError(f"{column} must be yes or no, not {value!r}")


def listed(value: str) -> tuple[str, ...]:
    """A ``;``-separated list of channels or territories as the releases and the settings give
    them: each once, trimmed, lower case, sorted."""
    return tuple(sorted({part.strip().lower() for part in value.split(";") if part.strip()}))


def _list(value: str, column: str) -> tuple[str, ...]:
    items = listed(value)
    if not items:
        raise ValueError(f"{column} is empty")
    return items


def _date(value: str, column: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise ValueError(f"{column} {value!r} is not a date (YYYY-MM-DD)") from error


def parse_releases(text: str) -> ReleasesFile:
    """``library/releases.csv`` read: each photo's release, and what was wrong with the rest."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return ReleasesFile({}, [f"releases.csv lacks the column(s) {', '.join(missing)}: no photo has a release"])
    releases: dict[str, PhotoRelease] = {}
    problems = []
    for line, row in enumerate(reader, start=2):
        try:
            photo = library_photo_id((row["photo"] or "").strip())
            if not photo or not (row["release_id"] or "").strip():
                raise ValueError("photo and release_id are required")
            valid_until = (row["valid_until"] or "").strip()
            release = PhotoRelease(
                photo_id=photo,
                release_id=row["release_id"].strip(),
                channels=_list(row["channels"] or "", "channels"),
                territories=_list(row["territories"] or "", "territories"),
                valid_from=_date(row["valid_from"] or "", "valid_from"),
                valid_until=_date(valid_until, "valid_until") if valid_until else None,
                ai_use=_flag(row["ai_use"] or "", "ai_use"),
                revoked=_flag(row.get("revoked") or "", "revoked"),
            )
        except ValueError as error:
            problems.append(f"releases.csv line {line}: {error}")
            continue
        if photo in releases:
            problems.append(f"releases.csv line {line}: a second release for {photo}; the first is kept")
            continue
        releases[photo] = release
    return ReleasesFile(releases, problems)
