"""Credential types: the PID with age predicates, and the right-to-work attestation."""

from __future__ import annotations

import datetime as dt

import pytest

from civicstack.credential_types import (
    PID,
    RIGHT_TO_WORK,
    RIGHT_TO_WORK_VCT,
    age_on,
    age_predicates,
    pid_claims,
    pid_disclosable,
    right_to_work_claims,
)
from civicstack.errors import CivicError


def _at(day: str) -> int:
    return int(dt.datetime.fromisoformat(day + "T12:00:00+00:00").timestamp())


@pytest.mark.parametrize(
    ("birthdate", "day", "age"),
    [
        ("2008-01-01", "2025-12-31", 17),
        ("2008-01-01", "2026-01-01", 18),
        ("2008-02-29", "2026-02-28", 17),  # a leap-day birthday falls on 1 March
        ("2008-02-29", "2026-03-01", 18),
        ("2008-02-29", "2028-02-29", 20),
        ("1960-07-15", "2025-07-14", 64),
        ("1960-07-15", "2025-07-15", 65),
    ],
)
def test_age_counts_completed_years(birthdate: str, day: str, age: int) -> None:
    """Age is the number of birthdays passed at ``now`` (UTC)."""
    assert age_on(birthdate, _at(day)) == age


def test_age_predicates_are_one_boolean_per_threshold() -> None:
    """A 17-year-old is over 13 and 16, not over 18, 21 or 65."""
    assert age_predicates("2008-06-01", _at("2026-01-01")) == {
        "age_over_13": True,
        "age_over_16": True,
        "age_over_18": False,
        "age_over_21": False,
        "age_over_65": False,
    }


@pytest.mark.parametrize("bad", ["2008-13-01", "2008-02-30", "08-01-01", "2008-W01-1", "", "x"])
def test_dates_must_be_calendar_dates(bad: str) -> None:
    """Birth dates are RFC 3339 full-dates that exist."""
    with pytest.raises(CivicError) as err:
        age_on(bad, _at("2026-01-01"))
    assert err.value.code == "invalid_request"


def test_birth_in_the_future_is_refused() -> None:
    """Nobody is issued a PID before being born."""
    with pytest.raises(CivicError):
        age_on("2030-01-01", _at("2026-01-01"))


def test_pid_claims_carry_the_predicates_and_check_the_type() -> None:
    """pid_claims adds the age predicates and yields claims the PID type accepts."""
    claims = pid_claims(
        given_name="Ada", family_name="Lovelace", birthdate="1990-12-10", now=_at("2026-01-01"),
        issuing_authority="HMPO", issuing_country="GB", nationalities=["GB"],
        address={"locality": "London", "postal_code": "N1"}, document_number="1",
    )  # fmt: skip
    assert claims["age_over_18"] is True
    assert claims["age_over_65"] is False
    PID.check(claims)
    assert set(pid_disclosable(claims)) == {
        *claims, "address.locality", "address.postal_code", "nationalities.0",
    }  # fmt: skip
    with pytest.raises(CivicError):
        PID.check({**claims, "shoe_size": 44})
    with pytest.raises(CivicError):
        PID.check({k: v for k, v in claims.items() if k != "family_name"})


def test_right_to_work_claims() -> None:
    """The home office's attestation carries the decision, restrictions and share code."""
    claims = right_to_work_claims(
        given_name="Ada", family_name="Lovelace", right_to_work=True, share_code="W4X 7YB 9QZ",
        valid_until="2027-03-31", work_restrictions=["max 20 hours a week in term time"],
    )  # fmt: skip
    RIGHT_TO_WORK.check(claims)
    assert RIGHT_TO_WORK.vct == RIGHT_TO_WORK_VCT
    assert claims["valid_until"] == "2027-03-31"
    with pytest.raises(CivicError):
        right_to_work_claims(
            given_name="A", family_name="B", right_to_work=True, share_code="x", valid_until="soon"
        )
