"""Field datatypes of the GOV.UK Registers model and the check of one value against each.

Sources, by datatype (Registers specification, ``content/<name>-datatype.md``, and the behaviour
of GOV.UK's register server, openregister-java ``core/datatype``, where the specification was
silent or stricter than what the service accepted and the archive therefore contains):

- ``string``, ``text``: any non-blank string (openregister-java ``StringDatatype``:
  ``isNotBlank``); ``text`` may hold Markdown.
- ``integer``: ``"0" / ["-"] non-zero *digit``: no leading zeros, no ``-0``, no ``+``.
- ``datetime``: ``CCYY[-MM[-DD[Thh[:mm[:ss]]Z]]]`` (specification) and, as the service also
  accepted and the archive holds, ``CCYY-MM-DDThh:mm:ss`` without ``Z``; a real calendar date.
- ``period``: ``start/end``, ``start/duration``, ``duration/end`` or ``duration``; durations
  ``P[nY][nM][nD][T[nH][nM][nS]]`` with at least one part and no fractions; a start must come
  before its end (openregister-java ``PeriodDatatype``).
- ``url``: an absolute http(s) or ftp URL with a host, or ``mailto:``, no whitespace.
- ``curie``: ``prefix ":" reference`` or a bare reference relative to the field's register; at
  most one ``:``, a non-empty prefix (openregister-java ``CurieDatatype``); an empty reference
  (``country:``, ``curie-datatype.md``) names the register itself.
- ``name``: ``[a-z][a-z0-9-]*`` (``name-datatype.md``: lower-case ASCII letters, digits, hyphens).
- ``hash``: ``sha-256:`` and 64 lower-case hex digits.
- ``point``: ``[x, y]`` decimal pair (openregister-java ``PointDatatype``, what the service took)
  or WKT ``POINT (x y)`` / ``POINT Z (x y z)`` (``point-datatype.md``).
- ``boolean``: ``true`` or ``false``.

CURIE syntax is deliberately GOV.UK's loose one (no control characters, otherwise any prefix and
reference): the archive holds values such as ``government-organisation: D2`` and
`` information-sharing-agreement-powers-and-objectives-0001:1`` that the service accepted. Whether
a CURIE names a register and a record is the link check's business, and a prefix that is not a
register name names none, so such values fail there (``dangling_link``), not here.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from enum import StrEnum
from urllib.parse import urlsplit

from civicstack.errors import VerificationError


class Datatype(StrEnum):
    """The datatypes a field may declare (the GOV.UK ``datatype`` register, and the spec's)."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    DATETIME = "datetime"
    PERIOD = "period"
    URL = "url"
    CURIE = "curie"
    NAME = "name"
    HASH = "hash"
    POINT = "point"
    BOOLEAN = "boolean"


NAME_RE = re.compile(r"[a-z][a-z0-9-]*")
_INTEGER_RE = re.compile(r"0|-?[1-9][0-9]*")
_DATETIME_RE = re.compile(
    r"(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2})"
    r"(?:T(?P<H>[0-9]{2})(?::(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2}))?)?(?P<z>Z?))?)?)?"
)
_DURATION_RE = re.compile(
    r"P(?:(?P<y>[0-9]+)Y)?(?:(?P<mo>[0-9]+)M)?(?:(?P<d>[0-9]+)D)?"
    r"(?:(?P<t>T)(?:(?P<h>[0-9]+)H)?(?:(?P<mi>[0-9]+)M)?(?:(?P<s>[0-9]+)S)?)?"
)
_HASH_RE = re.compile(r"sha-256:[0-9a-f]{64}")
_DECIMAL = r"-?[0-9]+(?:\.[0-9]+)?"
_POINT_RE = re.compile(
    rf"\[\s*-?[0-9]+\.[0-9]+\s*,\s*-?[0-9]+\.[0-9]+\s*\]"
    rf"|POINT ?\({_DECIMAL} {_DECIMAL}\)|POINT ?Z ?\({_DECIMAL} {_DECIMAL} {_DECIMAL}\)"
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_WHITESPACE_RE = re.compile(r"\s")


def _fail(datatype: str, value: str, why: str) -> VerificationError:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return VerificationError("invalid_datatype", f"{shown!r} is not a valid {datatype}: {why}")


def _string(value: str) -> None:
    if not value.strip():
        raise _fail("string", value, "blank")


def _integer(value: str) -> None:
    if _INTEGER_RE.fullmatch(value) is None:
        raise _fail("integer", value, "expected a base-10 integer without leading zeros")


def datetime_bounds(value: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The first and last instant a datetime value covers, as comparable tuples.

    Raises ``invalid_datatype`` when ``value`` is not a datetime.
    """
    match = _DATETIME_RE.fullmatch(value)
    if match is None:
        raise _fail("datetime", value, "expected CCYY[-MM[-DD[Thh[:mm[:ss]]Z]]]")
    parts = match.groupdict()
    if parts["H"] is not None and not parts["z"] and (parts["M"] is None or parts["S"] is None):
        # Only the full hh:mm:ss form may omit Z (what GOV.UK's server accepted).
        raise _fail("datetime", value, "a reduced time needs the Z designator")
    year = int(parts["y"])
    month = int(parts["m"]) if parts["m"] else None
    day = int(parts["d"]) if parts["d"] else None
    if month is not None and not 1 <= month <= 12:
        raise _fail("datetime", value, "month out of range")
    if day is not None and month is not None and day > calendar.monthrange(year, month)[1]:
        raise _fail("datetime", value, "day out of range")
    if day == 0:
        raise _fail("datetime", value, "day out of range")
    clock = [int(parts[k]) if parts[k] else None for k in ("H", "M", "S")]
    for number, limit in zip(clock, (23, 59, 59), strict=True):
        if number is not None and number > limit:
            raise _fail("datetime", value, "time out of range")
    low_month, high_month = (month, month) if month else (1, 12)
    low_day = day or 1
    high_day = day or calendar.monthrange(year, high_month)[1]
    low = (year, low_month, low_day, *(c if c is not None else 0 for c in clock))
    high = (
        year,
        high_month,
        high_day,
        *(c if c is not None else m for c, m in zip(clock, (23, 59, 59), strict=True)),
    )
    return low, high


def _datetime(value: str) -> None:
    datetime_bounds(value)


def _duration(value: str) -> bool:
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        return False
    parts = match.groupdict()
    date_parts = [parts[k] for k in ("y", "mo", "d")]
    time_parts = [parts[k] for k in ("h", "mi", "s")]
    if parts["t"] and not any(time_parts):
        return False
    return any(date_parts) or any(time_parts)


def _period(value: str) -> None:
    pieces = value.split("/")
    if len(pieces) == 1:
        if not _duration(value):
            raise _fail("period", value, "expected an ISO 8601 duration or interval")
        return
    if len(pieces) != 2:
        raise _fail("period", value, "at most one '/'")
    start, end = pieces
    if _duration(start):
        datetime_bounds(end)
        return
    start_low, _ = datetime_bounds(start)
    if _duration(end):
        return
    end_low, _ = datetime_bounds(end)
    if not start_low < end_low:
        raise _fail("period", value, "the start is not before the end")


def _url(value: str) -> None:
    if _WHITESPACE_RE.search(value) or _CONTROL_RE.search(value):
        raise _fail("url", value, "whitespace or control character")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise _fail("url", value, "unparseable") from exc
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        if not parts.path:
            raise _fail("url", value, "empty mailto address")
        return
    if scheme not in ("http", "https", "ftp") or not parts.hostname:
        raise _fail("url", value, "expected an absolute http, https, ftp or mailto URL")


def _curie(value: str) -> None:
    if _CONTROL_RE.search(value):
        raise _fail("curie", value, "control character")
    if value.count(":") > 1:
        raise _fail("curie", value, "more than one ':'")
    if not value or value.startswith(":"):
        raise _fail("curie", value, "empty prefix")


def _name(value: str) -> None:
    if NAME_RE.fullmatch(value) is None:
        raise _fail("name", value, "expected lower-case letters, digits and hyphens")


def _hash(value: str) -> None:
    if _HASH_RE.fullmatch(value) is None:
        raise _fail("hash", value, "expected sha-256: and 64 lower-case hex digits")


def _point(value: str) -> None:
    if _POINT_RE.fullmatch(value) is None:
        raise _fail("point", value, "expected [x, y] or WKT POINT (x y)")


def _boolean(value: str) -> None:
    if value not in ("true", "false"):
        raise _fail("boolean", value, "expected true or false")


_CHECKS: dict[Datatype, Callable[[str], None]] = {
    Datatype.STRING: _string,
    Datatype.TEXT: _string,
    Datatype.INTEGER: _integer,
    Datatype.DATETIME: _datetime,
    Datatype.PERIOD: _period,
    Datatype.URL: _url,
    Datatype.CURIE: _curie,
    Datatype.NAME: _name,
    Datatype.HASH: _hash,
    Datatype.POINT: _point,
    Datatype.BOOLEAN: _boolean,
}


def check_value(datatype: Datatype, value: str) -> None:
    """Return if ``value`` is a valid ``datatype``; else raise ``invalid_datatype``."""
    _CHECKS[datatype](value)
