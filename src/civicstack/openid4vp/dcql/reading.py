"""A DCQL query's JSON form (OpenID4VP 1.0 §6) read strictly.

Every value is type-checked and bounded; unknown members are ignored, as §6 requires. Only the
SD-JWT VC format (``dc+sd-jwt``, Appendix B.3) is supported: ``meta.vct_values`` is required,
and a Credential Query asking for another format is ``unsupported``; so is a claims path that
cannot be written as a dotted path for the wallet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from civicstack.errors import InputError
from civicstack.openid4vp.dcql.credential_query import (
    FORMAT_SD_JWT_VC,
    ClaimValue,
    DcqlClaim,
    DcqlCredential,
    DcqlCredentialSet,
)
from civicstack.openid4vp.dcql.paths import PathComponent, dotted

MAX_CREDENTIAL_QUERIES = 16
MAX_CLAIMS = 64
MAX_PATH_COMPONENTS = 16
MAX_VALUES = 32
MAX_SETS = 16
MAX_VCT_VALUES = 16
MAX_TEXT = 1024
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


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


def read_query(
    value: object,
) -> tuple[tuple[DcqlCredential, ...], tuple[DcqlCredentialSet, ...] | None]:
    """The Credential Queries and Credential Set Queries of a DCQL query's JSON form."""
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
    return credentials, credential_sets


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
