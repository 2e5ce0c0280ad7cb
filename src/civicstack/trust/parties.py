"""The parties this platform holds signing keys for: the root, authorities, relying parties.

A :class:`HostedAuthority` is one of them as the platform knows it: a slug ``name`` (the handle in
URLs and commands), the ``identifier`` that is the ``iss``/``sub`` of everything it signs, a
display name, its :data:`Role` and its :class:`AuthorityKey` s (public parts only; the private
keys stay wrapped in the store). The checks here are the rules a new party must meet before it is
recorded, wherever it is recorded from, and how long what it signs (accreditations,
registrations, credentials) may stay valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from civicstack._crypto import Alg, PublicKey
from civicstack.errors import CivicError, InputError
from civicstack.trust.fields import MAX_NAME_CHARS, check_authority_id, check_identifier
from civicstack.trust.limits import DEFAULT_LIMITS, Limits

Role = Literal["root", "authority", "relying_party"]
ROLES: tuple[Role, ...] = ("root", "authority", "relying_party")
DAY = 86_400
DEFAULT_VALIDITY_DAYS = 365
#: The default of :attr:`civicstack.trust.Limits.validity_days`.
MAX_VALIDITY_DAYS = DEFAULT_LIMITS.validity_days
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class AuthorityKey:
    """One signing key of a hosted authority (public part only)."""

    kid: str
    alg: Alg
    public_jwk: dict[str, str]
    active: bool
    created_at: int

    @property
    def public_key(self) -> PublicKey:
        """The key as a :class:`PublicKey`."""
        return PublicKey.from_jwk(self.public_jwk)


@dataclass(frozen=True, slots=True)
class HostedAuthority:
    """A party whose keys this platform holds: the root, an authority or a relying party."""

    name: str
    identifier: str
    display_name: str
    role: Role
    created_at: int
    keys: tuple[AuthorityKey, ...]

    @property
    def active_key(self) -> AuthorityKey:
        """The key that signs now."""
        for key in self.keys:
            if key.active:
                return key
        raise CivicError("internal_error", f"{self.name} has no active signing key")

    def to_json(self) -> dict[str, Any]:
        """A plain description (public keys only)."""
        return {
            "name": self.name,
            "identifier": self.identifier,
            "display_name": self.display_name,
            "role": self.role,
            "created_at": self.created_at,
            "keys": [
                {**k.public_jwk, "kid": k.kid, "alg": k.alg, "active": k.active} for k in self.keys
            ],
        }


def check_slug(name: object, what: str = "a name") -> str:
    """A slug: 1-63 lower-case letters, digits and hyphens, starting with a letter or digit."""
    if not isinstance(name, str) or not _SLUG.fullmatch(name):
        raise InputError(
            "invalid_request", f"{what} is 1-63 lower-case letters, digits or '-' ({name!r})"
        )
    return name


def check_display_name(text: object) -> str:
    """A display name: 1-256 characters, no control characters."""
    if (
        not isinstance(text, str)
        or not text.strip()
        or len(text) > MAX_NAME_CHARS
        or _CONTROL.search(text)
    ):
        raise InputError("invalid_request", "a display name is 1-256 printable characters")
    return text


def check_new_party(name: str, *, identifier: str, display_name: str, role: Role) -> None:
    """Raise ``invalid_request``/``malformed`` unless a party may be recorded with these: a slug
    name, an identifier fit for its role (any printable identifier for a relying party, an http(s)
    URL for the root and authorities), a known role and a printable display name."""
    check_slug(name, "an authority name")
    if role == "relying_party":
        check_identifier(identifier, "a relying party's identifier")
    else:
        check_authority_id(identifier, "an authority's identifier")
    if role not in ROLES:
        raise InputError("invalid_request", f"role must be one of {ROLES}")
    check_display_name(display_name)


def validity_seconds(days: int, *, limits: Limits = DEFAULT_LIMITS) -> int:
    """``days`` (1 to ``limits.validity_days``) in seconds; ``invalid_request`` otherwise."""
    longest = limits.validity_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= longest:
        raise InputError("invalid_request", f"validity is 1 to {longest} days")
    return days * DAY


def no_root_authority() -> CivicError:
    """The error for anything that needs the trust anchor before one exists."""
    return CivicError("no_root_authority", "no root authority yet: run `civic authority init`")
