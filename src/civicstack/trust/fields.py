"""Field checks shared by the trust statements: identifiers, claim paths, scopes, key sets.

Everything here reads hostile input: each value is type-checked and bounded, and a failure is an
``InputError`` with a stable code (``malformed``, ``invalid_key``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from civicstack._crypto import PublicKey
from civicstack.errors import InputError
from civicstack.trust.limits import DEFAULT_LIMITS, Limits

TYP_ACCREDITATION = "accreditation+jwt"
TYP_REVOCATION = "accreditation-revocation+jwt"
TYP_REGISTRATION = "rp-registration+jwt"
TYP_SUSPENSION = "rp-suspension+jwt"
STATEMENT_TYPES = (TYP_ACCREDITATION, TYP_REVOCATION, TYP_REGISTRATION, TYP_SUSPENSION)

#: Characters of an identifier (an ``iss``, ``sub``, vct or client_id): the width of the stores'
#: identifier columns, so a format bound rather than a tunable cap (see :class:`Limits`).
MAX_ID_CHARS = 2048
#: Characters of a name (a display name, ``jti``, ``kid`` or purpose id): the stores' column width.
MAX_NAME_CHARS = 256
_MAX_TIME = 1 << 53

#: Claims of an SD-JWT VC that are never selectively disclosable (SD-JWT VC draft §3.2.2.2):
#: they travel with every presentation, so neither an accreditation nor a relying party's
#: registration needs to list them.
ALWAYS_VISIBLE_CLAIMS = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})
#: Claims every issuer may set whatever its scope: the above, plus ``iat``, ``sub`` and ``jti``.
STRUCTURAL_CLAIMS = ALWAYS_VISIBLE_CLAIMS | {"iat", "sub", "jti", "_sd", "_sd_alg"}

_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")

Scope = Mapping[str, frozenset[str]]
Rng = Callable[[int], bytes]


def malformed(detail: str) -> InputError:
    """The error for a statement field that is missing, mistyped or out of bounds."""
    return InputError("malformed", detail)


def read_text(payload: Mapping[str, Any], name: str, limit: int, *, optional: bool = False) -> str:
    """A non-empty bounded string member (``""`` when optional and absent)."""
    value = payload.get(name)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise malformed(f"{name!r} must be a non-empty string of at most {limit} characters")
    return value


def read_time(payload: Mapping[str, Any], name: str) -> int:
    """A NumericDate member (RFC 7519 §2), whole seconds."""
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MAX_TIME:
        raise malformed(f"{name!r} must be a NumericDate (whole seconds)")
    return value


def read_flag(payload: Mapping[str, Any], name: str) -> bool:
    """A boolean member, false when absent."""
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise malformed(f"{name!r} must be true or false")
    return value


def check_identifier(value: object, what: str = "identifier") -> str:
    """An opaque identifier (a relying party's client_id): printable, no spaces, bounded."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_ID_CHARS
        or _CONTROL_OR_SPACE.search(value)
    ):
        raise malformed(f"{what} must be a non-empty string without spaces or control characters")
    return value


def check_authority_id(value: object, what: str = "authority identifier") -> str:
    """An authority's identifier: an http(s) URL with a host and no fragment (its ``iss``)."""
    text = check_identifier(value, what)
    try:
        url = urlsplit(text)
    except ValueError as exc:
        raise malformed(f"{what} is not a URL") from exc
    if url.scheme not in ("https", "http") or not url.hostname or url.fragment or "#" in text:
        raise malformed(f"{what} must be an http(s) URL with a host and no fragment")
    return text


