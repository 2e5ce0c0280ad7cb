"""Status lists, index allocation and the issued-credential index, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack._crypto import PrivateKey
from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.credentials import inspect, present_credential
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.status import INVALID, SUSPENDED, VALID, permute, verify_status_list_token
from civicstack.stores.status_lists import StatusListStore, issued_credentials_table
from civicstack.testing import FixedClock, InMemoryFetcher
from tests.unit.stores.conftest import BASE, build_world, make_platform

PID_CLAIMS = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "issuing_country": "GB",
    "address": {"street_address": "2 Park Row", "locality": "Leeds"},
}
RTW_CLAIMS = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "right_to_work": True,
    "share_code": "W4X9KL2PQ",
}


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@pytest.fixture
def world(platform: Platform) -> Platform:
    """The platform with a root, two accredited offices and a registered shop."""
    build_world(platform)
    return platform


def test_permutation_is_a_bijection() -> None:
    """Every counter value of a list maps to a distinct index inside it, not in order."""
    key = bytes(32)
    for size_log2 in (4, 10):
        indices = [permute(n, key, size_log2) for n in range(1 << size_log2)]
        assert sorted(indices) == list(range(1 << size_log2))
        assert indices != sorted(indices)
    with pytest.raises(ValueError, match="even"):
        permute(16, key, 4)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(0, (1 << 16) - 2))
def test_permutation_never_collides(key: bytes, n: int) -> None:
    """Two different counter values never share an index, whatever the key."""
    assert permute(n, key, 16) != permute(n + 1, key, 16)


def test_issue_allocates_and_records_without_claims(world: Platform, clock: FixedClock) -> None:
    """An issued credential carries a status reference into its issuer's list; the index
    records who and what, never a claim value."""
    holder = PrivateKey.generate()
    issued = world.authorities.issue(
        "passport-office", vct=PID_VCT, claims=PID_CLAIMS, holder=holder.public_key
    )
    held = inspect(issued.credential)
    uri = f"{BASE}/issuers/passport-office/status/1"
    assert held.status == {"status_list": {"idx": issued.record.idx, "uri": uri}}
    assert held.claims["age_over_18"] is True
    assert held.claims["age_over_65"] is False
    assert held.claims["issuing_authority"] == "HMPO"
    assert "address.locality" in held.disclosable
    record = world.authorities.credential(issued.record.id)
    assert record == issued.record
    assert record.holder_thumbprint == holder.public_key.thumbprint()
    assert (record.iat, record.exp) == (clock.t, clock.t + 365 * 86_400)
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(issued_credentials_table)).one()
    stored = repr(tuple(row))
    for value in ("Amara", "Okafor", "1990-05-17", "Park Row", "Leeds"):
        assert value not in stored


def test_issuance_refusals(world: Platform) -> None:
    """The platform never issues what a verifier would refuse, nor from a relying party."""
    a = world.authorities
    holder = PrivateKey.generate().public_key
    a.create("dvla", "DVLA")  # created, never accredited
    cases = {
        "untrusted_issuer": lambda: a.issue("dvla", vct=PID_VCT, claims=PID_CLAIMS, holder=holder),
        "out_of_scope": lambda: a.issue(
            "home-office", vct=PID_VCT, claims=PID_CLAIMS, holder=holder
        ),
        "invalid_request": lambda: a.issue("shop", vct=PID_VCT, claims=PID_CLAIMS, holder=holder),
        "unknown_authority": lambda: a.issue(
            "nobody", vct=PID_VCT, claims=PID_CLAIMS, holder=holder
        ),
        "invalid_credential": lambda: a.issue(
            "passport-office", vct=PID_VCT, claims={"given_name": "A"}, holder=holder
        ),
    }
    for code, call in cases.items():
        assert _code(call) == code, code
    not_json = {**PID_CLAIMS, "nationalities": {"GB"}}
    assert (
        _code(lambda: a.issue("passport-office", vct=PID_VCT, claims=not_json, holder=holder))
        == "invalid_request"
    )
    contradiction = {**PID_CLAIMS, "age_over_18": False}
    assert (
        _code(lambda: a.issue("passport-office", vct=PID_VCT, claims=contradiction, holder=holder))
        == "invalid_request"
    )
    assert (
        _code(
            lambda: a.issue(
                "passport-office", vct=PID_VCT, claims=PID_CLAIMS, holder=holder, valid_days=0
            )
        )
        == "invalid_request"
    )
    assert world.authorities.credentials() == ()


def test_concurrent_issuance_gets_distinct_indices(world: Platform) -> None:
    """Issuers racing on one authority from many connections never share an index."""
    holder = PrivateKey.generate().public_key

    def one(_: int) -> tuple[str, int]:
        issued = world.authorities.issue(
            "home-office", vct=RIGHT_TO_WORK_VCT, claims=RTW_CLAIMS, holder=holder
        )
        return issued.record.list_id, issued.record.idx

    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(one, range(30)))
    assert len(set(got)) == 30
    assert len(world.authorities.credentials("home-office")) == 30


def test_concurrent_allocation_across_platforms_rolls_over(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Two processes' worth of allocators share 16-entry lists: every index is handed out
    once, and a full list opens the next."""
    one = make_platform(database_url, tmp_path, clock)
    two = make_platform(database_url, tmp_path, clock)
    build_world(one)
    stores = [StatusListStore(p.engine, size_log2=4) for p in (one, two)]

    def allocate(i: int) -> tuple[str, int]:
        return stores[i % 2].allocate("home-office", now=clock.t)

    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(allocate, range(40)))
    assert len(set(got)) == 40
    by_list: dict[str, set[int]] = {}
    for list_id, idx in got:
        by_list.setdefault(list_id, set()).add(idx)
    assert by_list["1"] == set(range(16))
    assert by_list["2"] == set(range(16))
    assert len(by_list["3"]) == 8
    assert by_list["3"] <= set(range(16))
    assert one.status_lists.lists("home-office") == ("1", "2", "3")
    one.close()
    two.close()


