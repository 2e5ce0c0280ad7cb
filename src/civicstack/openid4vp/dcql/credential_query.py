"""The parts of a DCQL query (OpenID4VP 1.0 §6): Credential Queries (§6.1) for SD-JWT VCs
(Appendix B.3) with their Claims Queries (§6.3), and Credential Set Queries (§6.2).

A Credential Query also checks a verified credential against itself (§8.6 step 2.b).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from civicstack.errors import VerificationError
from civicstack.openid4vp.dcql.paths import PathComponent, dotted, select

FORMAT_SD_JWT_VC = "dc+sd-jwt"

ClaimValue = str | int | bool


@dataclass(frozen=True, slots=True)
class DcqlClaim:
    """A Claims Query (§6.3)."""

    path: tuple[PathComponent, ...]
    id: str | None = None
    values: tuple[ClaimValue, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out["path"] = list(self.path)
        if self.values is not None:
            out["values"] = list(self.values)
        return out

    def matches(self, credential: Mapping[str, Any]) -> bool:
        """Whether the credential holds this claim (with an expected value, if any)."""
        found = select(credential, self.path)
        if not found:
            return False
        if self.values is None:
            return True
        # §6.3: the type and the value must both match exactly (True is not 1).
        return any(
            type(v) is type(expected) and v == expected for v in found for expected in self.values
        )


@dataclass(frozen=True, slots=True)
class DcqlCredential:
    """A Credential Query (§6.1) for an SD-JWT VC (Appendix B.3)."""

    id: str
    vct_values: tuple[str, ...]
    claims: tuple[DcqlClaim, ...] | None = None
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    multiple: bool = False
    trusted_authorities: tuple[dict[str, Any], ...] | None = None

    def claim_options(self) -> list[tuple[DcqlClaim, ...]]:
        """The combinations of claims that satisfy this query, most preferred first (§6.4.1)."""
        if self.claims is None:
            return [()]
        if self.claim_sets is None:
            return [self.claims]
        by_id = {c.id: c for c in self.claims}
        return [tuple(by_id[i] for i in option) for option in self.claim_sets]

    def requested_paths(self) -> tuple[str, ...]:
        """Every claim this query may ask for, as dotted paths (for the registration check)."""
        return tuple(dict.fromkeys(dotted(c.path) for c in self.claims or ()))

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        out: dict[str, Any] = {
            "id": self.id,
            "format": FORMAT_SD_JWT_VC,
            "meta": {"vct_values": list(self.vct_values)},
        }
        if self.multiple:
            out["multiple"] = True
        if self.trusted_authorities is not None:
            out["trusted_authorities"] = [dict(t) for t in self.trusted_authorities]
        if self.claims is not None:
            out["claims"] = [c.to_json() for c in self.claims]
        if self.claim_sets is not None:
            out["claim_sets"] = [list(s) for s in self.claim_sets]
        return out

    def check(self, vct: str | None, credential: Mapping[str, Any]) -> None:
        """§8.6 step 2.b: raise ``query_not_satisfied`` unless the verified credential (its
        processed payload) has an accepted type and every claim of one claim option."""
        if vct not in self.vct_values:
            raise VerificationError(
                "query_not_satisfied",
                f"{self.id}: a {vct!r} credential was presented; the query asks for "
                + ", ".join(self.vct_values),
            )
        missing: list[str] = []
        for option in self.claim_options():
            missing = [_show(c.path) for c in option if not c.matches(credential)]
            if not missing:
                return
        raise VerificationError(
            "query_not_satisfied", f"{self.id}: missing or unexpected claims {missing}"
        )


def _show(path: Sequence[PathComponent]) -> str:
    return ".".join("*" if p is None else str(p) for p in path)


@dataclass(frozen=True, slots=True)
class DcqlCredentialSet:
    """A Credential Set Query (§6.2)."""

    options: tuple[tuple[str, ...], ...]
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {"options": [list(o) for o in self.options], "required": self.required}
