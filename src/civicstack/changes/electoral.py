"""Automatic voter registration: the rules that move a citizen on the electoral roll.

Each local authority's electoral registration officer keeps its register of electors
(Representation of the People Act 1983 s.9); here the roll is kept as data for every authority
in ``local-authority-eng``, and the registration officer of authority ``CODE`` is the
organisation ``ero-<code>`` (:func:`ero_name`). The rules, time passed in:

1. an address change moves the citizen: off the roll of the authority they were on, onto the
   roll of the authority their new address links to (the ``address`` register's
   ``local-authority-eng`` field) — unless they opted out, or are not yet 18;
2. a registered birth puts the child on the roll of their home's authority on their 18th
   birthday (:func:`adult_at`; a scheduled check calls :func:`plan_move` then);
3. a death takes the citizen off the roll;
4. an opt-out takes them off at once and keeps them off until they opt back in.

The roll names the citizen by a handle at the reserved sector :data:`ELECTORAL_SECTOR` (to find
their entry) and by the pairwise id at the registration officer (what the officer sees).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final, Literal

__all__ = [
    "ELECTORAL_SECTOR",
    "RECENT",
    "Placement",
    "Reason",
    "RollEntry",
    "RollMove",
    "adult_at",
    "authority_of_ero",
    "ero_name",
    "plan_move",
]

#: The sector of the roll's own handle for a citizen (pairwise ids, civicstack.pairwise).
ELECTORAL_SECTOR: Final = "civicstack:electoral-roll"
#: A registration officer is told of an elector who left its roll this recently (seconds).
RECENT: Final = 7 * 86_400
_ERO_PREFIX: Final = "ero-"

Reason = Literal["moved-in", "came-of-age", "moved-away", "died", "opted-out", "opted-in"]


def ero_name(authority: str) -> str:
    """The organisation name of authority ``authority``'s registration officer."""
    return _ERO_PREFIX + authority.lower()


def authority_of_ero(organisation: str) -> str | None:
    """The authority code a registration officer's name stands for (None: not an officer)."""
    if not organisation.startswith(_ERO_PREFIX) or len(organisation) <= len(_ERO_PREFIX):
        return None
    return organisation[len(_ERO_PREFIX) :].upper()


def adult_at(birthdate: str) -> int:
    """The Unix time (00:00 UTC) of the 18th birthday of someone born on ``birthdate``
    (29 February: 1 March in a common year, the day the law counts the age as reached)."""
    born = date.fromisoformat(birthdate)
    try:
        day = born.replace(year=born.year + 18)
    except ValueError:
        day = date(born.year + 18, 3, 1)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class RollEntry:
    """A citizen's current entry on an authority's roll."""

    elector: str  # handle at ELECTORAL_SECTOR
    authority: str
    subject: str  # pairwise id at the authority's registration officer
    uprn: str
    registered_at: int


@dataclass(frozen=True)
class Placement:
    """Where the citizen now lives, as a change established it."""

    elector: str
    authority: str | None  # None: the address links to no authority, or the citizen died
    subject: str | None  # pairwise id at that authority's registration officer
    uprn: str | None


@dataclass(frozen=True)
class RollMove:
    """What to write: the entry to end (and why), the entry to add (and why)."""

    leave: RollEntry | None = None
    leave_reason: Reason | None = None
    join: Placement | None = None
    join_reason: Reason | None = None


def plan_move(
    current: RollEntry | None,
    placement: Placement,
    *,
    opted_out: bool,
    adult: bool,
    reason: Reason,
) -> RollMove:
    """The roll move for ``placement`` (rules 1-4 of the module docstring).

    ``reason`` is why the citizen is placed: ``moved-in`` (an address change), ``came-of-age``
    (the check at 18) or ``died``. Placing someone where they already are moves nothing.
    """
    joins = reason != "died" and not opted_out and adult and placement.authority is not None
    if (
        current is not None
        and joins
        and (current.authority, current.uprn) == (placement.authority, placement.uprn)
    ):
        return RollMove()
    leave_reason: Reason = (
        "died" if reason == "died" else "opted-out" if opted_out else "moved-away"
    )
    return RollMove(
        leave=current,
        leave_reason=leave_reason if current is not None else None,
        join=placement if joins else None,
        join_reason=reason if joins else None,
    )
