"""The credential types civicstack's authorities issue: the PID and the right to work.

* The PID (Person Identification Data) follows the EU Architecture and Reference Framework's
  PID rulebook for SD-JWT VC (``vct`` ``urn:eudi:pid:1``; claim names from OpenID Connect and
  the rulebook: ``given_name``, ``family_name``, ``birthdate``, ``place_of_birth``,
  ``nationalities``, ``address``, ``document_number``, ``issuing_authority``,
  ``issuing_country``...). Age predicates are computed by the issuer at issuance and each is
  its own selectively disclosable claim, so a shop learns "over 18" and nothing else. The
  rulebook groups them as ``age_equal_or_over: {"18": true}``; we use flat ``age_over_NN``
  names, as the civicstack issue specifies, so that each is disclosed on its own.
* The right-to-work attestation is civicstack's own type (``urn:civicstack:right-to-work:1``),
  issued by the home office and checked by employers.

A :class:`CredentialType` names the claims a type may carry; the trust registry accredits
authorities for types and claim names taken from here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from civicstack.errors import InputError

PID_VCT = "urn:eudi:pid:1"
RIGHT_TO_WORK_VCT = "urn:civicstack:right-to-work:1"
AGE_THRESHOLDS = (13, 16, 18, 21, 65)
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # RFC 3339 full-date


@dataclass(frozen=True, slots=True)
class CredentialType:
    """A credential type: its ``vct``, a display name, and the claims it may carry."""

    vct: str
    name: str
    required: frozenset[str]
    optional: frozenset[str]

    @property
    def claim_names(self) -> frozenset[str]:
        """Every claim name the type allows."""
        return self.required | self.optional

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise ``invalid_credential`` when ``claims`` lack a required or carry a foreign name."""
        missing = self.required.difference(claims)
        if missing:
            raise InputError("invalid_credential", f"{self.name} needs {sorted(missing)}")
        foreign = set(claims).difference(self.claim_names)
        if foreign:
            raise InputError("invalid_credential", f"{self.name} has no {sorted(foreign)}")


PID = CredentialType(
    vct=PID_VCT,
    name="Person identification data",
    required=frozenset(
        {"given_name", "family_name", "birthdate", "issuing_authority", "issuing_country"}
    ),
    optional=frozenset(
        {
            "birth_family_name",
            "birth_given_name",
            "place_of_birth",
            "nationalities",
            "address",
            "sex",
            "document_number",
            "personal_administrative_number",
            "expiry_date",
            "issuance_date",
            *(f"age_over_{age}" for age in AGE_THRESHOLDS),
        }
    ),
)

RIGHT_TO_WORK = CredentialType(
    vct=RIGHT_TO_WORK_VCT,
    name="Right to work",
    required=frozenset({"given_name", "family_name", "right_to_work", "share_code"}),
    optional=frozenset({"birthdate", "work_restrictions", "valid_until", "immigration_status"}),
)

CREDENTIAL_TYPES = {ct.vct: ct for ct in (PID, RIGHT_TO_WORK)}

# What the usual checks ask for: the verifier's presets and the relying parties registered for
# them (in the demo world) read these, so a preset never asks for more than its purpose allows.

#: A right-to-work check (an employer): names, the right to work and until when.
RIGHT_TO_WORK_CHECK_CLAIMS = ("given_name", "family_name", "right_to_work", "valid_until")
#: An age check (a shop): one age predicate, nothing else.
AGE_CHECK_CLAIMS = ("age_over_18",)
#: An identity check (a landlord; a bank asks for more): names, birth date and address.
IDENTITY_CHECK_CLAIMS = ("given_name", "family_name", "birthdate", "address")


def _date(text: str, name: str) -> dt.date:
    if not isinstance(text, str) or not _FULL_DATE.fullmatch(text):
        raise InputError("invalid_request", f"{name} must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InputError("invalid_request", f"{name} is not a calendar date") from exc


def age_on(birthdate: str, now: int) -> int:
    """Completed years at ``now`` (UTC). A 29 February birthday falls on 1 March otherwise."""
    born = _date(birthdate, "birthdate")
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < 0:
        raise InputError("invalid_request", "birthdate is in the future")
    return age


def age_predicates(
    birthdate: str, now: int, thresholds: Iterable[int] = AGE_THRESHOLDS
) -> dict[str, bool]:
    """``{"age_over_18": True, ...}`` at issuance time ``now``: one boolean per threshold."""
    age = age_on(birthdate, now)
    return {f"age_over_{threshold}": age >= threshold for threshold in thresholds}


def pid_claims(
    *,
    given_name: str,
    family_name: str,
    birthdate: str,
    issuing_authority: str,
    issuing_country: str,
    now: int,
    place_of_birth: Mapping[str, str] | None = None,
    nationalities: Iterable[str] = (),
    address: Mapping[str, str] | None = None,
    document_number: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The claims of a PID, age predicates included (computed at ``now``)."""
    claims: dict[str, Any] = {
        "given_name": given_name,
        "family_name": family_name,
        "birthdate": _date(birthdate, "birthdate").isoformat(),
    }
    if place_of_birth:
        claims["place_of_birth"] = dict(place_of_birth)
    if nationalities:
        claims["nationalities"] = list(nationalities)
    if address:
        claims["address"] = dict(address)
    if document_number is not None:
        claims["document_number"] = document_number
    claims["issuing_authority"] = issuing_authority
    claims["issuing_country"] = issuing_country
    claims.update(extra)
    claims.update(age_predicates(birthdate, now))
    PID.check(claims)
    return claims


def pid_disclosable(claims: Mapping[str, Any]) -> list[str]:
    """The PID's disclosure structure: every claim, and each address member and nationality
    on its own too, so a holder can show a postcode without the street."""
    paths = list(claims)
    address = claims.get("address")
    if isinstance(address, Mapping):
        paths += [f"address.{member}" for member in address]
    nationalities = claims.get("nationalities")
    if isinstance(nationalities, list):
        paths += [f"nationalities.{i}" for i in range(len(nationalities))]
    return paths


def right_to_work_claims(
    *,
    given_name: str,
    family_name: str,
    right_to_work: bool,
    share_code: str,
    valid_until: str | None = None,
    work_restrictions: Iterable[str] = (),
    birthdate: str | None = None,
    immigration_status: str | None = None,
) -> dict[str, Any]:
    """The claims of a right-to-work attestation."""
    claims: dict[str, Any] = {
        "given_name": given_name,
        "family_name": family_name,
        "right_to_work": right_to_work,
        "share_code": share_code,
    }
    if birthdate is not None:
        claims["birthdate"] = _date(birthdate, "birthdate").isoformat()
    if valid_until is not None:
        claims["valid_until"] = _date(valid_until, "valid_until").isoformat()
    if work_restrictions:
        claims["work_restrictions"] = list(work_restrictions)
    if immigration_status is not None:
        claims["immigration_status"] = immigration_status
    return claims
