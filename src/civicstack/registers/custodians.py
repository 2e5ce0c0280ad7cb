"""Custodians: who may write a register, until when, and what only the admin may change.

GOV.UK Registers had one custodian per register, named by its ``custodian`` system entry, who
kept its records; the registry (here the platform's admin) defined the register. A custodian
writes with a bearer token the admin issues for one register. The token is shown once and kept
only as its SHA-256; it is known by a public id (``ct_`` and 16 hex digits) that the admin lists,
revokes and audits, and it may carry an expiry. A token is checked against the stored record at
every write (:meth:`CustodianToken.check_usable`), so a revocation holds at once in every process.

:func:`check_custodian_change` is the rule for what a custodian's write may hold: records (user
entries) only. System entries (``name``, ``custodian``, ``register-name``, ``field:<f>``,
``register:<r>`` and any other) define the register and need the admin token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from civicstack.errors import CivicError, InputError
from civicstack.registers.batch import Changeset
from civicstack.registers.entries import Scope

#: A custodian token's public id: never the secret, nothing derived from it.
TOKEN_ID_RE = re.compile(r"ct_[0-9a-f]{16}")
#: A label says what a token is for; it is shown in listings and the audit trail.
MAX_LABEL_LENGTH = 128
#: A token's lifetime when the admin gives none (90 days); an operator may change it.
DEFAULT_TOKEN_LIFETIME = 90 * 24 * 3600
#: The longest lifetime a token may be issued with (10 years).
MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600
#: Who did something, as the audit trail records it.
MAX_ACTOR_LENGTH = 128


class TokenState(StrEnum):
    """Where a custodian token stands at a given time."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class CustodianEventKind(StrEnum):
    """What the custodian tokens' audit trail records."""

    ISSUED = "issued"
    REVOKED = "revoked"
    #: A write with a revoked token was refused (someone still holds it).
    REFUSED_REVOKED = "refused-revoked"
    #: A write with an expired token was refused.
    REFUSED_EXPIRED = "refused-expired"


@dataclass(frozen=True, slots=True)
class CustodianToken:
    """A custodian token as kept (never its secret or the secret's hash)."""

    id: str
    register: str
    label: str
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None
    revoked_by: str | None = None

    def state(self, now: int) -> TokenState:
        """Revoked, expired (at ``expires_at`` and after) or active at time ``now``."""
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at is not None and now >= self.expires_at:
            return TokenState.EXPIRED
        return TokenState.ACTIVE

    def check_usable(self, now: int) -> None:
        """Return if the token may write at ``now``; raise ``token_revoked`` or
        ``token_expired``."""
        state = self.state(now)
        if state is TokenState.REVOKED:
            raise CivicError("token_revoked", f"custodian token {self.id} has been revoked")
        if state is TokenState.EXPIRED:
            raise CivicError("token_expired", f"custodian token {self.id} has expired")

    def to_json(self, now: int) -> dict[str, Any]:
        """The token as the admin sees it listed, with its state at ``now``."""
        return {
            "id": self.id,
            "register": self.register,
            "label": self.label,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "state": self.state(now).value,
        }


@dataclass(frozen=True, slots=True)
class CustodianEvent:
    """One line of the custodian tokens' audit trail."""

    seq: int
    at: int
    event: CustodianEventKind
    token_id: str
    register: str
    actor: str

    def to_json(self) -> dict[str, Any]:
        """The event as the admin reads it."""
        return {
            "seq": self.seq,
            "at": self.at,
            "event": self.event.value,
            "token": self.token_id,
            "register": self.register,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class Writer:
    """Who a write comes from: the platform's admin, or a register's custodian."""

    actor: str
    custodian: CustodianToken | None = None

    @property
    def is_admin(self) -> bool:
        """Whether this is the admin (who may change a register's definition)."""
        return self.custodian is None


#: The admin, as the writer of a local (CLI) or admin-token write.
ADMIN = Writer("admin")


def check_label(label: str) -> str:
    """Return ``label`` if it can label a token (1 to 128 printable characters), else raise
    ``invalid_request``."""
    if not 0 < len(label) <= MAX_LABEL_LENGTH:
        raise InputError(
            "invalid_request", f"a token's label is 1 to {MAX_LABEL_LENGTH} characters"
        )
    if not label.isprintable():
        raise InputError("invalid_request", "a token's label holds no control characters")
    return label


def check_token_id(token_id: str) -> str:
    """Return ``token_id`` if it could name a token, else raise ``not_found``."""
    if len(token_id) > 32 or TOKEN_ID_RE.fullmatch(token_id) is None:
        raise CivicError("not_found", "no custodian token with that id")
    return token_id


def expiry(now: int, expires_in: int | None, default_lifetime: int | None) -> int | None:
    """When a token issued at ``now`` expires: after ``expires_in`` seconds when given (1 s to
    10 years), else after the default lifetime (``None``: never). Raises ``invalid_request``."""
    if expires_in is None:
        return now + default_lifetime if default_lifetime else None
    if isinstance(expires_in, bool) or not 0 < expires_in <= MAX_TOKEN_LIFETIME:
        raise InputError("invalid_request", f"expires_in is 1 to {MAX_TOKEN_LIFETIME} seconds")
    return now + expires_in


def check_custodian_change(changes: Changeset) -> None:
    """Return if a custodian may make ``changes``: records only. Raise ``forbidden`` for any
    system entry (the register's definition, fields and custodian are the admin's)."""
    system = [e.key for e in changes.entries if e.scope is Scope.SYSTEM]
    if system:
        shown = ", ".join(repr(k) for k in system[:3]) + (" ..." if len(system) > 3 else "")
        raise CivicError(
            "forbidden",
            f"system entries ({shown}) change the register's definition: they need the admin"
            " token, not a custodian's",
        )