def test_status_changes_reach_the_signed_list(world: Platform, clock: FixedClock) -> None:
    """Revoke, suspend and reinstate flip the entry in the published statuslist+jwt."""
    a = world.authorities
    issued = a.issue("home-office", vct=RIGHT_TO_WORK_VCT, claims=RTW_CLAIMS, holder=None)
    hosted = a.get("home-office")

    def entry() -> int:
        token = a.status_list_token("home-office", issued.record.list_id)
        verified = verify_status_list_token(
            token,
            hosted.active_key.public_key,
            uri=issued.status_uri,
            now=clock.t,
            iss=hosted.identifier,
        )
        assert verified.ttl == 300
        return verified.status_list[issued.record.idx]

    assert entry() == VALID
    assert a.set_status(issued.record.id, "suspended").state == "suspended"
    assert entry() == SUSPENDED
    assert a.set_status(issued.record.id, "valid").state == "valid"
    assert entry() == VALID
    assert a.set_status(issued.record.id, "revoked").state == "revoked"
    assert entry() == INVALID
    assert _code(lambda: a.set_status(issued.record.id, "valid")) == "conflict"
    assert a.set_status(issued.record.id, "revoked").state == "revoked"  # no-op
    assert a.credential(issued.record.id).state == "revoked"
    assert _code(lambda: a.set_status("no-such-id", "revoked")) == "not_found"
    assert _code(lambda: a.set_status("../../etc", "revoked")) == "invalid_request"


def test_revocation_has_names_of_its_own(world: Platform) -> None:
    """revoke_credential, suspend_credential and reinstate_credential are the by-name forms of
    set_status: suspension is lifted, revocation is final."""
    a = world.authorities
    issued = a.issue("home-office", vct=RIGHT_TO_WORK_VCT, claims=RTW_CLAIMS, holder=None)
    assert a.suspend_credential(issued.record.id).state == "suspended"
    assert a.reinstate_credential(issued.record.id).state == "valid"
    assert a.revoke_credential(issued.record.id).state == "revoked"
    assert _code(lambda: a.reinstate_credential(issued.record.id)) == "conflict"
    assert _code(lambda: a.suspend_credential(issued.record.id)) == "conflict"


def test_the_list_token_is_signed_once_per_change(world: Platform, clock: FixedClock) -> None:
    """Readers get the stored token until the list changes or it is an hour old."""
    a = world.authorities
    issued = a.issue("home-office", vct=RIGHT_TO_WORK_VCT, claims=RTW_CLAIMS, holder=None)
    first = a.status_list_token("home-office", "1")
    clock.advance(10)
    assert a.status_list_token("home-office", "1") == first
    a.set_status(issued.record.id, "suspended")
    changed = a.status_list_token("home-office", "1")
    assert changed != first
    clock.advance(3_600)
    assert a.status_list_token("home-office", "1") != changed
    assert _code(lambda: a.status_list_token("home-office", "7")) == "not_found"
    assert _code(lambda: a.status_list_token("home-office", "x")) == "not_found"


