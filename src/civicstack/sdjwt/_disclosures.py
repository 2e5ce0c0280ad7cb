"""Disclosures and concealment: RFC 9901 §4.2 (creating Disclosures, digests, decoys).

An issuer turns a claims set into an SD-JWT payload by replacing each selectively disclosable
object property with a digest in the enclosing object's ``_sd`` array (§4.2.4.1) and each
selectively disclosable array element with ``{"...": digest}`` (§4.2.4.2). Nested paths are
concealed first, so a disclosed value may itself carry digests (recursive disclosures, §4.2.6).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from civicstack._crypto import (
    b64url_decode,
    b64url_encode,
    b64url_with_digest,
    json_dumps,
    json_loads_strict,
    sha256_b64url,
)
from civicstack.errors import InputError, VerificationError
from civicstack.sdjwt.limits import DEFAULT_LIMITS, Limits

SD = "_sd"
DOTS = "..."
SD_ALG = "_sd_alg"
SHA_256 = "sha-256"
#: Reserved claim names: a Disclosure may not use them (§4.2.1) and claims may not contain them.
RESERVED = frozenset({SD, DOTS})
#: §9.3 recommends at least 128 bits of salt.
SALT_BYTES = 16

#: ``rng(n)`` returns ``n`` random bytes (``os.urandom`` by default; tests inject one).
Rng = Callable[[int], bytes]
#: A claim's place: object member names and array indices from the top of the payload.
Path = tuple[str | int, ...]
JsonDumps = Callable[[Any], bytes]
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")


def disclosure_digest(encoded: str) -> str:
    """§4.2.3: base64url SHA-256 over the ASCII bytes of the encoded Disclosure."""
    return sha256_b64url(encoded.encode("ascii"))


class Disclosure(NamedTuple):
    """One Disclosure: ``[salt, name, value]`` for a property, ``[salt, value]`` for an element.

    An immutable NamedTuple rather than a frozen dataclass: issuers make one per claim, and a
    tuple is built about three times faster.
    """

    encoded: str
    digest: str
    salt: str
    name: str | None
    value: Any


def make_disclosure(
    salt: str, name: str | None, value: Any, *, dumps: JsonDumps = json_dumps
) -> Disclosure:
    """§4.2.1 (object property, ``name`` given) or §4.2.2 (array element, ``name`` None)."""
    array = [salt, value] if name is None else [salt, name, value]
    encoded, digest = b64url_with_digest(dumps(array))
    return Disclosure(encoded, digest, salt, name, value)


def decode_disclosure(
    encoded: str, *, limits: Limits = DEFAULT_LIMITS, digest: str | None = None
) -> Disclosure:
    """Decode a received Disclosure strictly; ``invalid_disclosure`` when it is not one, and
    ``too_large`` when it is longer than ``limits.disclosure_bytes``.

    ``digest`` is the Disclosure's digest when the caller computed it already.
    """
    max_bytes = limits.disclosure_bytes
    if len(encoded) > max_bytes:
        raise InputError("too_large", f"a disclosure is longer than {max_bytes} bytes")
    try:
        raw = b64url_decode(encoded)
        array = json_loads_strict(raw)
    except InputError as exc:
        raise VerificationError("invalid_disclosure", f"not base64url JSON: {exc.detail}") from exc
    if not isinstance(array, list) or len(array) not in (2, 3):
        raise VerificationError("invalid_disclosure", "a disclosure is a JSON array of 2 or 3")
    if not isinstance(array[0], str):
        raise VerificationError("invalid_disclosure", "a disclosure's salt must be a string")
    digest = digest or disclosure_digest(encoded)
    if len(array) == 2:
        return Disclosure(encoded, digest, array[0], None, array[1])
    if not isinstance(array[1], str):
        raise VerificationError("invalid_disclosure", "a disclosure's claim name must be a string")
    return Disclosure(encoded, digest, array[0], array[1], array[2])


@dataclass(frozen=True, slots=True)
class Concealed:
    """The SD-JWT payload (without ``_sd_alg``) and the Disclosures, in creation order."""

    payload: dict[str, Any]
    disclosures: tuple[Disclosure, ...]


# A trie of the paths to conceal: segment -> [conceal this node?, children].
_Trie = dict[str | int, list[Any]]


class _Concealer:
    def __init__(self, rng: Rng, decoys: int, dumps: JsonDumps, salts: int) -> None:
        self.rng = rng
        self.decoys = decoys
        self.dumps = dumps
        self.disclosures: list[Disclosure] = []
        # Every salt in one draw (one system call), handed out in creation order.
        self.salts = self.random(SALT_BYTES * salts)
        self.next_salt = 0

    def random(self, n: int) -> bytes:
        raw = self.rng(n)
        if len(raw) != n:
            raise ValueError(f"rng returned {len(raw)} bytes, {n} were asked for")
        return raw

    def disclose(self, name: str | None, value: Any) -> str:
        # make_disclosure, inlined: this runs once per claim on the issuance hot path.
        start = self.next_salt
        self.next_salt = start + SALT_BYTES
        salt = b64url_encode(self.salts[start : start + SALT_BYTES])
        array = [salt, value] if name is None else [salt, name, value]
        encoded, digest = b64url_with_digest(self.dumps(array))
        self.disclosures.append(Disclosure(encoded, digest, salt, name, value))
        return digest

    def decoy_digests(self) -> list[str]:
        # §4.2.5: a digest over fresh random bytes; a uniform count in 1..decoys hides how many
        # real claims an object has (rejection sampling keeps the count exactly uniform). One
        # draw serves the count and the bytes behind every decoy.
        if self.decoys <= 0:
            return []
        limit = 256 - 256 % self.decoys
        while (pool := self.random(1 + 32 * self.decoys))[0] >= limit:
            pass
        count = 1 + pool[0] % self.decoys
        return [sha256_b64url(pool[i : i + 32]) for i in range(1, 1 + 32 * count, 32)]

    def value(self, value: Any, trie: _Trie) -> Any:
        if not trie:
            return value
        if isinstance(value, dict):
            return self.object(value, trie)
        return self.array(value, trie)

    def object(self, obj: dict[str, Any], trie: _Trie) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        digests: list[str] = []
        # Children first, then the claim itself: a recursive Disclosure embeds the digests of
        # its children (§4.2.6). The reference tool draws salts in this order too, so replaying
        # a vector's salts reproduces its payload.
        for name, value in obj.items():
            entry = trie.get(name)
            if entry is None:
                kept[name] = value
                continue
            inner = self.value(value, entry[1]) if entry[1] else value
            if entry[0]:
                digests.append(self.disclose(name, inner))
            else:
                kept[name] = inner
        if not digests:
            return kept
        digests.extend(self.decoy_digests())
        digests.sort()  # §4.2.4.1: hide the original order of the claims
        return {SD: digests, **kept}

    def array(self, array: list[Any], trie: _Trie) -> list[Any]:
        out: list[Any] = []
        for index, value in enumerate(array):
            entry = trie.get(index)
            if entry is None:
                out.append(value)
                continue
            inner = self.value(value, entry[1])
            out.append({DOTS: self.disclose(None, inner)} if entry[0] else inner)
        return out


_PLAIN = (str, bool, type(None))
_NOT_CLAIMS = RESERVED | {SD_ALG}
_INT_RANGE = range(-(2**63), 2**63)


def _check_claims(value: Any, depth: int, max_depth: int) -> None:
    """Claims are JSON: no reserved names, finite numbers, 64-bit integers, bounded depth."""
    if depth > max_depth:
        raise InputError("too_large", f"claims nest deeper than {max_depth} levels")
    if isinstance(value, Mapping):
        if not all(type(name) is str for name in value):
            raise InputError("invalid_request", "claim names must be strings")
        taken = _NOT_CLAIMS.intersection(value)
        if taken:
            raise InputError("reserved_claim", f"claims may not use the name {min(taken)!r}")
        inners: Iterable[Any] = value.values()
    elif isinstance(value, list | tuple):
        inners = value
    else:
        raise InputError("invalid_request", f"a claim value cannot be a {type(value).__name__}")
    for inner in inners:
        kind = type(inner)
        if kind in _PLAIN:
            continue
        if kind is int or kind is float:
            _check_number(inner)
        else:
            _check_claims(inner, depth + 1, max_depth)


def _check_number(number: float) -> None:
    if isinstance(number, int) and number not in _INT_RANGE:
        raise InputError("invalid_request", "claim integers must fit in 64 bits")
    if isinstance(number, float) and not math.isfinite(number):
        raise InputError("invalid_request", "claim numbers must be finite")


_MISSING = object()


def child(value: Any, segment: str | int) -> Any:
    """The member or element ``segment`` of ``value``, or a sentinel that is never a claim."""
    if isinstance(value, Mapping):
        return value.get(segment, _MISSING) if isinstance(segment, str) else _MISSING
    if isinstance(value, list) and isinstance(segment, int) and not isinstance(segment, bool):
        return value[segment] if 0 <= segment < len(value) else _MISSING
    return _MISSING


def exists(claims: Mapping[str, Any], path: Path) -> bool:
    """Whether ``path`` names a claim in ``claims``."""
    here: Any = claims
    for segment in path:
        here = child(here, segment)
        if here is _MISSING:
            return False
    return True


def _build_trie(claims: Mapping[str, Any], paths: Iterable[Path]) -> _Trie:
    root: _Trie = {}
    for path in paths:
        if len(path) == 1 and isinstance(path[0], str) and path[0] in claims:
            root.setdefault(path[0], [False, {}])[0] = True  # a top-level claim: no walk
            continue
        if not path or not exists(claims, path):
            raise InputError("undisclosable_claim", f"no claim at {format_path(path)!r}")
        node = root
        for depth, segment in enumerate(path):
            entry = node.setdefault(segment, [False, {}])
            if depth == len(path) - 1:
                entry[0] = True
            node = entry[1]
    return root


def _count_marked(trie: _Trie) -> int:
    total, stack = 0, [trie]
    while stack:
        for marked, children in stack.pop().values():
            total += marked
            if children:
                stack.append(children)
    return total


def conceal(
    claims: Mapping[str, Any],
    disclosable: Iterable[Path],
    *,
    rng: Rng | None = None,
    decoys: int = 0,
    dumps: JsonDumps = json_dumps,
    limits: Limits = DEFAULT_LIMITS,
) -> Concealed:
    """Make the claims at ``disclosable`` paths selectively disclosable (§4.2).

    Each path names an object member (a ``str`` segment) or an array element (an ``int``);
    a path below another concealed path gives a recursive Disclosure. ``decoys`` > 0 adds
    between 1 and ``decoys`` decoy digests to every ``_sd`` array. All salts come from one
    ``rng(16 * number_of_disclosures)`` call, in creation order. ``dumps`` encodes the
    Disclosure arrays (any JSON encoding is valid, §4.2.1; tests pass the reference tool's).
    Claims nesting deeper than ``limits.depth`` are refused (``too_large``).
    """
    _check_claims(dict(claims), 0, limits.depth)
    trie = _build_trie(claims, disclosable)
    concealer = _Concealer(rng or os.urandom, decoys, dumps, _count_marked(trie))
    payload = concealer.object(dict(claims), trie)
    return Concealed(payload, tuple(concealer.disclosures))


def format_path(path: Path) -> str:
    """A path as dotted text: ``("address", "locality")`` -> ``address.locality``."""
    if len(path) == 1 and type(path[0]) is str:
        return path[0]  # a top-level claim, as nearly every disclosed one is: no join
    return ".".join(str(segment) for segment in path)


def parse_path(text: str, claims: Mapping[str, Any]) -> Path:
    """Resolve dotted text against ``claims``: a segment indexes an array where one stands.

    Raises ``undisclosable_claim`` when the path names no claim in ``claims``.
    """
    if not isinstance(text, str) or not text:
        raise InputError("undisclosable_claim", "a claim path must be a non-empty string")
    if text in claims:  # a top-level name is taken whole (the common case, and fast)
        return (text,)
    path: list[str | int] = []
    here: Any = claims
    for segment in text.split("."):
        if isinstance(here, Mapping) and segment in here:
            path.append(segment)
            here = here[segment]
        elif isinstance(here, list) and _INDEX.fullmatch(segment) and int(segment) < len(here):
            path.append(int(segment))
            here = here[int(segment)]
        else:
            raise InputError("undisclosable_claim", f"no claim at {text!r}")
    return tuple(path)
