"""Compact and detached JWS: the allowlist, alg/key agreement, strict decoding, size caps."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack._crypto import (
    PrivateKey,
    b64url_decode,
    b64url_encode,
    json_dumps,
    json_loads_strict,
    parse_compact,
    sign_detached,
    sign_jwt,
    verify_compact,
    verify_detached,
)
from civicstack._crypto.encoding import b64url_decode_stdlib
from civicstack.errors import CivicError

ES = PrivateKey.generate("ES256")
ED = PrivateKey.generate("EdDSA")


def _forge(header: dict[str, object], payload: dict[str, object], sig: bytes = b"") -> str:
    return ".".join(
        [b64url_encode(json_dumps(header)), b64url_encode(json_dumps(payload)), b64url_encode(sig)]
    )


def _code(token: str, key: PrivateKey = ES, typ: str | None = None) -> str:
    with pytest.raises(CivicError) as err:
        verify_compact(token, key.public_key, typ=typ)
    return err.value.code


@pytest.mark.parametrize("key", [ES, ED], ids=["ES256", "EdDSA"])
def test_sign_verify(key: PrivateKey) -> None:
    """A signed JWT verifies and returns its header and claims."""
    token = sign_jwt(key, {"sub": "alice"}, {"typ": "example+jwt"})
    header, claims = verify_compact(token, key.public_key, typ="example+jwt")
    assert header == {"alg": key.alg, "typ": "example+jwt"}
    assert claims == {"sub": "alice"}


def test_alg_none_refused() -> None:
    """alg=none never verifies, whatever the signature part holds."""
    assert _code(_forge({"alg": "none"}, {"sub": "x"})) == "unsupported_algorithm"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "RS256", "ES384", "PS256", "ES256K"])
def test_other_algorithms_refused(alg: str) -> None:
    """HMAC (the key-confusion attack) and every algorithm off the allowlist are refused."""
    assert _code(_forge({"alg": alg}, {"sub": "x"}, b"\x00" * 64)) == "unsupported_algorithm"


def test_alg_must_match_key() -> None:
    """An EdDSA token is not checked against a P-256 key."""
    token = sign_jwt(ED, {"sub": "x"})
    assert _code(token, ES) == "unsupported_algorithm"


def test_crit_refused() -> None:
    """Unknown critical extensions make the token invalid (RFC 7515 §4.1.11)."""
    token = sign_jwt(ES, {"a": 1}, {"crit": ["exp"], "exp": 1})
    assert _code(token) == "unsupported"


def test_wrong_typ() -> None:
    """Explicit typing: a token of another type is refused."""
    token = sign_jwt(ES, {"a": 1}, {"typ": "a+jwt"})
    assert _code(token, typ="b+jwt") == "invalid_request"


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!!.e30.AA", "e30.e30.AA", "eyJhbGciOiJFUzI1NiJ9.e30=.AA"],
)
def test_malformed(token: str) -> None:
    """Wrong part counts, non-base64url and headers without alg are malformed."""
    assert _code(token) == "malformed"


def test_size_cap() -> None:
    """An oversize token is refused before decoding."""
    assert _code("a" * 200_000 + ".b.c") == "too_large"


def test_duplicate_header_member() -> None:
    """A header with a duplicate member name is refused."""
    h = b64url_encode(b'{"alg":"ES256","alg":"ES256"}')
    assert _code(f"{h}.e30.AA") == "malformed"


@given(st.data())
def test_any_tampered_byte_is_rejected(data: st.DataObject) -> None:
    """Changing any one character of a signed token makes verification fail."""
    token = sign_jwt(ED, {"sub": "alice", "n": 1})
    i = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    c = data.draw(st.sampled_from(alphabet).filter(lambda ch: ch != token[i]))
    with pytest.raises(CivicError):
        verify_compact(token[:i] + c + token[i + 1 :], ED.public_key)


def test_detached_round_trip() -> None:
    """A detached JWS verifies over the content and fails over any other content."""
    doc = b"%PDF-1.7 tenancy agreement"
    jws = sign_detached(ES, doc, {"typ": "civic-document+jws"})
    assert jws.count(".") == 2
    assert ".." in jws
    assert verify_detached(jws, doc, ES.public_key)["typ"] == "civic-document+jws"
    with pytest.raises(CivicError) as err:
        verify_detached(jws, doc + b" ", ES.public_key)
    assert err.value.code == "invalid_signature"


#: The decoder the code uses (pybase64) and the standard library's, behind the same checks.
DECODERS = pytest.mark.parametrize(
    "decode", [b64url_decode, b64url_decode_stdlib], ids=["pybase64", "stdlib"]
)
_STRICT_REFUSALS = [
    *("QQ=", "QR", "QQ==", "Q", "Q Q", "QQ\n", "+/", "QQ\x00", "Qé"),
    # Padding of every length and place, on inputs of every length mod 4.
    *("QUJD====", "QUJD=", "QUI=", "QUI==", "=QUJ", "QU=J", "QUJD=QUJD", "QQ=A", "===="),
    # The standard alphabet's own characters, where base64url has - and _.
    *("QUJ+", "QUJ/", "+QUJ", "/QUJ", "QU+/", "++++", "////"),
    # Non-canonical trailing bits with a length 2 and 3 mod 4; padded canonical forms.
    *("QR", "QUK", "AB", "AAB", "AB==", "AAB="),
    # Whitespace, separators and characters outside any base64 alphabet.
    *("QUJ\tD", " QUJD", "QUJD ", "QUJD\r\n", "QU.J", "QU~J", "QU!J", "QU*J", "QU%J"),
    # Non-ASCII, as text and as bytes.
    *("QUJ\u00ff", "QUJ\u2013", "\U0001f600QUJ"),
]


@DECODERS
@pytest.mark.parametrize("text", _STRICT_REFUSALS)
def test_b64url_strict(decode: Callable[[str | bytes], bytes], text: str) -> None:
    """Padding, non-canonical trailing bits, whitespace, +/ and non-ASCII text are refused,
    as text and as bytes, with the one code ``malformed``."""
    for value in (text, text.encode("utf-8")):
        with pytest.raises(CivicError) as err:
            decode(value)
        assert err.value.code == "malformed"


@DECODERS
@given(st.binary(max_size=64))
def test_b64url_round_trip(decode: Callable[[str | bytes], bytes], data: bytes) -> None:
    """Every byte string round-trips through base64url."""
    assert decode(b64url_encode(data)) == data


@given(st.binary(max_size=64), st.data())
def test_b64url_decoders_agree(data: bytes, draw: st.DataObject) -> None:
    """Both decoders accept and refuse the same strings: any encoding with one character
    replaced, inserted or removed, over every byte value."""
    encoded = b64url_encode(data).encode()
    i = draw.draw(st.integers(0, len(encoded)))
    byte = bytes([draw.draw(st.integers(0, 255))])
    edit = draw.draw(st.sampled_from(["replace", "insert", "remove"]))
    text = encoded[:i] + (b"" if edit == "remove" else byte) + encoded[i + (edit != "insert") :]
    outcomes: list[bytes | str] = []
    for decode in (b64url_decode, b64url_decode_stdlib):
        try:
            outcomes.append(decode(text))
        except CivicError as exc:
            outcomes.append(exc.code)
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    "text",
    ['{"a":1,"a":2}', '{"b":{"a":1,"a":1}}', "NaN", '{"a":Infinity}', '{"a":1} x', " {}", "\xff"],
)
def test_strict_json(text: str) -> None:
    """Duplicate members, non-finite numbers and trailing data are refused."""
    with pytest.raises(CivicError) as err:
        json_loads_strict(text.encode("latin-1"))
    assert err.value.code == "malformed"


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON, st.sampled_from([{}, {"separators": (",", ":")}, {"ensure_ascii": False}]))
def test_strict_json_reads_what_the_standard_library_reads(value: object, dumps: dict) -> None:
    """Compact (the fast path) or not, strict parsing gives what the json module gives."""
    text = json.dumps(value, **dumps)
    assert json_loads_strict(text.encode()) == json.loads(text)
    assert json_loads_strict(text) == json.loads(text)


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@DECODERS
@given(st.text(alphabet=_B64URL, max_size=12))
def test_b64url_accepts_exactly_the_canonical_encodings(
    decode: Callable[[str | bytes], bytes], text: str
) -> None:
    """A string over the alphabet decodes if and only if it is the encoding of what it decodes
    to: a length of 1 mod 4 or unused bits set in the last character are refused."""
    try:
        data = decode(text)
    except CivicError:
        # The standard library's lenient decoder says what the bytes would have been.
        lenient = (
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) if len(text) % 4 != 1 else None
        )
        assert lenient is None or b64url_encode(lenient) != text
    else:
        assert b64url_encode(data) == text
        assert decode(text.encode()) == data


def test_header_parse_hands_out_a_fresh_dict_each_time() -> None:
    """The remembered header parse never lets one caller's change reach another's header,
    nested members included."""
    token = sign_jwt(ES, {"a": 1}, {"typ": "x+jwt"})
    first = parse_compact(token)
    first.header["typ"] = "changed"
    assert parse_compact(token).header == {"alg": "ES256", "typ": "x+jwt"}
    nested = sign_jwt(ES, {"a": 1}, {"jwk": ES.public_key.to_jwk()})
    parse_compact(nested).header["jwk"]["x"] = "changed"
    assert parse_compact(nested).header["jwk"] == ES.public_key.to_jwk()


def test_a_refused_header_stays_refused() -> None:
    """Refusals are not remembered as anything else: the same bad header fails every time."""
    token = _forge({"alg": "none"}, {"a": 1})
    for _ in range(3):
        assert _code(token) == "unsupported_algorithm"
