"""Token Status List: bit packing, hostile lists and tokens, the caching StatusListClient."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack import credentials as cred
from civicstack._crypto import PrivateKey, b64url_encode, json_dumps, sign_compact
from civicstack.errors import CivicError, VerificationError
from civicstack.status import (
    INVALID,
    MEDIA_TYPE,
    SUSPENDED,
    VALID,
    Limits,
    StatusList,
    StatusListClient,
    sign_status_list_token,
    status_reference,
    verify_status_list_token,
)
from civicstack.testing import FixedClock, InMemoryFetcher

KEY = PrivateKey.generate("ES256")
ISS = "https://home-office.example.gov"
URI = "https://home-office.example.gov/status/1"
NOW = 1_767_225_600


def _code(fn: Any) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_each_entry_is_independent(bits: int) -> None:
    """Setting one entry changes that entry only, at every bit width."""
    status_list = StatusList(64, bits)
    top = (1 << bits) - 1
    status_list[5] = top
    status_list[6] = 1
    assert [status_list[i] for i in range(4, 8)] == [0, top, 1, 0]
    status_list[5] = 0
    assert status_list[5] == 0
    assert status_list[6] == 1


def test_bits_are_least_significant_first() -> None:
    """Entry 0 of a 1-bit list is bit 0 (0x01) of byte 0; entry 1 of a 2-bit list is bits 2-3."""
    one = StatusList(8, 1)
    one[0] = 1
    assert one.to_bytes() == b"\x01"
    two = StatusList(4, 2)
    two[1] = SUSPENDED
    assert two.to_bytes() == b"\x08"


def test_out_of_range_is_refused() -> None:
    """Indices outside the list and values wider than the bits are programming errors."""
    status_list = StatusList(16, 2)
    with pytest.raises(IndexError):
        status_list[16]
    with pytest.raises(IndexError):
        status_list[-1]
    with pytest.raises(ValueError, match="cannot hold"):
        status_list[0] = 4
    with pytest.raises(ValueError, match="bits"):
        StatusList(8, 3)


@given(
    bits=st.sampled_from([1, 2, 4, 8]),
    values=st.lists(st.integers(min_value=0, max_value=255), min_size=1, max_size=300),
)
def test_encode_decode_round_trip(bits: int, values: list[int]) -> None:
    """Any list encodes to lst and decodes back to the same entries."""
    status_list = StatusList(len(values), bits)
    for i, value in enumerate(values):
        status_list[i] = value % (1 << bits)
    decoded = StatusList.decode(status_list.encode())
    assert [decoded[i] for i in range(len(values))] == [v % (1 << bits) for v in values]


@pytest.mark.parametrize(
    ("obj", "code"),
    [
        ("x", "invalid_status_list"),
        ({"bits": 3, "lst": "eNrbuRgAAhcBXQ"}, "invalid_status_list"),
        ({"bits": True, "lst": "eNrbuRgAAhcBXQ"}, "invalid_status_list"),
        ({"bits": 1, "lst": 7}, "invalid_status_list"),
        ({"bits": 1, "lst": "not base64!"}, "invalid_status_list"),
        ({"bits": 1, "lst": b64url_encode(b"plain bytes")}, "invalid_status_list"),
        (
            {"bits": 1, "lst": b64url_encode(zlib.compress(b"\x01" * 64)[:-3])},
            "invalid_status_list",
        ),
        (
            {"bits": 1, "lst": b64url_encode(zlib.compress(b"\x01") + b"tail")},
            "invalid_status_list",
        ),
        ({"bits": 1, "lst": b64url_encode(zlib.compress(b""))}, "invalid_status_list"),
    ],
)
def test_hostile_lists_are_refused(obj: object, code: str) -> None:
    """Bad bits, bad base64url, non-ZLIB, truncated or trailing data, empty lists."""
    assert _code(lambda: StatusList.decode(obj)) == code


def test_inflation_is_capped() -> None:
    """A small lst that inflates past the cap is too_large, without inflating it all."""
    bomb = {"bits": 1, "lst": b64url_encode(zlib.compress(bytes(50_000_000), 9))}
    assert len(bomb["lst"]) < 100_000
    assert (
        _code(lambda: StatusList.decode(bomb, limits=Limits(list_bytes=1_000_000))) == "too_large"
    )


def _token(status_list: StatusList, **kw: Any) -> str:
    args: dict[str, Any] = {"uri": URI, "iat": NOW, "exp": NOW + 3600, "ttl": 600, "iss": ISS}
    args.update(kw)
    return sign_status_list_token(KEY, status_list, **args)


def test_token_round_trip() -> None:
    """A signed Status List Token verifies and returns its claims and list."""
    status_list = StatusList(32, 2)
    status_list[3] = INVALID
    token = verify_status_list_token(_token(status_list, kid="k"), KEY.public_key, uri=URI, now=NOW)
    assert (token.uri, token.iat, token.exp, token.ttl, token.iss) == (
        URI,
        NOW,
        NOW + 3600,
        600,
        ISS,
    )
    assert token.status_list[3] == INVALID


def _forged(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return sign_compact(KEY, json_dumps(claims), header)


def _claims(**kw: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": URI, "iat": NOW, "status_list": StatusList(8).encode()}
    claims.update(kw)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (_forged({"typ": "JWT"}, _claims()), "invalid_status_list"),
        (
            _forged({"typ": "statuslist+jwt"}, _claims(sub="https://elsewhere/1")),
            "invalid_status_list",
        ),
        (_forged({"typ": "statuslist+jwt"}, _claims(iat=None)), "invalid_status_list"),
        (_forged({"typ": "statuslist+jwt"}, _claims(iat="now")), "invalid_status_list"),
        (_forged({"typ": "statuslist+jwt"}, _claims(iat=NOW + 3600)), "invalid_status_list"),
        (_forged({"typ": "statuslist+jwt"}, _claims(exp=NOW)), "invalid_status_list"),
        (_forged({"typ": "statuslist+jwt"}, _claims(ttl=0)), "invalid_status_list"),
        (_forged({"typ": "statuslist+jwt"}, _claims(iss="https://other")), "invalid_status_list"),
        (_forged({"typ": "statuslist+jwt"}, _claims(status_list=None)), "invalid_status_list"),
        ("a.b.c", "invalid_status_list"),
        ("x" * 3_000_000, "too_large"),
    ],
)
def test_bad_tokens_are_refused(token: str, code: str) -> None:
    """typ, sub, iat, exp, ttl, iss, the list itself and the size are all checked."""
    verify = lambda: verify_status_list_token(token, KEY.public_key, uri=URI, now=NOW, iss=ISS)  # noqa: E731
    assert _code(verify) == code


def test_lowered_limits_are_refused_with_the_same_codes() -> None:
    """A token the defaults accept is too_large under a lowered token or list cap, and an iat
    10 s ahead is invalid_status_list under a lowered skew, as past the default caps."""
    token = _token(StatusList(64, 2), iat=NOW + 10)
    verify = lambda limits: verify_status_list_token(  # noqa: E731
        token, KEY.public_key, uri=URI, now=NOW, limits=limits
    )
    assert verify(Limits()).iat == NOW + 10
    assert _code(lambda: verify(Limits(token_bytes=len(token) - 1))) == "too_large"
    assert _code(lambda: verify(Limits(list_bytes=8))) == "too_large"
    assert _code(lambda: verify(Limits(skew=5))) == "invalid_status_list"


def test_token_signed_by_another_key_is_refused() -> None:
    """Only the issuer's key may sign its status list."""
    other = PrivateKey.generate("ES256")
    token = _token(StatusList(8))
    assert _code(lambda: verify_status_list_token(token, other.public_key, uri=URI, now=NOW)) == (
        "invalid_status_list"
    )


