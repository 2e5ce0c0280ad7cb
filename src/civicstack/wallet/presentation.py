"""What a relying party asks for, what the holder is shown, and what the wallet remembers.

A :class:`PresentationRequest` names the relying party (its OpenID4VP ``client_id``), the purpose
it registered, and one query per credential wanted (a DCQL credential query reduced to its
``vct`` and claim paths). Before anything leaves the device the holder sees a
:class:`ConsentSummary`: who asks (name and identifier), under which registration (registrar and
statement id) and purpose, and every claim, with its value, that the presentation would reveal,
including the credential metadata sent with every presentation. A :class:`ConsentPrompt`
decides. Each outcome becomes a :class:`PresentationRecord` in the wallet's history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from civicstack.errors import InputError
from civicstack.trust.fields import check_claim_path, check_identifier

MAX_QUERIES = 16
MAX_CLAIMS_PER_QUERY = 64
_QUERY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,1024}")

Outcome = Literal["presented", "declined", "refused"]


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
        if not 1 <= len(raw) <= MAX_QUERIES:
            raise InputError("malformed", f"a request asks for 1 to {MAX_QUERIES} credentials")
        queries: list[CredentialQuery] = []
        for q in raw:
            if not isinstance(q, CredentialQuery):
                raise InputError("malformed", "credential queries must be CredentialQuery values")
            if q.id != q.vct and not _QUERY_ID.fullmatch(q.id):
                raise InputError("malformed", f"bad credential query id {q.id!r}")
            check_identifier(q.vct, "vct")
            asked: object = q.claims
            if not isinstance(asked, tuple | list) or not 1 <= len(asked) <= MAX_CLAIMS_PER_QUERY:
                raise InputError("malformed", f"query {q.id!r} needs 1 to 64 claim paths")
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
class DisclosedClaim:
    """A claim that leaves the device: its dotted path and its value."""

    path: str
    value: Any


@dataclass(frozen=True, slots=True)
class ConsentItem:
    """One credential of a presentation, and exactly what it reveals."""

    query: str
    credential: str  # the wallet's id of the stored credential
    vct: str
    issuer: str
    claims: tuple[DisclosedClaim, ...]  # what the holder chose to disclose, as revealed
    metadata: tuple[DisclosedClaim, ...]  # sent with every presentation (iss, vct, exp, status...)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "query": self.query,
            "credential": self.credential,
            "vct": self.vct,
            "issuer": self.issuer,
            "claims": [[c.path, c.value] for c in self.claims],
            "metadata": [[c.path, c.value] for c in self.metadata],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ConsentItem:
        """Read the stored form."""
        return cls(
            query=str(value["query"]),
            credential=str(value["credential"]),
            vct=str(value["vct"]),
            issuer=str(value["issuer"]),
            claims=tuple(DisclosedClaim(str(p), v) for p, v in value["claims"]),
            metadata=tuple(DisclosedClaim(str(p), v) for p, v in value["metadata"]),
        )


@dataclass(frozen=True, slots=True)
class ConsentSummary:
    """Everything the holder must see before deciding: who, under what, why, and what leaves."""

    relying_party: str
    relying_party_name: str
    registrar: str
    registration: str  # the jti of the registration that allows the request
    purpose: str
    purpose_description: str
    aud: str
    nonce: str
    items: tuple[ConsentItem, ...]


class ConsentPrompt(Protocol):
    """Asks the holder. Return True to share exactly what the summary shows, False to decline."""

    def __call__(self, summary: ConsentSummary) -> bool:
        """The holder's decision."""
        ...


@dataclass(frozen=True, slots=True)
class PresentationRecord:
    """One entry of the wallet's history."""

    seq: int
    at: int
    outcome: Outcome
    relying_party: str
    purpose: str
    aud: str
    nonce: str
    relying_party_name: str = ""
    registrar: str = ""
    registration: str = ""
    purpose_description: str = ""
    items: tuple[ConsentItem, ...] = ()
    error: str = ""  # the code, when the wallet refused

    def to_json(self) -> dict[str, Any]:
        """The stored form (without ``seq``, which is the record's place in the log)."""
        return {
            "at": self.at,
            "outcome": self.outcome,
            "relying_party": self.relying_party,
            "relying_party_name": self.relying_party_name,
            "registrar": self.registrar,
            "registration": self.registration,
            "purpose": self.purpose,
            "purpose_description": self.purpose_description,
            "aud": self.aud,
            "nonce": self.nonce,
            "items": [i.to_json() for i in self.items],
            "error": self.error,
        }

    @classmethod
    def from_json(cls, seq: int, value: Mapping[str, Any]) -> PresentationRecord:
        """Read the stored form (KeyError or TypeError if it is not one)."""
        outcome = value["outcome"]
        if outcome not in ("presented", "declined", "refused"):
            raise TypeError("unknown outcome")
        return cls(
            seq=seq,
            at=int(value["at"]),
            outcome=outcome,
            relying_party=str(value["relying_party"]),
            purpose=str(value["purpose"]),
            aud=str(value["aud"]),
            nonce=str(value["nonce"]),
            relying_party_name=str(value["relying_party_name"]),
            registrar=str(value["registrar"]),
            registration=str(value["registration"]),
            purpose_description=str(value["purpose_description"]),
            items=tuple(ConsentItem.from_json(i) for i in value["items"]),
            error=str(value["error"]),
        )


@dataclass(frozen=True, slots=True)
class Presentation:
    """What the wallet sends: one SD-JWT+KB per credential query, and what was recorded."""

    tokens: Mapping[str, str]  # query id -> SD-JWT+KB
    summary: ConsentSummary
    record: PresentationRecord = field(repr=False)
