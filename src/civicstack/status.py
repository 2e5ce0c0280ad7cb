"""Token Status List (draft-ietf-oauth-status-list-14): revocation and suspension.

* §4.1: a Status List is a byte array holding ``bits`` (1, 2, 4 or 8) per Referenced Token;
  index ``i`` lives in byte ``i * bits // 8`` starting at bit ``i * bits % 8`` counted from
  the LEAST significant bit. The array is compressed with DEFLATE in the ZLIB format (highest
  level) and base64url-encoded into ``lst`` (§4.2).
* §5.1: the Status List Token is a JWT typed ``statuslist+jwt`` with ``sub`` (the list's URI),
  ``iat``, optional ``exp`` and ``ttl``, and the ``status_list`` claim.
* §6.1/§6.2: a Referenced Token carries ``status: {"status_list": {"idx": n, "uri": ...}}``.
* §7.1: status values VALID 0, INVALID 1 (revoked), SUSPENDED 2; 3 and 0x0C-0x0F are
  application-specific, which this verifier does not accept.
* §8.3: validation, implemented in :meth:`StatusListClient.check` as numbered comments.

The issuer's side (end of the module): :class:`IssuedRecord`, what a platform keeps of a
credential it issued, with its state by name (:data:`CredentialState`) and the rule that a
revocation is final (:func:`state_changes`); :class:`StatusListState`, a list as kept; and the
allocation of indices, never twice and in no telling order (:func:`permute`).

Hostile input is capped twice: the token's size before parsing and the decompressed list's
size during decompression (a small ``lst`` can inflate a thousandfold); :class:`Limits` holds
the caps.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from civicstack._crypto import (
    PrivateKey,
    PublicKey,
    b64url_decode,
    b64url_encode,
    json_dumps,
    parse_compact,
    sha256_digest,
    sign_compact,
)
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.types import Clock, Fetcher, IssuerTrust, SystemClock

VALID, INVALID, SUSPENDED = 0, 1, 2
TYP = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"
BITS = (1, 2, 4, 8)
DEFAULT_TTL = 300


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on the Status List Tokens a verifier reads (hostile input) and on what it keeps.

    ``token_bytes``    largest Status List Token fetched (default 2 MiB; ``status_unavailable``
                       when fetched larger, ``too_large`` when given larger)
    ``list_bytes``     largest Status List once decompressed (default 16 MiB; ``too_large``)
    ``skew``           seconds a token's ``iat`` may lie in the future (default 60;
                       ``invalid_status_list``)
    ``min_ttl``        fewest seconds a verified token is reused, whatever its ``ttl`` (default 10)
    ``max_ttl``        most seconds a verified token is reused, whatever its ``ttl`` (default 1
                       day, §11.5)
    ``cache_entries``  verified tokens one client keeps (default 256; 0 keeps none)
    """

    token_bytes: int = 2 * 1024 * 1024
    list_bytes: int = 16 * 1024 * 1024
    skew: int = 60
    min_ttl: int = 10
    max_ttl: int = 24 * 3600
    cache_entries: int = 256


#: The caps every status recipe uses unless given others.
DEFAULT_LIMITS = Limits()
#: The defaults of :class:`Limits`, by their former names.
MAX_TOKEN_BYTES = DEFAULT_LIMITS.token_bytes
MAX_LIST_BYTES = DEFAULT_LIMITS.list_bytes
MAX_TTL = DEFAULT_LIMITS.max_ttl
MAX_SKEW = DEFAULT_LIMITS.skew

__all__ = [
    "BITS",
    "DEFAULT_LIMITS",
    "DEFAULT_TTL",
    "INVALID",
    "MAX_LIST_BYTES",
    "MAX_SKEW",
    "MAX_TOKEN_BYTES",
    "MAX_TTL",
    "MEDIA_TYPE",
    "SUSPENDED",
    "TYP",
    "VALID",
    "Limits",
    "StatusList",
    "StatusListClient",
    "StatusListToken",
    "sign_status_list_token",
    "status_reference",
    "verify_status_list_token",
]