class _Trust:
    def __init__(self) -> None:
        self.kids: list[str | None] = []

    def issuer_key(self, iss: str, kid: str | None, now: int) -> Any:
        self.kids.append(kid)
        if iss != ISS:
            raise VerificationError("untrusted_issuer")
        return KEY.public_key

    def check_scope(self, iss: str, vct: str | None, claim_names: Any, now: int) -> None:
        return None


def _client(fetcher: InMemoryFetcher, clock: FixedClock, **limits: Any) -> StatusListClient:
    return StatusListClient(fetcher, clock=clock, limits=Limits(**limits))


def test_client_reads_valid_revoked_suspended_and_unknown() -> None:
    """Each status value maps to its outcome; the request asks for statuslist+jwt."""
    status_list = StatusList(8, 2)
    status_list[1], status_list[2], status_list[3] = INVALID, SUSPENDED, 3
    fetcher = InMemoryFetcher({URI: _token(status_list, kid="s1")})
    clock = FixedClock(NOW)
    client, trust = _client(fetcher, clock), _Trust()
    client.check(status_reference(URI, 0), ISS, trust, NOW)
    outcomes = {}
    for idx in (1, 2, 3, 8):
        outcomes[idx] = _code(
            lambda idx=idx: client.check(status_reference(URI, idx), ISS, trust, NOW)
        )
    assert outcomes == {1: "revoked", 2: "suspended", 3: "unknown_status", 8: "invalid_status_list"}
    assert fetcher.requests == [(URI, MEDIA_TYPE)]
    assert trust.kids == ["s1"]
    assert status_list[0] == VALID


