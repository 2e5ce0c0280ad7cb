"""What the consent service needs kept (implemented by :mod:`civicstack.stores.consent`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from civicstack.consent import ConsentRecord, ConsentRequest, CoveredAccess


@dataclass(frozen=True)
class RequestCaps:
    """What a new request must stay within, counted in the transaction that adds it."""

    per_subject: int  # pending requests from one requester for one citizen
    per_requester: int  # pending requests from one requester
    per_minute: int  # requests one requester made in the last minute


class ConsentRequestStore(Protocol):
    """Consent requests waiting in citizens' inboxes."""

    def add_request(self, request: ConsentRequest, *, caps: RequestCaps, now: int) -> None:
        """Keep a new pending request; ``rate_limited`` (with a retry time) past ``caps``."""

    def request(self, request_id: str) -> ConsentRequest:
        """The request ``request_id`` (``not_found`` otherwise)."""

    def requests_of(
        self, requester: str, *, limit: int, before: int | None = None
    ) -> Sequence[ConsentRequest]:
        """``requester``'s requests, newest first, at most ``limit``, made before ``before``."""

    def pending_requesters(self, now: int, *, limit: int) -> Sequence[str]:
        """Requesters with requests pending at ``now`` (at most ``limit``)."""

    def pending_for(
        self, subjects: Iterable[tuple[str, str]], now: int, *, limit: int
    ) -> Sequence[ConsentRequest]:
        """Pending requests naming any ``(requester, pairwise id)`` of ``subjects``."""


class ConsentRecordStore(Protocol):
    """Consent records, every version kept."""

    def answer(self, record: ConsentRecord, *, now: int) -> None:
        """In one transaction: close the pending request ``record.request_id`` (answered with
        ``record.state``) and keep version 1 of ``record``; ``consent_request_closed`` if the
        request was answered meanwhile (then nothing is written)."""

    def add_version(self, record: ConsentRecord, *, previous: int) -> None:
        """Keep the next version of a consent whose current version is ``previous``
        (``conflict`` when it changed meanwhile)."""

    def latest(self, consent_id: str) -> ConsentRecord:
        """The current version of consent ``consent_id`` (``consent_not_found`` otherwise)."""

    def latest_many(self, consent_ids: Sequence[str]) -> Mapping[str, ConsentRecord]:
        """The current versions of those of ``consent_ids`` that exist, read together."""
        ...

    def versions(self, consent_id: str) -> Sequence[ConsentRecord]:
        """Every version of consent ``consent_id``, oldest first."""

    def use(
        self, consent_id: str, decide: Callable[[ConsentRecord], CoveredAccess], *, now: int
    ) -> CoveredAccess:
        """Decide on the current version, locked; when the access is ``once``, mark the consent
        used at ``now`` in the same transaction (``consent_not_found`` otherwise)."""

    def consents_of(
        self, requester: str, *, limit: int, before: int | None = None
    ) -> Sequence[ConsentRecord]:
        """``requester``'s consents (current versions), newest first."""

    def consents_about(self, log_subject: str, *, limit: int) -> Sequence[ConsentRecord]:
        """The consents of the citizen whose access-log handle is ``log_subject``."""


class SubjectStore(Protocol):
    """The citizens the platform has met, by pairwise id per sector -> access-log handle."""

    def meet(self, pairs: Iterable[tuple[str, str]], log_subject: str) -> None:
        """Remember that ``(sector, pairwise id)`` of ``pairs`` is the citizen ``log_subject``."""

    def log_subject(self, sector: str, subject: str) -> str | None:
        """The access-log handle of the citizen ``sector`` knows as ``subject``, if met."""


class NonceStore(Protocol):
    """The nonces used by verified presentations (nonces are handed out without storage)."""

    def check_nonce(self, nonce: str, now: int) -> None:
        """``replayed`` if the nonce was used already, else return."""

    def take_nonce(self, nonce: str, *, expires_at: int, now: int) -> None:
        """Use the nonce, once (``replayed`` otherwise)."""


class ConsentStore(ConsentRequestStore, ConsentRecordStore, SubjectStore, NonceStore, Protocol):
    """Everything the consent service keeps."""
