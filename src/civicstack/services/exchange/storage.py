"""The stores the exchange needs (implemented in :mod:`civicstack.stores.exchange`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from civicstack.access import AccessEntry, AppendedAccesses, DataService

__all__ = ["AccessLogStorage", "AppendedAccesses", "DataServiceStorage"]


class DataServiceStorage(Protocol):
    """Published data services and the records of the hosted ones."""

    def publish(self, service: DataService, *, now: int) -> None:
        """Publish ``service``, or replace its provider's earlier definition of it."""

    def service(self, provider: str, name: str) -> DataService | None:
        """The published service ``provider``/``name``, if any."""

    def services(self) -> list[DataService]:
        """Every published service, by provider and name."""

    def put_records(
        self, provider: str, name: str, records: Sequence[tuple[str, bytes]], *, now: int
    ) -> None:
        """Write hosted records ``(provider's pairwise id, record JSON)``, replacing any
        earlier record of the same subject; all or nothing."""

    def record(self, provider: str, name: str, subject: str) -> bytes | None:
        """The hosted record of ``subject`` (the provider's pairwise id), if any."""

    def records(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], bytes]:
        """The hosted records of ``(provider, service, subject)`` keys that have one, read
        together."""
        ...


class AccessLogStorage(Protocol):
    """The access log: an RFC 9162 log with the subjects' chain heads beside it."""

    def append_accesses(
        self, accesses: Sequence[tuple[AccessEntry, str | None]]
    ) -> AppendedAccesses:
        """Append ``(entry, log_subject)`` pairs in ONE transaction: each subject's mark comes
        from its chain head (:func:`civicstack.access.chained`), the heads move, and one
        checkpoint is signed; durable when it returns, all or nothing."""

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
