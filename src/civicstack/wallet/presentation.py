"""What a relying party asks for, and what the wallet sends.

A :class:`PresentationRequest` names the relying party (its OpenID4VP ``client_id``), the purpose
it registered, and one query per credential wanted (a DCQL credential query reduced to its
``vct`` and claim paths). The holder decides on a :class:`~civicstack.wallet.consent.ConsentSummary`
first; a :class:`Presentation` carries what is sent, the summary shown, and the
:class:`~civicstack.wallet.history.PresentationRecord` kept in the history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from civicstack.errors import InputError
from civicstack.trust.fields import check_claim_path, check_identifier
from civicstack.wallet.consent import ConsentSummary
from civicstack.wallet.history import PresentationRecord
from civicstack.wallet.limits import DEFAULT_LIMITS, Limits

_QUERY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,1024}")


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """One credential wanted: its type and the claim paths to disclose."""

    id: str
    vct: str
    claims: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresentationRequest:
    """A relying party's request, as the wallet checks and answers it."""

    relying_party: str
    purpose: str
    queries: tuple[CredentialQuery, ...]
    nonce: str
    aud: str

    @classmethod
    def create(
        cls,
        relying_party: str,
        purpose: str,
        claims: Mapping[str, Iterable[str]] | Iterable[CredentialQuery],
        *,
        nonce: str,
        aud: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> PresentationRequest:
        """Validate a request. ``claims`` is ``{vct: [path, ...]}`` (one query per vct, named by
        its vct) or a list of :class:`CredentialQuery`. ``aud`` defaults to the relying party."""
        check_identifier(relying_party, "relying party id")
        if not isinstance(purpose, str) or not purpose or len(purpose) > 256:
            raise InputError("malformed", "a request names its purpose")
        if not isinstance(nonce, str) or not _PRINTABLE.fullmatch(nonce):
            raise InputError("malformed", "a request carries a printable nonce")
        audience = relying_party if aud is None else check_identifier(aud, "aud")
        if isinstance(claims, Mapping):
            if any(isinstance(paths, str) for paths in claims.values()):
                raise InputError("malformed", "claim paths come as a list, not a string")
            raw = [CredentialQuery(vct, vct, tuple(paths)) for vct, paths in claims.items()]
        else:
            raw = list(claims)
        if not 1 <= len(raw) <= limits.queries:
            raise InputError("malformed", f"a request asks for 1 to {limits.queries} credentials")
        queries: list[CredentialQuery] = []
        for q in raw:
            if not isinstance(q, CredentialQuery):
                raise InputError("malformed", "credential queries must be CredentialQuery values")
            if q.id != q.vct and not _QUERY_ID.fullmatch(q.id):
                raise InputError("malformed", f"bad credential query id {q.id!r}")
            check_identifier(q.vct, "vct")
            asked: object = q.claims
            if (
                not isinstance(asked, tuple | list)
                or not 1 <= len(asked) <= limits.claims_per_query
            ):
                raise InputError(
                    "malformed", f"query {q.id!r} needs 1 to {limits.claims_per_query} claim paths"
                )
            paths = tuple(dict.fromkeys(check_claim_path(p) for p in q.claims))
            queries.append(CredentialQuery(q.id, q.vct, paths))
        if len({q.id for q in queries}) != len(queries):
            raise InputError("malformed", "credential query ids must be unique")
        return cls(relying_party, purpose, tuple(queries), nonce, audience)

    def claims_by_vct(self) -> dict[str, list[str]]:
        """Every requested path, grouped by credential type (for the registration check)."""
        out: dict[str, list[str]] = {}
        for q in self.queries:
            paths = out.setdefault(q.vct, [])
            for path in q.claims:
                if path not in paths:
                    paths.append(path)
        return out


@dataclass(frozen=True, slots=True)
class LowCopies:
    """A credential presented whose unused copies fell to the holder's threshold: another
    relying party soon cannot be shown a copy no one else has seen."""

    credential: str
    vct: str
    issuer: str
    unused: int

    @property
    def message(self) -> str:
        """What the holder is told."""
        copies = "copy" if self.unused == 1 else "copies"
        return f"{self.unused} {copies} left; ask the issuer for a new offer"


@dataclass(frozen=True, slots=True)
class Presentation:
    """What the wallet sends: one SD-JWT+KB per credential query, and what was recorded."""

    tokens: Mapping[str, str]  # query id -> SD-JWT+KB
    summary: ConsentSummary
    record: PresentationRecord = field(repr=False)
    low_copies: tuple[LowCopies, ...] = ()  # warnings: credentials running out of copies
