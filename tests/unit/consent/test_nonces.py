"""Nonces handed out without storage: made and checked with the key, bound to the audience,
fresh until they expire, and any change refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack.consent.nonces import NONCE_LENGTH, check_nonce, make_nonce
from civicstack.errors import CivicError

KEY = bytes(range(32))
AUD = "https://platform.example/consents"
NOW = 1_800_000_000


def _code(nonce: str, *, key: bytes = KEY, aud: str = AUD, now: int = NOW) -> str:
    with pytest.raises(CivicError) as err:
        check_nonce(key, nonce, aud, now=now)
    return err.value.code


def test_a_nonce_checks_for_its_audience_until_it_expires() -> None:
    """A nonce checks with its key and audience, gives back its expiry, and is stale from
    then on; another key or audience does not know it."""
    nonce = make_nonce(KEY, AUD, expires_at=NOW + 300, salt=bytes(12))
    assert len(nonce) == NONCE_LENGTH
    assert check_nonce(KEY, nonce, AUD, now=NOW + 299) == NOW + 300
    assert _code(nonce, now=NOW + 300) == "stale_nonce"
    assert _code(nonce, key=bytes(32)) == "unknown_nonce"
    assert _code(nonce, aud="https://platform.example/changes") == "unknown_nonce"


@given(st.integers(min_value=0, max_value=NONCE_LENGTH - 1), st.sampled_from("AQgw_-"))
def test_a_changed_character_is_refused(position: int, replacement: str) -> None:
    """Any character changed (a later expiry included) makes the nonce unknown."""
    nonce = make_nonce(KEY, AUD, expires_at=NOW + 300, salt=b"\x07" * 12)
    changed = nonce[:position] + replacement + nonce[position + 1 :]
    if changed != nonce:
        assert _code(changed) == "unknown_nonce"


@pytest.mark.parametrize("bad", ["", "x", "*" * NONCE_LENGTH, "A" * (NONCE_LENGTH + 1)])
def test_malformed_nonces_are_unknown(bad: str) -> None:
    """Wrong lengths and characters are unknown nonces, not crashes."""
    assert _code(bad) == "unknown_nonce"