def test_fetcher_serves_local_lists_and_delegates_the_rest(world: Platform) -> None:
    """Our status URLs come from the database; other URLs go to the fallback fetcher."""
    from civicstack.services.authorities import StatusListFetcher

    issued = world.authorities.issue(
        "home-office", vct=RIGHT_TO_WORK_VCT, claims=RTW_CLAIMS, holder=None
    )
    elsewhere = InMemoryFetcher({"https://other.example/status/1": b"remote"})
    fetcher = StatusListFetcher(world.authorities, elsewhere)
    accept = "application/statuslist+jwt"
    body = fetcher.fetch(issued.status_uri, accept=accept, max_bytes=1 << 20)
    assert body.decode() == world.authorities.status_list_token("home-office", "1")
    assert fetcher.fetch("https://other.example/status/1", accept=accept, max_bytes=99) == (
        b"remote"
    )
    assert elsewhere.requests == [("https://other.example/status/1", accept)]
    local_missing = f"{BASE}/issuers/home-office/status/9"
    for url, limit in ((local_missing, 1 << 20), (issued.status_uri, 10)):
        with pytest.raises(CivicError) as err:
            fetcher.fetch(url, accept=accept, max_bytes=limit)
        assert err.value.code == "fetch_failed"


def test_verify_checks_chain_scope_and_status(world: Platform, clock: FixedClock) -> None:
    """Platform.verify accepts a valid presentation and refuses it once revoked, reading the
    status list straight from the database."""
    holder = PrivateKey.generate()
    issued = world.authorities.issue(
        "passport-office", vct=PID_VCT, claims=PID_CLAIMS, holder=holder.public_key
    )
    shop = world.authorities.get("shop").identifier
    presentation = present_credential(
        issued.credential, disclose=["age_over_18"], holder=holder, aud=shop, nonce="n", now=clock.t
    )
    verified = world.verify(presentation, aud=shop, nonce="n")
    assert verified.claims == {"age_over_18": True}
    world.authorities.set_status(issued.record.id, "revoked")
    clock.advance(301)  # past the verifier's cache of the list (ttl 300 s)
    again = present_credential(
        issued.credential, disclose=["age_over_18"], holder=holder, aud=shop, nonce="m", now=clock.t
    )
    assert _code(lambda: world.verify(again, aud=shop, nonce="m")) == "revoked"


def test_a_batch_is_one_credential_whose_status_changes_reach_every_copy(
    world: Platform, clock: FixedClock
) -> None:
    """Copies issued together get distinct indices but one credential id: the listing shows one
    record of three copies, a copy's row id is no credential id, and revoking the credential
    sets every copy's entry to INVALID."""
    a = world.authorities
    keys = [PrivateKey.generate().public_key for _ in range(3)]
    issued = a.issue_copies("passport-office", vct=PID_VCT, claims=PID_CLAIMS, holders=keys)
    assert {i.record.id for i in issued} == {issued[0].record.id}
    assert len({(i.record.list_id, i.record.idx) for i in issued}) == 3
    assert [inspect(i.credential).holder for i in issued] == keys
    (listed,) = [r for r in a.credentials("passport-office") if r.id == issued[0].record.id]
    assert listed.copies == 3
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(issued_credentials_table.c.id)).scalars().all()
    assert len(rows) == 3
    other = next(r for r in rows if r != issued[0].record.id)
    assert _code(lambda: a.revoke_credential(other)) == "not_found"
    hosted = a.get("passport-office")

    def entries() -> list[int]:
        out = []
        for i in issued:
            token = a.status_list_token("passport-office", i.record.list_id)
            verified = verify_status_list_token(
                token, hosted.active_key.public_key, uri=i.status_uri, now=clock.t
            )
            out.append(verified.status_list[i.record.idx])
        return out

    assert entries() == [VALID] * 3
    assert a.suspend_credential(issued[0].record.id).state == "suspended"
    assert entries() == [SUSPENDED] * 3
    assert a.revoke_credential(issued[0].record.id).state == "revoked"
    assert entries() == [INVALID] * 3
