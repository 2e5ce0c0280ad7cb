"""What a change report says: its kind, its fields, and the event and data category it makes.

Tell us once (GOV.UK's service for births and deaths, extended here to everyday changes): a
citizen, a company's officer or a registrar reports a change once, and every organisation the
citizen's consent covers is told. A report is one of these kinds:

=====================  ===========  ====================================  ======================
kind                   signed by    fields                                DPV-PD category
=====================  ===========  ====================================  ======================
``address``            the citizen  ``uprn`` (a record of ``address``)    dpv-pd:PhysicalAddress
``name``               the citizen  ``given_name``, ``family_name``       dpv-pd:Name
``contact``            the citizen  ``email`` and/or ``phone``            dpv-pd:Contact
``registered-office``  an officer   ``company``, ``uprn``                 (public register data)
``birth``              a registrar  ``country``, ``number`` (the child),  dpv-pd:LifeHistory
                                    names, ``birthdate``, ``uprn``
``death``              a registrar  ``country``, ``number``, ``date``     dpv-pd:LifeHistory
=====================  ===========  ====================================  ======================

Each kind publishes one CloudEvents type (:data:`EVENT_TYPE`); the consent that lets an
organisation hear of it must cover the kind's category (:data:`EVENT_CATEGORY`). Fields are
parsed strictly (:func:`parse_change`): only the kind's fields, each a capped string of its
shape; anything else is ``invalid_change``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Final, Literal, cast

from civicstack.errors import InputError

__all__ = [
    "AUTHORITY_KINDS",
    "CHANGE_VCT_PREFIX",
    "CITIZEN_KINDS",
    "EVENT_CATEGORY",
    "EVENT_TYPE",
    "KINDS",
    "Change",
    "Kind",
    "change_vct",
    "parse_change",
]

Kind = Literal["address", "name", "contact", "registered-office", "birth", "death"]
KINDS: Final[tuple[Kind, ...]] = (
    "address",
    "name",
    "contact",
    "registered-office",
    "birth",
    "death",
)
#: Kinds a wallet signs (the company's change by one of its officers' wallets).
CITIZEN_KINDS: Final = frozenset({"address", "name", "contact", "registered-office"})
#: Kinds only an accredited registrar signs.
AUTHORITY_KINDS: Final = frozenset({"birth", "death"})

#: The event each kind publishes.
EVENT_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "address": "uk.civicstack.address.changed",
        "name": "uk.civicstack.name.changed",
        "contact": "uk.civicstack.contact.changed",
        "registered-office": "uk.civicstack.company.office.changed",
        "birth": "uk.civicstack.birth.registered",
        "death": "uk.civicstack.death.registered",
    }
)
#: The DPV-PD category a consent must cover for its requester to hear of an event type
#: (the company's registered office is public register data: no citizen, no consent).
EVENT_CATEGORY: Final[Mapping[str, str]] = MappingProxyType(
    {
        "uk.civicstack.address.changed": "dpv-pd:PhysicalAddress",
        "uk.civicstack.name.changed": "dpv-pd:Name",
        "uk.civicstack.contact.changed": "dpv-pd:Contact",
        "uk.civicstack.birth.registered": "dpv-pd:LifeHistory",
        "uk.civicstack.death.registered": "dpv-pd:LifeHistory",
    }
)
#: A registrar's accreditation scope names the kinds it registers as ``vct``s.
CHANGE_VCT_PREFIX: Final = "urn:civicstack:change:"

_UPRN = re.compile(r"[0-9]{1,12}")
_COMPANY = re.compile(r"[A-Z0-9]{1,10}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
_PHONE = re.compile(r"\+?[0-9][0-9 ]{5,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_NAME = 100

#: kind -> (required fields, optional fields)
_FIELDS: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = MappingProxyType(
    {
        "address": (frozenset({"uprn"}), frozenset()),
        "name": (frozenset({"given_name", "family_name"}), frozenset()),
        "contact": (frozenset(), frozenset({"email", "phone"})),
        "registered-office": (frozenset({"company", "uprn"}), frozenset()),
        "birth": (
            frozenset({"country", "number", "given_name", "family_name", "birthdate", "uprn"}),
            frozenset(),
        ),
        "death": (frozenset({"country", "number", "date"}), frozenset()),
    }
)


def change_vct(kind: str) -> str:
    """The ``vct`` a registrar's accreditation names to register ``kind``."""
    return CHANGE_VCT_PREFIX + kind


@dataclass(frozen=True)
class Change:
    """One reported change: its kind and its checked fields."""

    kind: Kind
    fields: Mapping[str, str]

    @property
    def event_type(self) -> str:
        """The CloudEvents type this change publishes."""
        return EVENT_TYPE[self.kind]

    @property
    def category(self) -> str | None:
        """The DPV-PD category a consent must cover to hear of it (None: public data)."""
        return EVENT_CATEGORY.get(self.event_type)

    def to_json(self) -> dict[str, str]:
        """The wire form: ``{"kind": ..., field: value, ...}``."""
        return {"kind": self.kind, **self.fields}


def _text(value: object, name: str) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _MAX_NAME
        or not value.isprintable()
        or value != value.strip()
    ):
        raise InputError("invalid_change", f"{name} is 1-{_MAX_NAME} printable characters")
    return value


def _shaped(value: object, name: str, shape: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not shape.fullmatch(value):
        raise InputError("invalid_change", f"{name} is malformed")
    return value


def _day(value: object, name: str) -> str:
    text = _shaped(value, name, _DATE)
    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise InputError("invalid_change", f"{name} is not a calendar date") from exc
    return text


_CHECKS: Final = {
    "uprn": lambda v: _shaped(v, "uprn", _UPRN),
    "company": lambda v: _shaped(v, "company", _COMPANY),
    "country": lambda v: _shaped(v, "country", _COUNTRY),
    "number": lambda v: _shaped(v, "number", _NUMBER),
    "email": lambda v: _shaped(v, "email", _EMAIL),
    "phone": lambda v: _shaped(v, "phone", _PHONE),
    "given_name": lambda v: _text(v, "given_name"),
    "family_name": lambda v: _text(v, "family_name"),
    "birthdate": lambda v: _day(v, "birthdate"),
    "date": lambda v: _day(v, "date"),
}


def parse_change(value: object) -> Change:
    """A change read strictly from ``{"kind": ..., fields...}`` (``invalid_change``)."""
    if not isinstance(value, Mapping):
        raise InputError("invalid_change", "a change is a JSON object")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise InputError("invalid_change", "kind is one of " + ", ".join(KINDS))
    required, optional = _FIELDS[kind]
    given = set(value) - {"kind"}
    missing = required - given
    if missing:
        raise InputError("invalid_change", f"a {kind} change needs {', '.join(sorted(missing))}")
    extra = given - required - optional
    if extra:
        shown = ", ".join(sorted(str(e)[:32] for e in extra)[:5])
        raise InputError("invalid_change", f"a {kind} change has no {shown}")
    if not given:
        raise InputError("invalid_change", f"a {kind} change names at least one of its fields")
    fields = {name: _CHECKS[name](value[name]) for name in sorted(given)}
    return Change(cast(Kind, kind), MappingProxyType(fields))


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else ``invalid_change``."""
    if not isinstance(value, Mapping):
        raise InputError("invalid_change", "expected a JSON object")
    return value
