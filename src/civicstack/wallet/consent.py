"""The holder's consent: what a presentation would reveal, shown before anything is sent.

Before anything leaves the device the holder sees a :class:`ConsentSummary`: who asks (name and
identifier), under which registration (registrar and statement id) and purpose, and every claim,
with its value, that the presentation would reveal (:class:`ConsentItem`), including the
credential metadata sent with every presentation (:data:`METADATA_CLAIMS`). A
:class:`ConsentPrompt` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: Claims sent with every presentation of an SD-JWT VC, shown to the holder as metadata.
METADATA_CLAIMS = ("iss", "vct", "iat", "nbf", "exp", "status", "cnf")


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
    copy: int | None = None  # which copy of the credential (None: its only, holder-key copy)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "query": self.query,
            "credential": self.credential,
            "vct": self.vct,
            "issuer": self.issuer,
            "claims": [[c.path, c.value] for c in self.claims],
            "metadata": [[c.path, c.value] for c in self.metadata],
            **({} if self.copy is None else {"copy": self.copy}),
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
            copy=int(value["copy"]) if value.get("copy") is not None else None,
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


def revealed_claims(claims: Mapping[str, Any], prefix: str = "") -> list[DisclosedClaim]:
    """Leaves of the revealed claims; objects are walked, arrays shown whole."""
    out: list[DisclosedClaim] = []
    for name, value in claims.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            out.extend(revealed_claims(value, path + "."))
        else:
            out.append(DisclosedClaim(path, value))
    return out
