"""Signing documents with the holder key (detached JWS) and checking such signatures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack._crypto import PrivateKey, sign_detached
from civicstack.errors import CivicError
from civicstack.wallet import DOCUMENT_TYP, sign_document, verify_document

ES = PrivateKey.generate("ES256")
ED = PrivateKey.generate("EdDSA")
NOW = 1_767_225_600
DOC = b"%PDF-1.7 tenancy agreement for 1 High Street"


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@pytest.mark.parametrize("key", [ES, ED], ids=["ES256", "EdDSA"])
def test_sign_and_verify(key: PrivateKey) -> None:
    """A document signature verifies with the public key and says who signed it and when."""
    made = sign_document(key, DOC, now=NOW)
    assert made.signature.split(".")[1] == ""  # the payload is detached
    checked = verify_document(made.signature, DOC, key.public_key)
    assert checked == made
    assert checked.kid == key.public_key.thumbprint()
    assert checked.signed_at == NOW
    assert verify_document(made.signature, DOC, key.public_key.to_jwk()) == made


def test_changed_document_fails() -> None:
    """A signature over one document does not verify another."""
    made = sign_document(ES, DOC, now=NOW)
    assert _code(lambda: verify_document(made.signature, DOC + b" ", ES.public_key)) == (
        "invalid_signature"
    )


def test_other_key_fails() -> None:
    """A signature does not verify under another key of the same or another algorithm."""
    made = sign_document(ES, DOC, now=NOW)
    other = PrivateKey.generate("ES256").public_key
    assert _code(lambda: verify_document(made.signature, DOC, other)) == "invalid_signature"
    assert _code(lambda: verify_document(made.signature, DOC, ED.public_key)) == (
        "unsupported_algorithm"
    )


def test_a_detached_jws_for_another_purpose_is_not_a_document_signature() -> None:
    """Explicit typing: a valid detached JWS without our typ is refused as malformed."""
    jws = sign_detached(ES, DOC, {"typ": "JOSE", "iat": NOW})
    assert _code(lambda: verify_document(jws, DOC, ES.public_key)) == "malformed"
    no_time = sign_detached(ES, DOC, {"typ": DOCUMENT_TYP})
    assert _code(lambda: verify_document(no_time, DOC, ES.public_key)) == "malformed"


@pytest.mark.parametrize(
    "signature", ["", "a.b.c", "..", "x" * 10_000, "eyJhbGciOiJub25lIn0..", 42]
)
def test_garbage_signatures(signature: object) -> None:
    """Garbage signatures fail with an input or verification code, never a traceback."""
    with pytest.raises(CivicError) as err:
        verify_document(signature, DOC, ES.public_key)
    assert err.value.code in ("malformed", "unsupported_algorithm", "invalid_signature")


def test_document_size_cap() -> None:
    """Documents larger than the cap are refused with too_large."""
    big = b"\0" * (64 * 1024 * 1024 + 1)
    assert _code(lambda: sign_document(ES, big, now=NOW)) == "too_large"


@settings(max_examples=40)
@given(st.binary(min_size=1, max_size=512), st.data())
def test_any_changed_byte_is_caught(content: bytes, data: st.DataObject) -> None:
    """Any document round-trips, and changing any one byte of it breaks the signature."""
    made = sign_document(ED, content, now=NOW)
    assert verify_document(made.signature, content, ED.public_key).digest == made.digest
    i = data.draw(st.integers(0, len(content) - 1))
    changed = bytearray(content)
    changed[i] ^= 1 + data.draw(st.integers(0, 254))
    assert _code(lambda: verify_document(made.signature, bytes(changed), ED.public_key)) == (
        "invalid_signature"
    )
