"""What the GP registration service needs of storage (:mod:`civicstack.stores.gp_registration`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from civicstack.gp import PracticeLink, Registration, RelativeAsked

__all__ = ["GpStorage", "PracticeLink", "Registration", "RelativeAsked"]


class GpStorage(Protocol):
    """Practice links and registrations."""

    def link(self, link: PracticeLink, *, now: int) -> None:
        """Tie an organisation to an ODS code (replacing its earlier link); ``conflict`` if
        another organisation holds the code."""
        ...

    def by_code(self, ods_code: str) -> PracticeLink | None:
        """The organisation linked to ``ods_code``."""
        ...

    def links(self) -> Sequence[PracticeLink]:
        """Every link, by ODS code."""
        ...

    def add(self, registration: Registration) -> None:
        """Keep a registration and its relatives in one transaction."""
        ...

    def get(self, registration_id: str) -> Registration:
        """A registration (``not_found`` otherwise)."""
        ...
