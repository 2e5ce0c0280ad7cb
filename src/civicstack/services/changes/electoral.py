"""The electoral roll: automatic voter registration, opt-outs, and the officers' view.

The rules are :mod:`civicstack.changes.electoral`; the change service moves the roll in the same
transaction as each address change, birth or death it publishes. Here:

* the registration officers' read of their roll (``GET /changes/electoral/{authority}/roll``:
  the admin, or the officer's own API key, ``ero-<code>``);
* the citizen's opt-out and opt-in (a PID presentation to the change service, nonce used once):
  kept, and honoured by every later move until withdrawn;
* the scheduled check at 18 (:meth:`ElectoralRoll.coming_of_age`, time passed in; ``civic up``'s
  sweeper runs it): a registered birth whose 18th birthday has come puts the citizen on the
  roll of the authority of their home;
* the officers' ground to be told (:meth:`ElectoralRoll.covers`, one of the notification
  audience's grounds beside consent): a legal duty, not a consent — the officer of authority
  ``CODE`` hears, in full, of the address changes, name changes and deaths of the electors on
  its roll, and of those who left it in the last :data:`~civicstack.changes.electoral.RECENT`
  seconds (so the old authority learns of the move). Opting out stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from civicstack.changes import ELECTORAL_SECTOR, RollEntry, authority_of_ero, ero_name
from civicstack.changes.electoral import RECENT
from civicstack.errors import CivicError, InputError
from civicstack.events.notices import Representation
from civicstack.pairwise import Subject
from civicstack.services.changes.service import Changes
from civicstack.services.changes.storage import ChangeStorage
from civicstack.services.verifier.api_keys import Caller
from civicstack.trust import Purpose

__all__ = ["ElectoralRoll"]

#: The events a registration officer is told of about its electors.
_TOLD: Final = frozenset(
    {
        "uk.civicstack.address.changed",
        "uk.civicstack.name.changed",
        "uk.civicstack.death.registered",
    }
)
_MAX_PAGE: Final = 1000
#: The registration officers' one registered purpose: keeping the register of electors, with
#: the change service's full events for the categories it keeps.
ELECTORAL_PURPOSE: Final = Purpose.create(
    "electoral_registration",
    "Keep the register of electors (Representation of the People Act 1983 s.9)",
    {
        "urn:civicstack:data:tell-us-once:values": [
            "dpv-pd:LifeHistory",
            "dpv-pd:Name",
            "dpv-pd:PhysicalAddress",
        ]
    },
)


class ElectoralRoll:
    """The electoral roll service (module docstring)."""

    def __init__(
        self,
        *,
        store: ChangeStorage,
        changes: Changes,
        pairwise: Callable[[str, Subject], str],
        authenticate: Callable[[str | None], Caller],
        officers: Callable[[], set[str]],
        register_officer: Callable[[str, Purpose, str], None],
        authority_name: Callable[[str], str | None],
    ) -> None:
        self._officers = officers
        self._register_officer = register_officer
        self._authority_name = authority_name
        self.store = store
        self.changes = changes
        self._pairwise = pairwise
        self._authenticate = authenticate

    def authenticate(self, token: str | None) -> Caller:
        """The admin, or a registration officer's API key."""
        return self._authenticate(token)

    # --- the officers ---------------------------------------------------------------------------

    def roll(
        self, caller: Caller, authority: str, *, after: int = 0, limit: int = 100
    ) -> list[tuple[int, RollEntry]]:
        """The current electors of ``authority`` (its officer, or the admin)."""
        code = _authority(authority)
        caller.acting_for(ero_name(code))
        return self.store.roll(code, after=after, limit=max(1, min(limit, _MAX_PAGE)))

    def enrol_officer(self, authority: str) -> bool:
        """Register authority ``authority``'s registration officer (``ero-<code>``) as a relying
        party with :data:`ELECTORAL_PURPOSE`, so it can subscribe to its electors' changes and
        read its roll; False if it was enrolled already. ``not_found`` for an authority
        ``local-authority-eng`` does not hold. (The roll itself is kept for every authority.)"""
        code = _authority(authority)
        name = self._authority_name(code)
        if name is None:
            raise CivicError("not_found", f"local-authority-eng holds no authority {code!r}")
        officer = ero_name(code)
        if officer in self._officers():
            return False
        self._register_officer(
            officer, ELECTORAL_PURPOSE, f"Electoral Registration Officer, {name}"
        )
        return True

    def covers(
        self, organisation: str, subject: Subject, event_type: str, *, now: int
    ) -> Representation | None:
        """``full`` for the registration officer of an authority the citizen is (or was just)
        on the roll of, for the events it keeps the roll by; None otherwise."""
        code = authority_of_ero(organisation)
        if code is None or event_type not in _TOLD:
            return None
        elector = self._pairwise(ELECTORAL_SECTOR, subject)
        return "full" if self.store.on_roll_since(elector, code, now - RECENT) else None

    # --- the citizen --------------------------------------------------------------------------

    def opt_out(self, presentation: object, nonce: object) -> bool:
        """The citizen opts out of automatic registration (off the roll at once); False if
        they had already."""
        holder = self.changes.holder(presentation, nonce)
        elector = self._pairwise(ELECTORAL_SECTOR, holder.subject)
        return self.store.opt_out(elector, now=self.changes.clock.now())

    def opt_in(self, presentation: object, nonce: object) -> RollEntry | None:
        """The citizen withdraws their opt-out; back on the roll they left, if any."""
        holder = self.changes.holder(presentation, nonce)
        elector = self._pairwise(ELECTORAL_SECTOR, holder.subject)
        return self.store.opt_in(elector, now=self.changes.clock.now())

    def standing(self, presentation: object, nonce: object) -> tuple[RollEntry | None, bool]:
        """The citizen's own entry (if any) and whether they opted out."""
        holder = self.changes.holder(presentation, nonce)
        elector = self._pairwise(ELECTORAL_SECTOR, holder.subject)
        return self.store.current_entry(elector), self.store.opted_out(elector)

    # --- the scheduled check --------------------------------------------------------------------

    def coming_of_age(self, *, now: int, limit: int = 500) -> int:
        """Place every registered birth that turned 18 by ``now``; how many were due."""
        due = self.store.due_births(now, limit=limit)
        for birth in due:
            self.store.come_of_age(birth, self.changes.placement_for(birth), now=now)
        return len(due)


def _authority(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 16
        or not value.isascii()
        or not value.replace("-", "").isalnum()
    ):
        raise InputError("invalid_request", "an authority is its local-authority-eng code")
    code = value.upper()
    if authority_of_ero(ero_name(code)) != code:
        raise CivicError("not_found", "no such authority")
    return code
