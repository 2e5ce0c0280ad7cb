"""Strict base64url (RFC 4648 §5, no padding, as RFC 7515 §2 requires) and strict JSON.

Strictness matters for signatures: a lenient decoder lets two different strings decode to the
same bytes (padding, stray characters, non-zero trailing bits), so a tampered token could still
verify. Here every accepted string has exactly one encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

import orjson
import pybase64

from civicstack.errors import InputError

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_TO_URL = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
# Last characters that would set unused low bits (RFC 4648 §3.5), by input length modulo 4:
# the low 4 bits of the last character's value when 2 characters end the input, the low 2 when
# 3 do. Such a string decodes to the same bytes as the canonical one, so it is refused.
_NON_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x0F),
    frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x03),
)


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    # binascii directly: base64.urlsafe_b64encode adds two Python layers on a hot path.
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=").decode("ascii")


def _b64url_decoder(
    decode_standard: Callable[[bytes, None, bool], bytes],
) -> Callable[[str | bytes], bytes]:
    """A strict base64url decoder around ``decode_standard``, ``base64.b64decode``'s signature:
    called with ``validate=True`` it decodes padded standard base64 (RFC 4648 §4) and refuses
    every character outside that alphabet.

    The checks that make an encoding canonical are made here, the same whichever decoder
    does the work: a length of 1 mod 4 and unused trailing bits are refused before decoding,
    and the standard alphabet's own ``+``, ``/`` and ``=`` (not base64url) become ``!``, which
    ``decode_standard`` refuses like every other stray character (whitespace included). The
    padding it needs is added here, so padding in the input is refused too.
    """

    def b64url_decode(text: str | bytes) -> bytes:
        """Decode unpadded base64url, rejecting anything but the one canonical encoding."""
        # Verification decodes nine of these per presentation: every check is one C call.
        if isinstance(text, str):
            if not text.isascii():
                raise InputError("malformed", "not base64url")
            raw = text.encode("ascii")
        else:
            raw = text
        rem = len(raw) & 3
        if rem:
            if rem == 1:
                raise InputError("malformed", "not base64url")
            # Non-zero unused bits in the last character would give a second encoding of the
            # same bytes.
            if raw[-1] in _NON_CANONICAL_LAST[rem]:
                raise InputError("malformed", "non-canonical base64url")
            raw = raw.translate(_TO_STANDARD) + _PADDING[rem]
        else:
            raw = raw.translate(_TO_STANDARD)
        try:
            return decode_standard(raw, None, True)
        except binascii.Error:
            raise InputError("malformed", "not base64url") from None

    return b64url_decode


#: Decodes with pybase64 (SIMD: about 4x CPython's binascii on a credential's payload).
b64url_decode = _b64url_decoder(pybase64.b64decode)
#: The same checks over the standard library's decoder (pybase64's is a drop-in for it): the
#: reference the tests hold the fast one to.
b64url_decode_stdlib = _b64url_decoder(base64.b64decode)


def json_dumps(value: Any) -> bytes:
    """Compact JSON (UTF-8, no spaces), the form this project signs."""
    return orjson.dumps(value)


def json_canonical(value: Any) -> bytes:
    """JSON with sorted keys and no whitespace (RFC 8785 subset for strings, ints and objects)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise InputError("malformed", "duplicate member name in JSON object")
    return obj


def _reject_constant(name: str) -> Any:
    raise InputError("malformed", f"JSON constant {name} is not allowed")


_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def json_loads_strict(data: bytes | str) -> Any:
    """Parse JSON rejecting duplicate member names (RFC 7515 §5.2 lets us), NaN and bad UTF-8."""
    # Fast path: orjson refuses NaN, bad UTF-8 and lone surrogates but keeps the last of two
    # duplicate members. When writing the result back gives the very input, nothing was
    # dropped (no duplicate), nothing was rounded and nothing surrounds the value, so it is
    # exactly what the strict parser below returns; anything else (whitespace, escapes, big
    # numbers, a duplicate) goes the strict way, which decides. The JSON this project signs
    # is orjson's own and takes the fast path.
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    else:
        if orjson.dumps(value) == (data if isinstance(data, bytes) else data.encode()):
            return value
    try:
        text = data.decode("utf-8", "strict") if isinstance(data, bytes) else data
        value, end = _STRICT.raw_decode(text)
    except InputError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError("malformed", "not valid JSON") from exc
    if text[end:].strip(" \t\r\n"):
        raise InputError("malformed", "trailing data after JSON")
    if text[:1] in (" ", "\t", "\r", "\n"):
        # raw_decode does not skip leading whitespace; json.loads would. Keep one behaviour.
        raise InputError("malformed", "leading whitespace before JSON")
    return value


def json_object_strict(data: bytes | str) -> dict[str, Any]:
    """Parse a JSON object strictly (see :func:`json_loads_strict`)."""
    value = json_loads_strict(data)
    if not isinstance(value, dict):
        raise InputError("malformed", "expected a JSON object")
    return value