def check_claim_path(value: object, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """A dotted claim path: non-empty segments, bounded depth."""
    if not isinstance(value, str) or not value or len(value) > limits.text_chars:
        raise malformed("a claim path must be a non-empty string")
    parts = value.split(".")
    if len(parts) > limits.path_depth or not all(parts):
        raise malformed(f"bad claim path {value!r}")
    return value


def claim_covered(allowed: frozenset[str], path: str) -> bool:
    """Whether ``path`` is allowed: listed itself, or beneath a listed path."""
    while True:
        if path in allowed:
            return True
        cut = path.rfind(".")
        if cut <= 0:
            return False
        path = path[:cut]


def read_scope(value: object, what: str, *, limits: Limits = DEFAULT_LIMITS) -> Scope:
    """``{vct: [claim path, ...]}``, bounded and validated, as an immutable mapping."""
    if not isinstance(value, dict) or len(value) > limits.vcts:
        raise malformed(f"{what} must map at most {limits.vcts} credential types to claim lists")
    out: dict[str, frozenset[str]] = {}
    for vct, claims in value.items():
        check_identifier(vct, "a credential type (vct)")
        if not isinstance(claims, list) or len(claims) > limits.claims:
            raise malformed(
                f"{what}[{vct!r}] must be a list of at most {limits.claims} claim paths"
            )
        out[vct] = frozenset(check_claim_path(c, limits=limits) for c in claims)
    return MappingProxyType(out)


def scope_json(scope: Scope) -> dict[str, list[str]]:
    """The wire form of a scope (claim paths sorted)."""
    return {vct: sorted(claims) for vct, claims in scope.items()}


def scope_json_in(claims: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The wire form of a caller's ``{vct: paths}`` mapping (validated when read back)."""
    return {vct: list(paths) for vct, paths in claims.items()}


@dataclass(frozen=True, slots=True)
class KeySet:
    """Public keys found by ``kid``: each key's RFC 7638 thumbprint, and its JWK ``kid`` if any."""

    keys: tuple[PublicKey, ...]
    kids: tuple[str, ...]

    @classmethod
    def of(cls, keys: Iterable[PublicKey], *, limits: Limits = DEFAULT_LIMITS) -> KeySet:
        """A key set naming each key by its thumbprint."""
        unique = {k.thumbprint(): k for k in keys}
        if not 1 <= len(unique) <= limits.keys:
            raise InputError("invalid_key", f"a key set holds 1 to {limits.keys} distinct keys")
        return cls(tuple(unique.values()), tuple(unique))

    @classmethod
    def from_jwks(cls, jwks: object, *, limits: Limits = DEFAULT_LIMITS) -> KeySet:
        """Read a JWK Set (RFC 7517 §5) of public keys; private members are refused."""
        keys_in = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys_in, list) or not 1 <= len(keys_in) <= limits.keys:
            raise InputError("invalid_key", f"jwks must hold 1 to {limits.keys} keys")
        keys: list[PublicKey] = []
        kids: list[str] = []
        for jwk in keys_in:
            if isinstance(jwk, dict) and "d" in jwk:
                raise InputError("invalid_key", "a published key set must not hold private keys")
            key = PublicKey.from_jwk(jwk)
            kid = jwk.get("kid", key.thumbprint())
            check_identifier(kid, "kid")
            keys.append(key)
            kids.append(kid)
        owner: dict[str, int] = {}
        for i, (key, kid) in enumerate(zip(keys, kids, strict=True)):
            for name in {kid, key.thumbprint()}:
                if owner.setdefault(name, i) != i:
                    raise InputError("invalid_key", "jwks has duplicate or clashing key ids")
        return cls(tuple(keys), tuple(kids))

    def find(self, kid: str) -> PublicKey | None:
        """The key named ``kid``: its thumbprint first, else its JWK ``kid``; or None."""
        for key in self.keys:
            if key.thumbprint() == kid:
                return key
        for key, own in zip(self.keys, self.kids, strict=True):
            if own == kid:
                return key
        return None

    def thumbprints(self) -> frozenset[str]:
        """The RFC 7638 thumbprints of the keys."""
        return frozenset(k.thumbprint() for k in self.keys)

    def to_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set, each key with its ``kid``."""
        return {
            "keys": [
                {**k.to_jwk(), "kid": kid} for k, kid in zip(self.keys, self.kids, strict=True)
            ]
        }
