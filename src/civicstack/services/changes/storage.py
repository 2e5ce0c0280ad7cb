"""What the change service needs kept (implemented by :mod:`civicstack.stores.changes`)."""

from __future__ import annotations

from typing import Protocol

from civicstack.changes.electoral import Placement, RollEntry
from civicstack.changes.records import (
    Birth,
    ChangedValue,
    ReportProgress,
    RollChange,
    StoredReport,
)
from civicstack.events.notices import Notice

__all__ = ["ChangeStorage"]


class ChangeStorage(Protocol):
    """Reports published with their events in one transaction, and the electoral roll."""

    def publish(
        self,
        report: StoredReport,
        notice: Notice,
        *,
        roll: RollChange | None = None,
        birth: Birth | None = None,
        value: ChangedValue | None = None,
        now: int,
    ) -> None:
        """The report, its outbox row, its new value (for the exchange) and its roll move,
        committed together."""

    def report(self, report_id: str) -> StoredReport:
        """One report (``change_not_found``)."""

    def progress(self, event_id: str) -> ReportProgress:
        """How far the report's event has gone."""

    def due_births(self, now: int, *, limit: int) -> list[Birth]:
        """Births that turned 18 by ``now``, not placed yet."""

    def come_of_age(self, birth: Birth, placement: Placement, *, now: int) -> None:
        """Place one citizen who turned 18."""

    def roll(
        self, authority: str, *, after: int = 0, limit: int = 100
    ) -> list[tuple[int, RollEntry]]:
        """An authority's current electors."""

    def current_entry(self, elector: str) -> RollEntry | None:
        """A citizen's current entry."""

    def on_roll_since(self, elector: str, authority: str, since: int) -> bool:
        """On the roll, or left it since ``since``."""

    def opt_out(self, elector: str, *, now: int) -> bool:
        """Opt out (and off the roll at once)."""

    def opt_in(self, elector: str, *, now: int) -> RollEntry | None:
        """Withdraw an opt-out."""

    def opted_out(self, elector: str) -> bool:
        """Whether the citizen opted out."""