def test_client_caches_for_ttl_then_refetches() -> None:
    """Within ttl the cached token answers; after it, a fresh one is fetched."""
    status_list = StatusList(8)
    fetcher = InMemoryFetcher({URI: _token(status_list, ttl=120)})
    clock = FixedClock(NOW)
    client = _client(fetcher, clock)
    client.check(status_reference(URI, 0), ISS, _Trust(), NOW)
    status_list[0] = INVALID
    fetcher.documents[URI] = _token(status_list, ttl=120)
    clock.advance(119)
    client.check(status_reference(URI, 0), ISS, _Trust(), clock.now())
    assert len(fetcher.requests) == 1
    clock.advance(1)
    assert (
        _code(lambda: client.check(status_reference(URI, 0), ISS, _Trust(), clock.now()))
        == "revoked"
    )
    assert len(fetcher.requests) == 2


def test_cache_never_outlives_exp_and_clamps_ttl() -> None:
    """exp shortens the cache; a huge ttl is clamped to max_ttl; a tiny one to min_ttl."""
    clock = FixedClock(NOW)
    fetcher = InMemoryFetcher({URI: _token(StatusList(8), ttl=10**9, exp=NOW + 50)})
    client = _client(fetcher, clock, max_ttl=3600)
    client.check(status_reference(URI, 0), ISS, _Trust(), NOW)
    clock.advance(50)
    fetcher.documents[URI] = _token(StatusList(8), ttl=10**9, exp=NOW + 10**6)
    client.check(status_reference(URI, 0), ISS, _Trust(), clock.now())
    assert len(fetcher.requests) == 2
    clock.advance(3600)
    client.check(status_reference(URI, 0), ISS, _Trust(), clock.now())
    assert len(fetcher.requests) == 3  # max_ttl 3600 clamps the 10^9 s ttl
    tiny = InMemoryFetcher({URI: _token(StatusList(8), ttl=1, exp=NOW + 10**6)})
    small = _client(tiny, clock, min_ttl=30)
    for _ in range(3):
        small.check(status_reference(URI, 0), ISS, _Trust(), clock.now())
        clock.advance(10)
    assert len(tiny.requests) == 1


def test_client_failures_have_their_codes() -> None:
    """Unreachable lists, bad references and unknown mechanisms are distinguished."""
    client = _client(InMemoryFetcher(), FixedClock(NOW))
    check = lambda status: client.check(status, ISS, _Trust(), NOW)  # noqa: E731
    assert _code(lambda: check(status_reference(URI, 0))) == "status_unavailable"
    assert _code(lambda: check({"other_mechanism": {}})) == "status_unavailable"
    assert _code(lambda: check({"status_list": {"idx": -1, "uri": URI}})) == "invalid_credential"
    assert _code(lambda: check({"status_list": {"idx": True, "uri": URI}})) == "invalid_credential"
    assert _code(lambda: check({"status_list": {"idx": 0}})) == "invalid_credential"


def test_cache_is_per_issuer_and_bounded() -> None:
    """A token verified for one issuer is not reused for another; old entries are evicted."""
    uris = [f"{URI}-{i}" for i in range(4)]
    fetcher = InMemoryFetcher({u: _token(StatusList(8), uri=u) for u in uris})
    client = _client(fetcher, FixedClock(NOW), cache_entries=2)
    for uri in uris:
        client.check(status_reference(uri, 0), ISS, _Trust(), NOW)
    client.check(status_reference(uris[0], 0), ISS, _Trust(), NOW)
    assert len(fetcher.requests) == 5
    foreign = lambda: client.check(status_reference(uris[3], 0), "https://x", _Trust(), NOW)  # noqa: E731
    assert _code(foreign) == "invalid_status_list"


def test_revocation_end_to_end() -> None:
    """Issued with a status reference, a credential verifies, then is refused once revoked."""
    holder = PrivateKey.generate("EdDSA")
    status_list = StatusList(1024)
    sd = cred.issue_credential(
        KEY, iss=ISS, vct="urn:civicstack:right-to-work:1", claims={"right_to_work": True},
        holder=holder.public_key, status=status_reference(URI, 42), iat=NOW,
    )  # fmt: skip
    p = cred.present_credential(
        sd, disclose=["right_to_work"], holder=holder, aud="e", nonce="n", now=NOW
    )
    fetcher = InMemoryFetcher({URI: _token(status_list)})
    clock = FixedClock(NOW)
    verify = lambda: cred.verify_presentation(  # noqa: E731
        p, trust=cred.StaticIssuer(KEY.public_key), aud="e", nonce="n", now=clock.now(),
        status=_client(fetcher, clock),
    )  # fmt: skip
    assert verify().claims == {"right_to_work": True}
    status_list[42] = INVALID
    fetcher.documents[URI] = _token(status_list)
    assert _code(verify) == "revoked"
