"""A whole DCQL query (OpenID4VP 1.0 §6): read and written, and the two questions the protocol
asks of it, the Verifier's (:meth:`DcqlQuery.check_presented`, §8.6 step 3) and the Wallet's
(:meth:`DcqlQuery.choose`, §6.4); :func:`query_for` writes the presets' queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from civicstack.errors import InputError, VerificationError
from civicstack.openid4vp.dcql.credential_query import DcqlClaim, DcqlCredential, DcqlCredentialSet
from civicstack.openid4vp.dcql.paths import PathComponent, dotted
from civicstack.openid4vp.dcql.reading import read_query


@dataclass(frozen=True, slots=True)
class Choice:
    """What the wallet will present for one Credential Query: a type and dotted claim paths."""

    query: str
    vct: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DcqlQuery:
    """A DCQL query (§6)."""

    credentials: tuple[DcqlCredential, ...]
    credential_sets: tuple[DcqlCredentialSet, ...] | None = None

    @classmethod
    def parse(cls, value: object) -> DcqlQuery:
        """Read a DCQL query from its JSON form; ``invalid_request`` or ``unsupported`` if it is
        not one this verifier can evaluate."""
        return cls(*read_query(value))

    def to_json(self) -> dict[str, Any]:
        """The wire form (unknown members of the input dropped)."""
        out: dict[str, Any] = {"credentials": [c.to_json() for c in self.credentials]}
        if self.credential_sets is not None:
            out["credential_sets"] = [s.to_json() for s in self.credential_sets]
        return out

    def by_id(self) -> dict[str, DcqlCredential]:
        """The Credential Queries by id."""
        return {c.id: c for c in self.credentials}

    def claims_by_vct(self) -> dict[str, list[str]]:
        """Every claim path the query may ask for, per credential type: what a relying party's
        registration must allow (any option of any set may be the one answered)."""
        out: dict[str, list[str]] = {}
        for credential in self.credentials:
            paths = credential.requested_paths()
            for vct in credential.vct_values:
                known = out.setdefault(vct, [])
                known.extend(p for p in paths if p not in known)
        return out

    def required_ids(self) -> list[list[tuple[str, ...]]]:
        """The Credential Set Queries that must be satisfied, as option lists (§6.4.2); every
        Credential Query on its own when there are none."""
        if self.credential_sets is None:
            return [[(c.id,)] for c in self.credentials]
        return [list(s.options) for s in self.credential_sets if s.required]

    def check_presented(self, presented: Mapping[str, Sequence[object]]) -> None:
        """§8.6 step 3: the set of presentations (query id -> presentations) satisfies the
        query. Each presentation must have been checked against its Credential Query already.
        """
        known = self.by_id()
        for query_id, items in presented.items():
            query = known.get(query_id)
            if query is None:
                raise VerificationError(
                    "query_not_satisfied", f"{query_id!r} names no credential query"
                )
            # §8.1: without `multiple`, exactly one presentation per query.
            if not items or (len(items) > 1 and not query.multiple):
                raise VerificationError(
                    "query_not_satisfied", f"{query_id}: expected one presentation"
                )
        answered = set(presented)
        for options in self.required_ids():
            if not any(answered.issuperset(option) for option in options):
                wanted = " or ".join("+".join(o) for o in options)
                raise VerificationError("query_not_satisfied", f"no presentation for {wanted}")

    def choose(self, holds: Callable[[str, tuple[DcqlClaim, ...]], bool]) -> list[Choice]:
        """The wallet's selection (§6.4): for every Credential Query the request needs, the first
        type and claim option that ``holds(vct, claims)`` says the holder can answer.

        Optional credential sets are left out (data minimisation). Raises
        ``no_matching_credential`` when a required query cannot be answered.
        """
        answerable: dict[str, Choice] = {}
        for credential in self.credentials:
            choice = _answer(credential, holds)
            if choice is not None:
                answerable[credential.id] = choice
        chosen: dict[str, Choice] = {}
        for options in self.required_ids():
            option = next((o for o in options if all(i in answerable for i in o)), None)
            if option is None:
                wanted = " or ".join("+".join(o) for o in options)
                raise InputError(
                    "no_matching_credential", f"no credential in the wallet answers {wanted}"
                )
            chosen.update((i, answerable[i]) for i in option)
        return list(chosen.values())


def _answer(
    credential: DcqlCredential, holds: Callable[[str, tuple[DcqlClaim, ...]], bool]
) -> Choice | None:
    for option in credential.claim_options():
        for vct in credential.vct_values:
            if holds(vct, option):
                paths = tuple(dict.fromkeys(dotted(c.path) for c in option))
                return Choice(credential.id, vct, paths)
    return None


def query_for(queries: Iterable[tuple[str, str, Sequence[str]]]) -> DcqlQuery:
    """A DCQL query asking, for each ``(id, vct, dotted paths)``, for those claims of one
    credential of that type (how presets are written)."""
    credentials: list[DcqlCredential] = []
    for query_id, vct, paths in queries:
        claims = tuple(DcqlClaim(tuple(_from_dotted(p))) for p in paths)
        credentials.append(DcqlCredential(query_id, (vct,), claims or None))
    return DcqlQuery.parse(DcqlQuery(tuple(credentials)).to_json())


def _from_dotted(path: str) -> list[PathComponent]:
    return [int(p) if p.isdigit() else p for p in path.split(".")]
