"""The Digital Credentials Query Language (OpenID4VP 1.0 §6) and claims path pointers (§7).

A DCQL query names the Credentials a Verifier wants (§6.1 Credential Query: ``id``, ``format``,
``meta``, ``claims``, ``claim_sets``, ``multiple``...), optionally which combinations of them
satisfy it (§6.2 Credential Set Query), and within each Credential the claims (§6.3 Claims
Query: ``path``, ``values``). This module reads a query strictly (every value type-checked and
bounded; unknown members are ignored, as §6 requires), and answers the two questions the
protocol asks of it:

* the Verifier's (§8.6 step 2.b and step 3): does a set of verified presentations satisfy the
  query? :meth:`DcqlQuery.check_presented` applies the selection rules of §6.4 and raises
  ``query_not_satisfied`` when they are not met;
* the Wallet's (§6.4): which claims of which credential to disclose. :meth:`DcqlQuery.choose`
  picks, for every Credential Query the request needs, the first credential type and claim set
  option the holder can answer, in the Verifier's order of preference (§6.4.1).

Only the SD-JWT VC format (``dc+sd-jwt``, Appendix B.3) is supported: ``meta.vct_values`` is
required, and a Credential Query asking for another format is ``unsupported``. Claims path
pointers (§7.1) are processed exactly as specified; to hand them to civicstack's wallet they are
also written as dotted paths (``["address", "locality"]`` is ``address.locality``), which
covers every pointer except a ``null`` (all array elements) before the last component.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from civicstack.errors import InputError, VerificationError

FORMAT_SD_JWT_VC = "dc+sd-jwt"
MAX_CREDENTIAL_QUERIES = 16
MAX_CLAIMS = 64
MAX_PATH_COMPONENTS = 16
MAX_VALUES = 32
MAX_SETS = 16
MAX_VCT_VALUES = 16
MAX_TEXT = 1024
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

PathComponent = str | int | None
ClaimValue = str | int | bool


def _bad(detail: str) -> InputError:
    return InputError("invalid_request", f"dcql_query: {detail}")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise _bad(f"{what} must be a non-empty string")
    return value


def _identifier(value: object, what: str) -> str:
    # §6.1 and §6.3: alphanumeric, underscore or hyphen characters, non-empty.
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _bad(f"{what} must be 1-64 letters, digits, '_' or '-'")
    return value


def _flag(obj: Mapping[str, Any], name: str, default: bool) -> bool:
    value = obj.get(name, default)
    if not isinstance(value, bool):
        raise _bad(f"{name} must be true or false")
    return value


def _array(value: object, what: str, limit: int) -> list[Any]:
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise _bad(f"{what} must be a non-empty array of at most {limit} elements")
    return value


# --- §7: claims path pointers ------------------------------------------------------------------


class _PathError(Exception):
    """§7.1: processing aborted with an error (a component met the wrong kind of element)."""


def select(root: Mapping[str, Any], path: Sequence[PathComponent]) -> list[Any]:
    """Process a claims path pointer against a JSON credential (§7.1.1); the selected elements.

    An empty list means nothing was selected, and so does a processing error: either way the
    claim is not in the credential.
    """
    try:
        return _select(root, path)
    except _PathError:
        return []


def _select(root: Mapping[str, Any], path: Sequence[PathComponent]) -> list[Any]:
    # 1. Select the root element of the Credential.
    selected: list[Any] = [root]
    # 2. Process the components from left to right.
    for component in path:
        selected = _step(selected, component)
    # 3. An empty selection is an error: the claim is not there.
    if not selected:
        raise _PathError
    return selected


def _step(selected: list[Any], component: PathComponent) -> list[Any]:
    nxt: list[Any] = []
    if isinstance(component, str):
        # 2.1 a string selects that key in every selected object; an element lacking it drops
        # out; an element that is not an object aborts.
        for element in selected:
            if not isinstance(element, Mapping):
                raise _PathError
            if component in element:
                nxt.append(element[component])
        return nxt
    if component is None:
        # 2.2 null selects every element of every selected array.
        for element in selected:
            if not isinstance(element, list):
                raise _PathError
            nxt.extend(element)
        return nxt
    if isinstance(component, int) and not isinstance(component, bool) and component >= 0:
        # 2.3 a non-negative integer selects that index of every selected array.
        for element in selected:
            if not isinstance(element, list):
                raise _PathError
            if component < len(element):
                nxt.append(element[component])
        return nxt
    # 2.4 anything else aborts.
    raise _PathError


def _read_path(value: object) -> tuple[PathComponent, ...]:
    components = _array(value, "a claims path", MAX_PATH_COMPONENTS)
    out: list[PathComponent] = []
    for component in components:
        if component is None or isinstance(component, str):
            if isinstance(component, str) and (not component or len(component) > MAX_TEXT):
                raise _bad("a path component is a non-empty string, an index or null")
            out.append(component)
        elif isinstance(component, int) and not isinstance(component, bool) and component >= 0:
            out.append(component)
        else:
            raise _bad("a path component is a non-empty string, an index or null")
    return tuple(out)


def dotted(path: Sequence[PathComponent]) -> str:
    """The civicstack dotted path for a claims path pointer (``unsupported`` when there is none).

    A trailing ``null`` selects every element of an array, which is the array itself.
    """
    parts = list(path)
    if parts and parts[-1] is None:
        parts.pop()
    if not parts:
        raise InputError("unsupported", "a claims path of only null selects no claim")
    out: list[str] = []
    for part in parts:
        if part is None:
            raise InputError(
                "unsupported", "null (all array elements) is supported only at the end of a path"
            )
        if isinstance(part, str) and ("." in part or part.isdigit()):
            raise InputError("unsupported", f"claim name {part!r} cannot be a dotted path")
        out.append(str(part))
    return ".".join(out)


# --- the query -----------------------------------------------------------------------------------


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
        if not isinstance(value, Mapping):
            raise _bad("a DCQL query is a JSON object")
        credentials = tuple(
            _credential(c)
            for c in _array(value.get("credentials"), "credentials", MAX_CREDENTIAL_QUERIES)
        )
        ids = [c.id for c in credentials]
        if len(set(ids)) != len(ids):
            raise _bad("the same credential query id appears twice")
        sets = value.get("credential_sets")
        credential_sets = None
        if sets is not None:
            credential_sets = tuple(
                _credential_set(s, set(ids)) for s in _array(sets, "credential_sets", MAX_SETS)
            )
        return cls(credentials, credential_sets)

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


def _credential(value: object) -> DcqlCredential:
    if not isinstance(value, Mapping):
        raise _bad("a credential query is a JSON object")
    query_id = _identifier(value.get("id"), "a credential query id")
    fmt = value.get("format")
    if fmt != FORMAT_SD_JWT_VC:
        raise InputError(
            "unsupported", f"dcql_query: only the format {FORMAT_SD_JWT_VC} is supported"
        )
    meta = value.get("meta")
    if not isinstance(meta, Mapping):
        raise _bad(f"{query_id}: meta is required (an object with vct_values)")
    vct_values = tuple(
        _text(v, "a vct value")
        for v in _array(meta.get("vct_values"), "meta.vct_values", MAX_VCT_VALUES)
    )
    # Appendix B.3: a Credential without holder binding cannot answer; this verifier always
    # requires the Key Binding JWT.
    if not _flag(value, "require_cryptographic_holder_binding", True):
        raise InputError("unsupported", "dcql_query: this verifier requires holder binding")
    claims = None
    if value.get("claims") is not None:
        claims = tuple(_claim(c) for c in _array(value.get("claims"), "claims", MAX_CLAIMS))
        for claim in claims:
            dotted(claim.path)  # refuse what cannot be asked of a wallet here
        claim_ids = [c.id for c in claims if c.id is not None]
        if len(set(claim_ids)) != len(claim_ids):
            raise _bad(f"{query_id}: the same claim id appears twice")
    claim_sets = _claim_sets(value.get("claim_sets"), claims, query_id)
    trusted = value.get("trusted_authorities")
    trusted_authorities = None
    if trusted is not None:
        trusted_authorities = tuple(
            _trusted_authority(t) for t in _array(trusted, "trusted_authorities", MAX_SETS)
        )
    return DcqlCredential(
        id=query_id,
        vct_values=vct_values,
        claims=claims,
        claim_sets=claim_sets,
        multiple=_flag(value, "multiple", False),
        trusted_authorities=trusted_authorities,
    )


def _claim_sets(
    value: object, claims: tuple[DcqlClaim, ...] | None, query_id: str
) -> tuple[tuple[str, ...], ...] | None:
    if value is None:
        return None
    if claims is None:
        raise _bad(f"{query_id}: claim_sets needs claims")
    ids = {c.id for c in claims}
    if None in ids:
        raise _bad(f"{query_id}: with claim_sets every claim needs an id")
    sets: list[tuple[str, ...]] = []
    for option in _array(value, "claim_sets", MAX_SETS):
        members = tuple(
            _identifier(i, "a claim id") for i in _array(option, "a claim set", MAX_CLAIMS)
        )
        if not set(members) <= ids:
            raise _bad(f"{query_id}: a claim set names an unknown claim id")
        sets.append(members)
    return tuple(sets)


def _claim(value: object) -> DcqlClaim:
    if not isinstance(value, Mapping):
        raise _bad("a claims query is a JSON object")
    claim_id = value.get("id")
    values = value.get("values")
    expected: tuple[ClaimValue, ...] | None = None
    if values is not None:
        items = _array(values, "values", MAX_VALUES)
        for item in items:
            if not isinstance(item, str | int) or (isinstance(item, str) and len(item) > MAX_TEXT):
                raise _bad("values holds strings, integers or booleans")
        expected = tuple(items)
    return DcqlClaim(
        path=_read_path(value.get("path")),
        id=None if claim_id is None else _identifier(claim_id, "a claim id"),
        values=expected,
    )


def _credential_set(value: object, ids: set[str]) -> DcqlCredentialSet:
    if not isinstance(value, Mapping):
        raise _bad("a credential set query is a JSON object")
    options: list[tuple[str, ...]] = []
    for option in _array(value.get("options"), "options", MAX_SETS):
        members = tuple(
            _identifier(i, "a credential query id")
            for i in _array(option, "an option", MAX_CREDENTIAL_QUERIES)
        )
        if not set(members) <= ids:
            raise _bad("a credential set names an unknown credential query id")
        options.append(members)
    return DcqlCredentialSet(tuple(options), _flag(value, "required", True))


def _trusted_authority(value: object) -> dict[str, Any]:
    # §6.1.1: kept and passed on; this verifier checks every issuer against its own trust
    # registry whatever the query says (§14.6: never rely on the Wallet for it).
    if not isinstance(value, Mapping):
        raise _bad("a trusted authorities query is a JSON object")
    kind = _text(value.get("type"), "trusted_authorities type")
    values = [
        _text(v, "a trusted authority value")
        for v in _array(value.get("values"), "values", MAX_VALUES)
    ]
    return {"type": kind, "values": values}


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
