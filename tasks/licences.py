"""Whether the licences of the weights behind an image allow the deployment's use of it.

The deployment declares its use (``TRYON_DEPLOYMENT_USE``: ``commercial`` or ``non_commercial``;
production images set no default). A storefront image may exist only when every weight behind it
allows that use: a commercial storefront publishing from CC BY-NC weights breaches their licence,
whether QC passed the image or a reviewer approved it. So the storefront gate asks
:func:`verdict` on every path (publish, review approval, full-outfit images, look files), and
the rights DAG withdraws what no longer holds.

A licence allows commercial use when its text names a licence known to (MIT, Apache, BSD, CC0,
CC BY without NC, the OpenRAIL family, weights trained here); one that says non-commercial
(``NC``, "non-commercial", research or academic only) does not, and neither does one this module
does not know: the registry entry must then record a ``licence_grant`` (who granted a commercial
licence, when, and its reference), which stands for the licence. Every licence allows
non-commercial use. An undeclared use allows nothing: it cannot be checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

COMMERCIAL, NON_COMMERCIAL = "commercial", "non_commercial"
USES = (COMMERCIAL, NON_COMMERCIAL)

_NOT_COMMERCIAL = re.compile(r"\bNC\b|non[- _]?commercial|research[- ]only|academic|evaluation[- ]only", re.IGNORECASE)
_COMMERCIAL = re.compile(
    r"^\s*(MIT|Apache|BSD|ISC|MPL|CC0|CC[- ]BY\b|CreativeML Open RAIL|Open ?RAIL|BigScience Open RAIL|"
    r"no learned weights|trained here)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LicenceGrant:
    """A commercial licence obtained for weights whose own licence does not allow it."""

    holder: str  # who granted it (the rights holder)
    granted: date
    reference: str  # the contract's or e-mail's reference

    def describe(self) -> str:
        return f"a commercial licence granted by {self.holder} on {self.granted.isoformat()} ({self.reference})"


@dataclass(frozen=True)
class WeightLicence:
    """One weight file's licence as the registry names it now."""

    name: str
    licence: str
    grant: LicenceGrant | None = None


@dataclass(frozen=True)
class LicenceVerdict:
    allowed: bool
    note: str  # in words: which licences stood behind it, or which one does not allow the use


def allows_commercial_use(licence: str) -> bool:
    """The licence text names one known to allow commercial use (see the module docstring)."""
    return not _NOT_COMMERCIAL.search(licence) and bool(_COMMERCIAL.match(licence))


def verdict(use: str | None, weights: list[WeightLicence]) -> LicenceVerdict:
    """Whether every weight's licence (or its recorded grant) allows ``use``."""
    if use not in USES:
        return LicenceVerdict(
            False, "the deployment's use is not declared (set TRYON_DEPLOYMENT_USE to commercial or non_commercial)"
        )
    if not weights:
        return LicenceVerdict(True, "no learned weights")
    if use == NON_COMMERCIAL:
        return LicenceVerdict(True, f"non-commercial use under {_listed(weights)}")
    refused = [w for w in weights if w.grant is None and not allows_commercial_use(w.licence)]
    if refused:
        names = "; ".join(f"{w.name} ({w.licence})" for w in refused)
        return LicenceVerdict(
            False,
            f"the licence of {names} does not allow commercial use and the model registry records no licence_grant for it",
        )
    return LicenceVerdict(True, f"commercial use under {_listed(weights)}")


def _listed(weights: list[WeightLicence]) -> str:
    """The licences, each once, with the weights under it: 'CC BY-NC 4.0 (unet, emasc), MIT (clip)'."""
    by_licence: dict[str, list[str]] = {}
    for weight in weights:
        by_licence.setdefault(weight.grant.describe() if weight.grant else weight.licence, []).append(weight.name)
    return ", ".join(f"{licence} ({', '.join(sorted(names))})" for licence, names in sorted(by_licence.items()))
