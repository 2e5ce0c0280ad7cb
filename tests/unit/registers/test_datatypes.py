"""Field datatypes: the values each accepts and refuses (spec ABNF and GOV.UK's server)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack.errors import VerificationError
from civicstack.registers import Datatype, check_value
from civicstack.registers.datatypes import datetime_bounds

VALID: dict[Datatype, list[str]] = {
    Datatype.STRING: ["GB", "Côte d’Ivoire", " padded "],
    Datatype.TEXT: ["Some *Markdown*\n\nwith paragraphs"],
    Datatype.INTEGER: ["0", "7", "-200", "100", "123456789012345678901234567890"],
    Datatype.DATETIME: [
        "2001",
        "2001-01",
        "2001-01-31",
        "2000-02-29",
        "2018-10-11T12Z",
        "2018-10-11T12:14Z",
        "2001-01-31T23:20:55Z",
        "2017-06-22T00:00:00",
    ],
    Datatype.PERIOD: [
        "2007-03-01T13:00:00Z/2008-05-11T15:30:00Z",
        "2007-03-01T13:00:00Z/P1Y2M10DT2H30M",
        "P1Y2M10DT2H30M/2008-05-11T15:30:00Z",
        "P1Y2M10DT2H30M",
        "P11M",
        "PT0S",
        "2018-01-01/P1M",
        "2017/2018",
    ],
    Datatype.URL: [
        "https://www.gov.uk/",
        "http://tools.ietf.org/html/rfc3986",
        "ftp://ftp.example.org/file",
        "mailto:dpo@example.gov.uk",
    ],
    Datatype.CURIE: [
        "country:GB",
        "country:",
        "GB",
        "example:foo/bar",
        "government-organisation: D2",
    ],
    Datatype.NAME: ["name", "start-date", "key-01"],
    Datatype.HASH: ["sha-256:" + "0" * 64],
    Datatype.POINT: ["[-0.1275, 51.5072]", "[1.0,2.0]", "POINT (30 10)", "POINT Z (1.5 2 3)"],
    Datatype.BOOLEAN: ["true", "false"],
}

INVALID: dict[Datatype, list[str]] = {
    Datatype.STRING: ["   ", "\n\t"],
    Datatype.TEXT: [" "],
    Datatype.INTEGER: ["01", "-0", "+1", "1.0", "1e3", "", "NaN", " 1"],
    Datatype.DATETIME: [
        "01",
        "2001-1",
        "2001-13",
        "2001-00-10",
        "2001-02-29",
        "2001-01-00",
        "2001-01-32",
        "2001-01-01T",
        "2001-01-01T24:00:00Z",
        "2001-01-01T12:60Z",
        "2001-01-01T12",
        "2001-01-01T12:30",
        "2001-01-01 12:30:00Z",
        "2001-01-01T12:30:00+01:00",
    ],
    Datatype.PERIOD: [
        "P",
        "PT",
        "P1YT",
        "P1.5Y",
        "2008/2007",
        "2008-05-11T15:30:00Z/2007-03-01T13:00:00Z",
        "P1Y/P1M",
        "a/b/c",
        "1Y",
    ],
    Datatype.URL: ["www.gov.uk", "https://", "javascript:alert(1)", "https://a b", "mailto:"],
    Datatype.CURIE: [":GB", "a:b:c", "country:\x00"],
    Datatype.NAME: ["Name", "0x", "42-date", "-boo", "a_b", ""],
    Datatype.HASH: ["sha-256:" + "A" * 64, "sha-256:" + "0" * 63, "sha-512:" + "0" * 64],
    Datatype.POINT: ["[1, 2]", "1.0,2.0", "POINT (1)", "[1.0, 2.0, 3.0]"],
    Datatype.BOOLEAN: ["True", "1", "yes", ""],
}


@pytest.mark.parametrize(
    ("datatype", "value"), [(d, v) for d, values in VALID.items() for v in values]
)
def test_valid_values_pass(datatype: Datatype, value: str) -> None:
    """Each value the datatype defines is accepted."""
    check_value(datatype, value)


@pytest.mark.parametrize(
    ("datatype", "value"), [(d, v) for d, values in INVALID.items() for v in values]
)
def test_invalid_values_fail_with_invalid_datatype(datatype: Datatype, value: str) -> None:
    """Each value outside the datatype is refused with ``invalid_datatype``."""
    with pytest.raises(VerificationError) as caught:
        check_value(datatype, value)
    assert caught.value.code == "invalid_datatype"


def test_every_datatype_has_cases() -> None:
    """The tables above cover every datatype, both ways."""
    assert set(VALID) == set(Datatype) == set(INVALID)


def test_datetime_bounds_cover_the_truncated_period() -> None:
    """A truncated datetime covers its whole year or month, for ordering periods."""
    assert datetime_bounds("2000-02") == ((2000, 2, 1, 0, 0, 0), (2000, 2, 29, 23, 59, 59))
    assert datetime_bounds("2001") == ((2001, 1, 1, 0, 0, 0), (2001, 12, 31, 23, 59, 59))


@given(st.integers())
def test_every_python_integer_is_a_valid_integer(number: int) -> None:
    """str() of any integer is an integer value."""
    check_value(Datatype.INTEGER, str(number))


@given(st.datetimes(min_value=datetime(1000, 1, 1)))
def test_every_second_precision_datetime_is_valid(moment: datetime) -> None:
    """Every calendar instant written CCYY-MM-DDThh:mm:ssZ is a datetime value."""
    check_value(Datatype.DATETIME, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
