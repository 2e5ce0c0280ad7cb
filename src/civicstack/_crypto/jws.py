"""Compact JWS (RFC 7515 §7.1) with an algorithm allowlist, and detached content (RFC 7515 App. F).

Safe by default:

* only ``ES256`` and ``EdDSA`` are accepted by default (``RS256`` when a caller passes it in
  ``algorithms``, as OpenID Connect does); ``none`` and every HMAC algorithm are refused, so a
  public key can never be used as an HMAC secret (RFC 8725 §2.1, §3.1);
* the header's ``alg`` must equal the verifying key's algorithm (RFC 8725 §3.1);
* a ``crit`` header is refused, since this implementation understands no extensions (§4.1.11);
* the header must be a JSON object without duplicate members (§5.2 step 4 lets us reject them);
* inputs are capped in size before any decoding.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from civicstack._crypto.encoding import b64url_decode, b64url_encode, json_dumps, json_object_strict
from civicstack._crypto.keys import ALGORITHMS, SUPPORTED_ALGORITHMS, PrivateKey, PublicKey
from civicstack.errors import InputError, VerificationError

MAX_JWS_BYTES = 128 * 1024
MAX_HEADER_BYTES = 4 * 1024
#: Distinct protected headers whose parse is remembered (each at most MAX_HEADER_BYTES).
HEADER_MEMO = 64


class CompactJWS(NamedTuple):
    """A parsed, not yet verified, compact JWS.

    An immutable NamedTuple rather than a frozen dataclass: a verifier parses two per
    presentation, and a tuple is built about three times faster.
    """

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        """The header's ``alg``."""
        return str(self.header["alg"])

    def verify(self, key: PublicKey, *, algorithms: tuple[str, ...] = ALGORITHMS) -> None:
        """Check the signature with ``key``; raise :class:`VerificationError` otherwise."""
        alg = self.header["alg"]
        if alg not in algorithms or alg not in SUPPORTED_ALGORITHMS:
            raise VerificationError("unsupported_algorithm", f"algorithm {alg!r} is not allowed")
        if alg != key.alg:
            raise VerificationError("unsupported_algorithm", f"{alg} does not fit a {key.alg} key")
        key.verify(self.signature, self.signing_input)

    def payload_json(self) -> dict[str, Any]:
        """The payload parsed as a strict JSON object."""
        return json_object_strict(self.payload)


_SCALARS = frozenset({str, int, bool, type(None)})


def _parse_header(segment: bytes) -> dict[str, Any]:
    if len(segment) > MAX_HEADER_BYTES:
        raise InputError("too_large", "JWS header too large")
    header, flat = _checked_header(segment)
    # Every caller gets a dict of its own: a copy of a flat header, a fresh parse of one with
    # objects or arrays inside (a jwk, an x5c chain), so no caller shares a mutable value.
    return dict(header) if flat else _checked_header.__wrapped__(segment)[0]


@lru_cache(maxsize=HEADER_MEMO)
def _checked_header(segment: bytes) -> tuple[dict[str, Any], bool]:
    # Remembered by its exact bytes: a verifier meets the same few headers again and again
    # (one per issuer key, one per KB-JWT algorithm). A pure function of the bytes, so the
    # memo changes no outcome; refusals raise and are not remembered.
    header = json_object_strict(b64url_decode(segment))
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InputError("malformed", "JWS header has no alg")
    if alg not in SUPPORTED_ALGORITHMS:
        raise VerificationError("unsupported_algorithm", f"algorithm {alg!r} is not allowed")
    if "crit" in header:
        raise VerificationError("unsupported", "JWS crit extensions are not supported")
    return header, _SCALARS.issuperset(map(type, header.values()))


def parse_compact(token: str | bytes, *, max_bytes: int = MAX_JWS_BYTES) -> CompactJWS:
    """Split and decode a compact JWS; the signature is not checked yet."""
    raw = token.encode("ascii", "replace") if isinstance(token, str) else token
    if len(raw) > max_bytes:
        raise InputError("too_large", f"JWS longer than {max_bytes} bytes")
    # Two dots, found rather than split: the signing input is then one slice, not a join.
    first = raw.find(b".")
    second = raw.find(b".", first + 1)
    if first < 0 or second < 0 or raw.find(b".", second + 1) >= 0:
        raise InputError("malformed", "a compact JWS has three parts")
    header = _parse_header(raw[:first])
    signing_input = raw[:second]
    payload = b64url_decode(signing_input[first + 1 :])
    return CompactJWS(header, payload, signing_input, b64url_decode(raw[second + 1 :]))


def sign_compact(key: PrivateKey, payload: bytes, header: dict[str, Any] | None = None) -> str:
    """Sign ``payload`` into a compact JWS; ``alg`` is set from the key."""
    hdr = {"alg": key.alg, **(header or {})}
    hdr["alg"] = key.alg
    signing_input = (b64url_encode(json_dumps(hdr)) + "." + b64url_encode(payload)).encode()
    return signing_input.decode() + "." + b64url_encode(key.sign(signing_input))


def sign_jwt(key: PrivateKey, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """Sign a JSON object (a JWT claims set or any JSON payload)."""
    return sign_compact(key, json_dumps(claims), header)


def verify_compact(
    token: str | bytes,
    key: PublicKey,
    *,
    typ: str | None = None,
    max_bytes: int = MAX_JWS_BYTES,
    algorithms: tuple[str, ...] = ALGORITHMS,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS whose payload is a JSON object; return ``(header, payload)``.

    When ``typ`` is given the header's ``typ`` must equal it (RFC 8725 §3.11 explicit typing).
    """
    jws = parse_compact(token, max_bytes=max_bytes)
    if typ is not None and jws.header.get("typ") != typ:
        raise VerificationError("invalid_request", f"expected typ {typ!r}")
    jws.verify(key, algorithms=algorithms)
    return jws.header, jws.payload_json()


def sign_detached(key: PrivateKey, content: bytes, header: dict[str, Any] | None = None) -> str:
    """A JWS over ``content`` with the payload left out: ``header..signature`` (RFC 7515 App. F)."""
    h, _, s = sign_compact(key, content, header).split(".")
    return f"{h}..{s}"


def verify_detached(
    jws: str, content: bytes, key: PublicKey, *, max_bytes: int = MAX_JWS_BYTES
) -> dict[str, Any]:
    """Verify a detached JWS over ``content``; return its protected header."""
    if len(jws) > max_bytes:
        raise InputError("too_large", "detached JWS too large")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise InputError("malformed", "a detached JWS has the form header..signature")
    h = parts[0].encode("ascii", "replace")
    header = _parse_header(h)
    parsed = CompactJWS(
        header, content, h + b"." + b64url_encode(content).encode(), b64url_decode(parts[2])
    )
    parsed.verify(key)
    return header
