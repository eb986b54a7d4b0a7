"""Reviewer passwords: PBKDF2-SHA256 hashes in settings (``TRYON_REVIEWERS``), never the
passwords themselves. ``tryon review hash-password`` makes a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 200_000


def hash_password(password: str, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), iterations).hex()
    return f"{ALGORITHM}${iterations}${salt}${digest}"


def verify_password(stored: str, password: str) -> bool:
    try:
        algorithm, iterations, salt, _ = stored.split("$")
    except ValueError:
        return False
    if algorithm != ALGORITHM:
        return False
    return hmac.compare_digest(hash_password(password, salt, int(iterations)), stored)


# checked for names that are not reviewers: the same one hash a known name costs (hashing a
# stand-in per call cost a second one, and unknown names answered twice as slowly)
_STAND_IN = hash_password(secrets.token_urlsafe(16))


def authenticate(reviewers: dict[str, str], name: str, password: str) -> bool:
    """Constant work whether or not the name exists (no probing for reviewer names)."""
    stored = reviewers.get(name)
    matches = verify_password(stored if stored is not None else _STAND_IN, password)
    return matches and stored is not None