def _invalid(detail: str) -> VerificationError:
    return VerificationError("invalid_status_list", detail)


class StatusList:
    """A mutable Status List (§4.1): ``status_list[idx]`` reads, ``status_list[idx] = v`` sets."""

    __slots__ = ("_data", "bits")

    def __init__(self, size: int, bits: int = 1) -> None:
        if bits not in BITS:
            raise ValueError(f"bits must be one of {BITS}")
        if not 0 < size * bits <= MAX_LIST_BYTES * 8:
            raise ValueError("size out of range")
        self.bits = bits
        self._data = bytearray(-(-size * bits // 8))

    @classmethod
    def from_bytes(cls, data: bytes, bits: int) -> StatusList:
        """Wrap an uncompressed byte array."""
        status_list = cls(max(1, len(data) * 8 // bits), bits)
        status_list._data = bytearray(data)
        return status_list

    def __len__(self) -> int:
        return len(self._data) * 8 // self.bits

    def _locate(self, idx: int) -> tuple[int, int]:
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(self):
            raise IndexError(f"index {idx!r} is outside the status list")
        position = idx * self.bits
        return position >> 3, position & 7

    def __getitem__(self, idx: int) -> int:
        byte, shift = self._locate(idx)
        return (self._data[byte] >> shift) & ((1 << self.bits) - 1)

    def __setitem__(self, idx: int, value: int) -> None:
        if not 0 <= value < (1 << self.bits):
            raise ValueError(f"a {self.bits}-bit list cannot hold {value}")
        byte, shift = self._locate(idx)
        mask = ((1 << self.bits) - 1) << shift
        self._data[byte] = (self._data[byte] & ~mask) | (value << shift)

    def to_bytes(self) -> bytes:
        """The uncompressed byte array."""
        return bytes(self._data)

    def encode(self) -> dict[str, Any]:
        """§4.2: ``{"bits": n, "lst": base64url(zlib(bytes, level 9))}``."""
        return {"bits": self.bits, "lst": b64url_encode(zlib.compress(self._data, 9))}

    @classmethod
    def decode(cls, obj: object, *, limits: Limits = DEFAULT_LIMITS) -> StatusList:
        """Read a JSON Status List (§4.2); ``invalid_status_list`` if it is not one, ``too_large``
        if it inflates beyond ``limits.list_bytes``."""
        max_bytes = limits.list_bytes
        if not isinstance(obj, Mapping):
            raise _invalid("status_list must be an object")
        bits, lst = obj.get("bits"), obj.get("lst")
        if not isinstance(bits, int) or isinstance(bits, bool) or bits not in BITS:
            raise _invalid("status_list bits must be 1, 2, 4 or 8")
        if not isinstance(lst, str):
            raise _invalid("status_list lst must be a string")
        try:
            compressed = b64url_decode(lst)
            inflater = zlib.decompressobj()
            data = inflater.decompress(compressed, max_bytes)
        except (CivicError, zlib.error) as exc:
            raise _invalid("lst is not base64url ZLIB data") from exc
        if inflater.unconsumed_tail:
            raise VerificationError("too_large", f"status list inflates beyond {max_bytes} bytes")
        if not inflater.eof or inflater.unused_data or not data:
            raise _invalid("lst is truncated or has trailing data")
        return cls.from_bytes(data, bits)


def status_reference(uri: str, idx: int) -> dict[str, Any]:
    """The ``status`` claim of a Referenced Token (§6.1)."""
    return {"status_list": {"idx": idx, "uri": uri}}


def sign_status_list_token(
    key: PrivateKey,
    status_list: StatusList,
    *,
    uri: str,
    iat: int,
    exp: int | None = None,
    ttl: int | None = None,
    iss: str | None = None,
    kid: str | None = None,
) -> str:
    """A Status List Token in JWT format (§5.1)."""
    if ttl is not None and ttl <= 0:
        raise ValueError("ttl must be positive")
    claims: dict[str, Any] = {"sub": uri, "iat": iat}
    if iss is not None:
        claims["iss"] = iss
    if exp is not None:
        claims["exp"] = exp
    if ttl is not None:
        claims["ttl"] = ttl
    claims["status_list"] = status_list.encode()
    header = {"typ": TYP} if kid is None else {"typ": TYP, "kid": kid}
    return sign_compact(key, json_dumps(claims), header)


@dataclass(frozen=True, slots=True)
class StatusListToken:
    """A verified Status List Token."""

    uri: str
    iat: int
    exp: int | None
    ttl: int | None
    iss: str | None
    status_list: StatusList


def _int_claim(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name} must be an integer")
    return value


def verify_status_list_token(
    token: str | bytes,
    key: PublicKey | Callable[[str | None], PublicKey],
    *,
    uri: str,
    now: int,
    iss: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> StatusListToken:
    """§8.3 step 3 and 4: verify a Status List Token fetched from ``uri``.

    ``key`` is the public key, or a function from the header's ``kid`` to it. ``iss`` is the
    Referenced Token's issuer: when both tokens name an issuer the names must be equal.
    """
    try:
        jws = parse_compact(token, max_bytes=limits.token_bytes)
        kid = jws.header.get("kid")
        public = key if isinstance(key, PublicKey) else key(kid if isinstance(kid, str) else None)
        # 3.a. Validate the JWT (RFC 7519 §7.2): an asymmetric allowed algorithm, the signature.
        jws.verify(public)
        claims = jws.payload_json()
    except CivicError as exc:
        if exc.code == "too_large":
            raise
        raise _invalid(f"status list token: {exc.detail}") from exc
    if jws.header.get("typ") != TYP:
        raise _invalid("status list token typ must be statuslist+jwt")
    # 3.b. The required claims: sub, iat, status_list.
    sub = claims.get("sub")
    issued = _int_claim(claims, "iat")
    if issued is None:
        raise _invalid("status list token has no iat")
    exp, ttl = _int_claim(claims, "exp"), _int_claim(claims, "ttl")
    # 4.a. sub equals the uri of the Referenced Token's status_list.
    if sub != uri:
        raise _invalid("status list token sub is not the uri it was fetched for")
    if iss is not None and "iss" in claims and claims["iss"] != iss:
        raise _invalid("status list token names another issuer")
    # 4.b. Freshness policy on iat: never issued in the future.
    if issued > now + limits.skew:
        raise _invalid("status list token issued in the future")
    # 4.c. An expired Status List Token is not used.
    if exp is not None and now >= exp:
        raise _invalid("status list token has expired")
    if ttl is not None and ttl <= 0:
        raise _invalid("ttl must be a positive number")
    # 5. Decompress (ZLIB/DEFLATE) with the size cap.
    status_list = StatusList.decode(claims.get("status_list"), limits=limits)
    token_iss = claims.get("iss")
    return StatusListToken(
        uri, issued, exp, ttl, token_iss if isinstance(token_iss, str) else None, status_list
    )


@dataclass(frozen=True, slots=True)
class _Cached:
    token: StatusListToken
    fresh_until: int


class StatusListClient:
    """A :class:`civicstack.types.StatusChecker` over Status List Tokens, with a cache.

    Tokens are fetched with ``Accept: application/statuslist+jwt`` and verified with the key
    the trust policy gives for the credential's issuer. A verified token is reused for its
    ``ttl`` (``default_ttl`` if it has none), clamped to ``[limits.min_ttl, limits.max_ttl]``
    against hostile values (§11.5), and never past its ``exp``; at most ``limits.cache_entries``
    are kept. ``clock`` times the cache.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        clock: Clock | None = None,
        default_ttl: int = DEFAULT_TTL,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.fetcher = fetcher
        self.clock = clock or SystemClock()
        self.default_ttl = default_ttl
        self.limits = limits
        self._cache: OrderedDict[tuple[str, str], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, status: Mapping[str, Any], iss: str, trust: IssuerTrust, now: int) -> None:
        """§8.3: return if the Referenced Token is VALID, else raise its status as an error."""
        # 1. A status_list reference with idx (a non-negative integer) and uri (a string).
        reference = status.get("status_list")
        if reference is None:
            raise VerificationError("status_unavailable", "no status mechanism this verifier reads")
        idx = reference.get("idx") if isinstance(reference, Mapping) else None
        uri = reference.get("uri") if isinstance(reference, Mapping) else None
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0 or not isinstance(uri, str):
            raise VerificationError("invalid_credential", "status_list needs idx and uri")
        token = self._token(uri, iss, trust, now)
        # 6. The value at idx; an index outside the list allows no statement: reject.
        if idx >= len(token.status_list):
            raise _invalid(f"index {idx} is outside the status list")
        value = token.status_list[idx]
        # 7. Check the status value (§7).
        if value == VALID:
            return
        if value == INVALID:
            raise VerificationError("revoked", "the credential has been revoked")
        if value == SUSPENDED:
            raise VerificationError("suspended", "the credential is suspended")
        raise VerificationError("unknown_status", f"status value {value:#04x} is not understood")

    def _token(self, uri: str, iss: str, trust: IssuerTrust, now: int) -> StatusListToken:
        key = (iss, uri)
        clock_now = self.clock.now()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                exp = cached.token.exp
                # 4.d. Reuse only while time resolved + ttl is not past, and never after exp.
                if clock_now < cached.fresh_until and (exp is None or now < exp):
                    self._cache.move_to_end(key)
                    return cached.token
                del self._cache[key]
        # 2. Resolve the Status List Token from the uri.
        try:
            body = self.fetcher.fetch(uri, accept=MEDIA_TYPE, max_bytes=self.limits.token_bytes)
        except CivicError as exc:
            raise VerificationError("status_unavailable", f"status list: {exc.detail}") from exc
        # 3. and 4. Validate the token (issuer key, typ, claims, sub, exp).
        token = verify_status_list_token(
            body,
            lambda kid: trust.issuer_key(iss, kid, now),
            uri=uri,
            now=now,
            iss=iss,
            limits=self.limits,
        )
        ttl = min(max(token.ttl or self.default_ttl, self.limits.min_ttl), self.limits.max_ttl)
        fresh_until = clock_now + ttl
        if token.exp is not None:
            fresh_until = min(fresh_until, clock_now + max(0, token.exp - now))
        with self._lock:
            self._cache[key] = _Cached(token, fresh_until)
            while len(self._cache) > self.limits.cache_entries:
                self._cache.popitem(last=False)
        return token


# --- the issuer's side: credentials issued and the lists that carry their status ---------------

#: An issued credential's status by name: ``valid`` (VALID), ``revoked`` (INVALID, for good) or
#: ``suspended`` (SUSPENDED, reversible), §7.1.
CredentialState = Literal["valid", "revoked", "suspended"]
STATE_VALUES: Mapping[CredentialState, int] = {
    "valid": VALID,
    "revoked": INVALID,
    "suspended": SUSPENDED,
}
#: Default capacity: 2**16 entries per list (16 KiB uncompressed at 2 bits; a few hundred bytes
#: compressed while sparse), large enough for herd privacy, small enough to rewrite per change.
DEFAULT_SIZE_LOG2 = 16
DEFAULT_BITS = 2
#: Lists an issuer may open (numbered ``1`` to ``MAX_LISTS``).
MAX_LISTS = 1000
_ROUNDS = 8


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    """What the platform remembers of a credential it issued (never its claims)."""

    id: str
    authority: str
    vct: str
    holder_thumbprint: str | None
    list_id: str
    idx: int
    iat: int
    exp: int | None
    state: CredentialState
    updated_at: int
    #: How many copies were issued (a batch, OpenID4VCI §8.2), each with its own status entry
    #: (``list_id``/``idx`` are the first copy's); a change of state changes them all.
    copies: int = 1

    def to_json(self) -> dict[str, Any]:
        """A plain description."""
        return {
            "copies": self.copies,
            "id": self.id,
            "authority": self.authority,
            "vct": self.vct,
            "holder_thumbprint": self.holder_thumbprint,
            "list_id": self.list_id,
            "idx": self.idx,
            "iat": self.iat,
            "exp": self.exp,
            "state": self.state,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class StatusListState:
    """An issuer's list as kept: its entries, its version and the token last signed for it."""

    pk: int
    authority: str
    list_id: str
    bits: int
    capacity: int
    allocated: int
    data: bytes
    version: int
    updated_at: int
    token: str | None
    token_version: int | None
    token_iat: int | None

    def status_list(self) -> StatusList:
        """The entries as a :class:`StatusList`."""
        return StatusList.from_bytes(self.data, self.bits)


def permute(n: int, key: bytes, size_log2: int) -> int:
    """The ``n``-th index of a list: a keyed permutation of ``[0, 2**size_log2)``.

    Implementation Considerations ("Default Values and Double Allocation") ask that no index be
    handed out twice; the Privacy Considerations rely on herd privacy, which sequential indices
    weaken. A balanced Feistel network (8 rounds over the index bits) is a bijection whatever
    its round function, so distinct ``n`` give distinct indices; SHA-256 keyed per list makes
    the order unpredictable without the key.
    """
    if size_log2 % 2 or not 0 <= n < (1 << size_log2):
        raise ValueError("n must lie in [0, 2**size_log2) and size_log2 must be even")
    half = size_log2 // 2
    mask = (1 << half) - 1
    left, right = n >> half, n & mask
    for round_ in range(_ROUNDS):
        digest = sha256_digest(key + bytes([round_]) + right.to_bytes(4, "big"))
        left, right = right, left ^ (int.from_bytes(digest[:4], "big") & mask)
    return (left << half) | right


def check_list_shape(size_log2: int, bits: int) -> None:
    """``invalid_request`` unless an issuer's lists can have ``2**size_log2`` entries (even,
    4 to 24) of ``bits`` each (2, 4 or 8: suspension needs two)."""
    if size_log2 % 2 or not 4 <= size_log2 <= 24:
        raise InputError("invalid_request", "size_log2 must be even, from 4 to 24")
    if bits not in (2, 4, 8):
        raise InputError("invalid_request", "lists hold 2, 4 or 8 bits (suspension needs 2)")


def next_list_number(last: str | None, *, allocated: int, capacity: int) -> str | None:
    """The number of the list to open for the next index, or None while the ``last`` list
    (None: the issuer has none yet) still has room; ``conflict`` past :data:`MAX_LISTS`."""
    if last is not None and allocated < capacity:
        return None
    number = 1 if last is None else int(last) + 1
    if number > MAX_LISTS:
        raise CivicError("conflict", "this authority has used up its status lists")
    return str(number)


def check_issued_vct(vct: object) -> str:
    """The ``vct`` an issued record keeps: 1-256 characters; ``invalid_request`` otherwise."""
    if not isinstance(vct, str) or not vct or len(vct) > 256:
        raise InputError("invalid_request", "vct must be 1-256 characters")
    return vct


def check_credential_id(credential_id: object) -> str:
    """An issued credential's id: 1-32 ASCII letters, digits, ``-`` or ``_``."""
    if (
        not isinstance(credential_id, str)
        or not 1 <= len(credential_id) <= 32
        or not all(c.isalnum() or c in "-_" for c in credential_id)
        or not credential_id.isascii()
    ):
        raise InputError("invalid_request", f"not a credential id: {credential_id!r}")
    return credential_id


def check_state(state: object) -> CredentialState:
    """A credential state by name; ``invalid_request`` otherwise."""
    if state not in STATE_VALUES:
        raise InputError("invalid_request", f"state must be one of {sorted(STATE_VALUES)}")
    return cast(CredentialState, state)


def state_changes(record: IssuedRecord, state: CredentialState) -> bool:
    """Whether moving ``record`` to ``state`` changes anything: False when it is there already;
    ``conflict`` out of ``revoked``, which is final (INVALID never turns back)."""
    if record.state == state:
        return False
    if record.state == "revoked":
        raise CivicError("conflict", f"credential {record.id} is revoked for good")
    return True
