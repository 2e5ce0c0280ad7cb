"""Pairwise subject identifiers: one per citizen per organisation, unlinkable across them.

Every service that names a citizen to an organisation — consent, data exchange, tell-us-once
events, one login — names them by the same *pairwise identifier* for that organisation (its
*sector*): one organisation always sees the same id for a citizen, and two organisations cannot
link theirs, because each id is a keyed hash that only the platform can compute.

This is the pairwise algorithm of OpenID Connect Core 1.0 §8.1 ("calculate a unique ``sub``
value for each Sector Identifier ... not reversible by any party other than the OpenID
Provider"), with HMAC-SHA256 (RFC 2104) under a platform secret as the one-way function:

1. The subject is who a PID names: the ``personal_administrative_number`` its issuing country
   gives the person, qualified by ``issuing_country`` (EUDI ARF PID rulebook), see
   :func:`subject_of`.
2. The sector is the registered organisation's name (a relying party, an authority, a data
   provider); reserved sectors start with ``civicstack:`` (the access log's subject tags use
   :data:`ACCESS_LOG_SECTOR`; petitions later use one sector each).
3. ``id = base64url(HMAC-SHA256(key, "civicstack/pairwise/v1" || 0x00 || sector || 0x00 ||
   country || 0x00 || number))``: 43 characters, ASCII, well inside OIDC's 255.

The key is the platform's pairwise key (``CIVIC_PAIRWISE_KEY``, else derived from the master key
by :func:`derive_pairwise_key`); changing it changes every pairwise id, so it is as permanent as
the identifiers an organisation stores.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from civicstack._crypto import b64url_encode
from civicstack.errors import InputError

__all__ = [
    "ACCESS_LOG_SECTOR",
    "PAIRWISE_ID_LENGTH",
    "Subject",
    "check_pairwise_id",
    "derive_pairwise_key",
    "pairwise_id",
    "subject_of",
]

_LABEL = b"civicstack/pairwise/v1"
_KEY_LABEL = b"civicstack/pairwise-key/v1"

#: The sector of the access log's subject handles: the platform's own view of a citizen, from
#: which each access-log entry's unlinkable tag is derived.
ACCESS_LOG_SECTOR = "civicstack:access-log"

#: Every pairwise id is the base64url of 32 bytes: 43 characters.
PAIRWISE_ID_LENGTH = 43

_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_PART = 128


@dataclass(frozen=True)
class Subject:
    """A citizen as a PID names them: the number ``country`` gives them."""

    country: str
    number: str

    def __post_init__(self) -> None:
        for name, value in (("issuing_country", self.country), ("number", self.number)):
            if (
                not value
                or len(value) > _MAX_PART
                or not value.isprintable()
                or "\x00" in value
                or value != value.strip()
            ):
                raise InputError(
                    "pid_without_identifier",
                    f"the PID's {name} must be 1 to {_MAX_PART} printable characters",
                )


def subject_of(claims: Mapping[str, Any]) -> Subject:
    """The subject a verified PID's disclosed ``claims`` name (step 1 of the module docstring).

    Raises ``pid_without_identifier`` unless ``personal_administrative_number`` and
    ``issuing_country`` were disclosed as strings.
    """
    number = claims.get("personal_administrative_number")
    country = claims.get("issuing_country")
    if not isinstance(number, str) or not isinstance(country, str):
        raise InputError(
            "pid_without_identifier",
            "the presentation must disclose the PID's personal_administrative_number and "
            "issuing_country",
        )
    return Subject(country=country, number=number)


def derive_pairwise_key(master_key: bytes) -> bytes:
    """The pairwise key derived from the platform's 32-byte master key (HMAC-SHA256 with a
    fixed label), for deployments that set no ``CIVIC_PAIRWISE_KEY``."""
    return hmac.new(master_key, _KEY_LABEL, "sha256").digest()


def pairwise_id(key: bytes, sector: str, subject: Subject) -> str:
    """The id ``sector`` knows ``subject`` by (step 3 of the module docstring)."""
    if len(key) < 32:
        raise InputError("invalid_key", "the pairwise key must hold at least 32 bytes")
    if not sector or len(sector) > _MAX_PART or "\x00" in sector:
        raise InputError("invalid_request", f"a sector is 1 to {_MAX_PART} characters")
    message = b"\x00".join(
        (_LABEL, sector.encode(), subject.country.encode(), subject.number.encode())
    )
    return b64url_encode(hmac.new(key, message, "sha256").digest())


def check_pairwise_id(value: object, what: str = "subject") -> str:
    """``value`` if it has the shape of a pairwise id, else ``invalid_request`` naming ``what``
    (for ids that arrive from outside: an organisation naming a citizen)."""
    if (
        not isinstance(value, str)
        or len(value) != PAIRWISE_ID_LENGTH
        or not _B64URL.issuperset(value)
    ):
        raise InputError(
            "invalid_request",
            f"{what} must be a pairwise identifier ({PAIRWISE_ID_LENGTH} base64url characters)",
        )
    return value
