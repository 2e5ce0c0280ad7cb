"""The pure rules of tell us once: change reports parsed strictly, the signed report's checks,
who may report for a company, and the electoral roll's moves."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack._crypto import PrivateKey, sign_jwt
from civicstack.changes import (
    CHANGE_TYP,
    Placement,
    RollEntry,
    adult_at,
    authority_of_ero,
    check_officer,
    citizen_claims,
    ero_name,
    officer_entry,
    parse_change,
    plan_move,
    read_change,
    registrar_claims,
)
from civicstack.errors import CivicError

NOW = 1_767_225_600  # 2026-01-01


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {},
        {"kind": "address"},
        {"kind": "address", "uprn": "1" * 13},
        {"kind": "address", "uprn": 12},
        {"kind": "address", "uprn": "1", "street": "x"},
        {"kind": "name", "given_name": "A", "family_name": " B"},
        {"kind": "name", "given_name": "A\n", "family_name": "B"},
        {"kind": "contact"},
        {"kind": "contact", "email": "not-an-email"},
        {"kind": "death", "country": "GB", "number": "1", "date": "2024-02-30"},
        {"kind": ["address"]},
    ],
)
def test_malformed_changes_are_invalid_change(bad: Any) -> None:
    """Anything but a kind's own fields, each of its shape, is refused with one code."""
    with pytest.raises(CivicError) as caught:
        parse_change(bad)
    assert caught.value.code == "invalid_change"


def test_each_kind_makes_its_event_and_category() -> None:
    """An address change is an address event, covered by dpv-pd:PhysicalAddress; a company's
    office is public data, with no category."""
    address = parse_change({"kind": "address", "uprn": "123"})
    assert (address.event_type, address.category) == (
        "uk.civicstack.address.changed",
        "dpv-pd:PhysicalAddress",
    )
    office = parse_change({"kind": "registered-office", "company": "01234567", "uprn": "1"})
    assert office.category is None


def _signed(payload: dict[str, Any], key: PrivateKey, typ: str = CHANGE_TYP) -> str:
    return sign_jwt(key, payload, {"typ": typ})


def test_a_signed_report_is_read_only_as_signed() -> None:
    """The bound key, the typ, the exact members and freshness are all checked."""
    key = PrivateKey.generate()
    change = parse_change({"kind": "address", "uprn": "123"})
    claims = citizen_claims(change, aud="https://p/changes", nonce="n", iat=NOW)
    read = read_change(
        _signed(claims, key), key.public_key, registrar=False, now=NOW, max_age=300, max_bytes=4096
    )
    assert read.change == change
    cases: list[tuple[str, str]] = [
        (_signed(claims, PrivateKey.generate()), "invalid_signature"),
        (_signed(claims, key, "civicstack-consent+jwt"), "invalid_change"),
        (_signed({**claims, "extra": 1}, key), "invalid_change"),
        (_signed({**claims, "iat": NOW - 301}, key), "invalid_change"),
        (_signed({**claims, "iat": NOW + 61}, key), "invalid_change"),
        (_signed(registrar_claims(change, iss="x", jti="j", iat=NOW), key), "invalid_change"),
        ("not.a.jws", "invalid_change"),
    ]
    for token, code in cases:
        with pytest.raises(CivicError) as caught:
            read_change(
                token, key.public_key, registrar=False, now=NOW, max_age=300, max_bytes=4096
            )
        assert caught.value.code == code, token


def test_only_the_named_officer_reports_for_a_company() -> None:
    """Name and month of birth must match an entry; the day does not matter, case does not."""
    entries = [officer_entry("Amara", "Okafor", "1990-05-17"), "SMITH, Ben (1970-01)"]
    assert entries[0] == "OKAFOR, Amara (1990-05)"
    claims = {"given_name": "amara", "family_name": "OKAFOR", "birthdate": "1990-05-02"}
    assert check_officer(entries, claims) == entries[0]
    for other in (
        {**claims, "birthdate": "1991-05-17"},
        {**claims, "given_name": "Ben"},
        {"given_name": "Amara"},
    ):
        with pytest.raises(CivicError) as caught:
            check_officer(entries, other)
        assert caught.value.code == "not_an_officer"


def test_the_18th_birthday_of_a_leap_day_baby_is_the_first_of_march() -> None:
    """adult_at is midnight UTC of the 18th birthday; 29 February counts as 1 March."""
    assert adult_at("2008-03-01") == 1_772_323_200  # 2026-03-01
    assert adult_at("2008-02-29") == adult_at("2008-03-01")
    assert adult_at("2007-12-31") == 1_767_139_200  # 2025-12-31


def test_officer_names_round_trip() -> None:
    """An authority's registration officer's name stands for that authority only."""
    assert ero_name("LDS") == "ero-lds"
    assert authority_of_ero("ero-lds") == "LDS"
    assert authority_of_ero("council") is None
    assert authority_of_ero("ero-") is None


ENTRY = RollEntry("e", "LDS", "s-lds", "1", 0)


@given(
    opted_out=st.booleans(),
    adult=st.booleans(),
    authority=st.sampled_from(["LDS", "YOR", None]),
    reason=st.sampled_from(["moved-in", "came-of-age", "died"]),
    on_roll=st.booleans(),
)
def test_the_roll_moves_by_its_rules(
    opted_out: bool, adult: bool, authority: str | None, reason: Any, on_roll: bool
) -> None:
    """Joins only an adult, not opted out, alive, at an address in an authority; leaves the
    old roll whenever it joins another or may not stay; staying put moves nothing."""
    placement = Placement("e", authority, None if authority is None else f"s-{authority}", "2")
    current = ENTRY if on_roll else None
    move = plan_move(current, placement, opted_out=opted_out, adult=adult, reason=reason)
    joins = reason != "died" and not opted_out and adult and authority is not None
    assert (move.join is not None) == joins
    assert (move.leave is not None) == on_roll
    if move.leave is not None:
        assert move.leave_reason == (
            "died" if reason == "died" else "opted-out" if opted_out else "moved-away"
        )


def test_placing_someone_where_they_are_moves_nothing() -> None:
    """The same authority and UPRN: no leave, no join."""
    same = Placement("e", "LDS", "s-lds", "1")
    assert plan_move(ENTRY, same, opted_out=False, adult=True, reason="moved-in").join is None
