"""Who may report a company's change: an officer the ``company`` register names.

Companies House lists each officer by name with their month and year of birth (the Companies
Act 2006 s.162 register of directors, as published; the full date is withheld). The synthetic
``company`` register's ``officers`` field (cardinality n) holds one such entry per officer,
written ``"FAMILY, Given (YYYY-MM)"`` as Companies House prints them (:func:`officer_entry`).

A report is signed for the company by a wallet whose PID presentation discloses
``given_name``, ``family_name`` and ``birthdate``; :func:`check_officer` finds that person
among the company's officers (``not_an_officer`` otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from civicstack.errors import CivicError

__all__ = ["OFFICER_CLAIMS", "check_officer", "officer_entry"]

#: What an officer's PID presentation discloses beside its subject.
OFFICER_CLAIMS = ("given_name", "family_name", "birthdate")


def officer_entry(given_name: str, family_name: str, birthdate: str) -> str:
    """An officer as the register names them: ``"OKAFOR, Amara (1990-05)"``."""
    return f"{family_name.upper()}, {given_name} ({birthdate[:7]})"


def check_officer(officers: Iterable[str], claims: Mapping[str, Any]) -> str:
    """The register's entry for the person ``claims`` (a verified PID's disclosures) name;
    ``not_an_officer`` unless the company's officers include them."""
    given, family, born = (claims.get(name) for name in OFFICER_CLAIMS)
    if not all(isinstance(v, str) and v for v in (given, family, born)):
        raise CivicError(
            "not_an_officer",
            "the PID presentation must disclose given_name, family_name and birthdate",
        )
    wanted = officer_entry(str(given), str(family), str(born)).casefold()
    for entry in officers:
        if entry.casefold() == wanted:
            return entry
    raise CivicError("not_an_officer", "the company register names no such officer")
