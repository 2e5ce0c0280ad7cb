"""The data exchange: organisations fetch data from each other under the citizen's consent,
and every access is in the access log before any data leaves.

X-Road's model over plain HTTPS: a provider publishes a data service through the platform
(:meth:`Exchange.publish`), hosted (it writes its records into the platform keyed by its own
pairwise id of each citizen, :meth:`Exchange.put_records`) or remote (the platform asks the
provider's HTTPS endpoint). A requester, authenticated by its relying-party API key, names the
consent and asks for categories about a citizen by ITS pairwise id (:meth:`Exchange.fetch`).
The steps (:mod:`civicstack.access.decision` has the rules):

1. the requester's registration (trust registry): not suspended, purpose registered for this
   data service and these categories;
2. the data service is published and offers the categories;
3. the consent covers the access (:class:`ConsentCheck`, the consent service), which also
   resolves the provider's pairwise id of the citizen and their access-log handle;
4. the record: read from the hosted records, or fetched from the provider (capped, timed out);
   only the categories asked are kept; a "once" consent is used up only now (checked again);
5. the access is appended to the access log and committed (group commit, one checkpoint per
   batch) — only then is the data released, with a C2SP tlog-proof receipt.

On an event loop (:meth:`Exchange.fetch_async`) the reads of steps 3 and 4 are made for every
fetch the loop starts in one turn at once (``TurnLookups``: one statement for the turn's
consents, one for its hosted records), so over a database server the loop waits for one round
trip per step and turn, not per fetch.

A refusal at steps 1-4 is logged too, without data, against the citizen when the platform knows
them (:meth:`ConsentCheck.log_subject_for`), and raised as :class:`AccessRefusedError` carrying its
receipt. If the log cannot be written nothing is released: ``access_log_unavailable`` (503).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from civicstack._crypto import json_dumps, json_object_strict
from civicstack.access import (
    REFUSAL_CODES,
    AccessEntry,
    DataService,
    check_categories,
    check_offered,
    check_requester,
)
from civicstack.access.decision import SERVICE_NAME, Kind, data_service_vct
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.log import Receipt
from civicstack.pairwise import check_pairwise_id
from civicstack.services.exchange.access_log import AccessRecorder, Recorded
from civicstack.services.exchange.consent import ConsentCheck, Covered
from civicstack.services.exchange.storage import DataServiceStorage
from civicstack.services.turn_batches import TurnLookups
from civicstack.services.verifier.api_keys import Caller
from civicstack.trust import TrustRegistry
from civicstack.types import Clock

__all__ = [
    "MAX_FETCH_BODY",
    "MAX_RECORD_BYTES",
    "AccessRefusedError",
    "Exchange",
    "FetchRequest",
    "Released",
    "RemoteRecords",
]

#: A fetch request's body is small: names, a pairwise id, a few categories.
MAX_FETCH_BODY = 4096
#: One citizen's record in one data service, as stored or as a remote provider answers it.
MAX_RECORD_BYTES = 64 * 1024
#: Records written in one call.
MAX_RECORDS_PER_WRITE = 256
_CONSENT_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._:-]{0,63}")
_FETCH_MEMBERS = frozenset({"consent", "provider", "service", "purpose", "subject", "categories"})
_SERVICE_CACHE_SECONDS = 1.0


class RemoteRecords(Protocol):
    """How the platform asks a remote data service for a record (:mod:`civicstack.fetch`)."""

    def fetch_record(
        self, url: str, *, subject: str, categories: Sequence[str], max_bytes: int
    ) -> bytes | None:
        """The provider's record of ``subject`` (its pairwise id) as JSON bytes, None if it has
        none; ``provider_unavailable`` if it fails, is slow, or answers too much."""
        ...

    def close(self) -> None:
        """Close its connections."""
        ...


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What a requester asks: categories of a data service about a subject, under a consent."""

    consent: str | None  # None: no consent of the citizen names this access (refused, logged)
    provider: str
    service: str
    purpose: str
    subject: str  # the requester's pairwise id of the citizen
    categories: tuple[str, ...]

    @classmethod
    def parse(cls, body: bytes) -> FetchRequest:
        """Read a fetch request's JSON body strictly (caps, members, shapes)."""
        if len(body) > MAX_FETCH_BODY:
            raise InputError("too_large", f"a fetch request is at most {MAX_FETCH_BODY} bytes")
        fields = json_object_strict(body)
        unknown = set(fields) - _FETCH_MEMBERS
        missing = _FETCH_MEMBERS - set(fields)
        if unknown or missing:
            raise InputError(
                "invalid_request",
                f"a fetch request has exactly {sorted(_FETCH_MEMBERS)}"
                + (f"; unknown {sorted(unknown)[:5]}" if unknown else "")
                + (f"; missing {sorted(missing)}" if missing else ""),
            )
        consent = fields["consent"]
        if not isinstance(consent, str) or not _CONSENT_ID.fullmatch(consent):
            raise InputError("invalid_request", "consent is a consent id")
        for what in ("provider", "service"):
            if not isinstance(fields[what], str) or not SERVICE_NAME.fullmatch(fields[what]):
                raise InputError("invalid_request", f"{what} is a lowercase slug")
        purpose = fields["purpose"]
        if not isinstance(purpose, str) or not _CONSENT_ID.fullmatch(purpose):
            raise InputError("invalid_request", "purpose is a registered purpose id")
        return cls(
            consent,
            fields["provider"],
            fields["service"],
            purpose,
            check_pairwise_id(fields["subject"]),
            check_categories(fields["categories"]),
        )


@dataclass(frozen=True, slots=True)
class Released:
    """Data released to a requester, and the proof that its access is in the log."""

    data: dict[str, Any]
    entry: AccessEntry
    recorded: Recorded

    def to_json(self) -> dict[str, Any]:
        """The answer the requester receives."""
        receipt, text = self.recorded.receipt, self.recorded.receipt_text
        if text is None and receipt is not None:
            text = receipt.text()
        return {
            "outcome": "released",
            "provider": self.entry.provider,
            "service": self.entry.service,
            "categories": list(self.entry.categories),
            "data": self.data,
            "log_index": self.recorded.index,
            "receipt": text,
        }


class AccessRefusedError(CivicError):
    """An access refused and logged: the refusal's code, and the receipt of its log entry."""

    def __init__(self, code: str, detail: str, receipt: Receipt | None) -> None:
        super().__init__(code, detail)
        self.receipt = receipt


@dataclass(frozen=True, slots=True)
class _Authorized:
    service: DataService
    covered: Covered


class Exchange:
    """The data-exchange service (see the module docstring)."""

    def __init__(
        self,
        *,
        services: DataServiceStorage,
        access_log: AccessRecorder,
        consents: ConsentCheck,
        registry: Callable[[float], TrustRegistry],
        identifier: Callable[[str], str],
        remote: RemoteRecords,
        clock: Clock,
    ) -> None:
        """``registry(max_age)`` is the trust registry; ``identifier`` the registered
        identifier (client_id) of an organisation's name."""
        self.services = services
        self.access_log = access_log
        self.consents = consents
        self._registry = registry
        self._identifier = identifier
        self._remote = remote
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, DataService | None]] = {}
        self._hosted: TurnLookups[tuple[str, str, str], bytes] = TurnLookups(services.records)
        self._lock = threading.Lock()

    # --- providers -----------------------------------------------------------------------

    def publish(
        self,
        caller: Caller,
        *,
        provider: str | None,
        name: str,
        title: str,
        categories: Sequence[str],
        kind: Kind,
        url: str | None = None,
    ) -> DataService:
        """Publish a data service of ``provider`` (the caller's own, or any for the admin)."""
        who = caller.acting_for(provider)
        if who is None:
            raise InputError("invalid_request", "name the provider the admin publishes for")
        service = DataService(who, name, title, check_categories(list(categories)), kind, url)
        self.services.publish(service, now=self.clock.now())
        with self._lock:
            self._cache.pop((service.provider, service.name), None)
        return service

    def put_records(
        self,
        caller: Caller,
        provider: str,
        name: str,
        records: Sequence[tuple[object, object]],
    ) -> int:
        """Write hosted records ``(pairwise id, {category: value})`` of ``provider``'s service
        (the provider's API key or the admin); all or nothing. How many were written."""
        caller.acting_for(provider)
        service = self._service(provider, name, cached=False)
        if service.kind != "hosted":
            raise InputError("invalid_request", f"{provider}/{name} is a remote data service")
        if not 0 < len(records) <= MAX_RECORDS_PER_WRITE:
            raise InputError("too_large", f"write 1 to {MAX_RECORDS_PER_WRITE} records at a time")
        rows: list[tuple[str, bytes]] = []
        for subject, record in records:
            data = _record_bytes(record, service)
            rows.append((check_pairwise_id(subject), data))
        if len({s for s, _ in rows}) != len(rows):
            raise InputError("invalid_request", "each subject's record is written once per call")
        self.services.put_records(provider, name, rows, now=self.clock.now())
        return len(rows)

    def close(self) -> None:
        """Commit the accesses in flight, stop the log writer, close the provider client."""
        self.access_log.close()
        self._remote.close()

    def listed(self) -> list[DataService]:
        """Every published data service."""
        return self.services.services()

    # --- requesters ------------------------------------------------------------------------

    def fetch(self, caller: Caller, request: FetchRequest) -> Released:
        """Steps 1-5 of the module docstring, blocking; raises :class:`AccessRefusedError` (logged)
        or ``access_log_unavailable``."""
        requester, now = self._requester(caller), self.clock.now()
        ok: _Authorized | None = None
        try:
            ok = self._authorize(requester, request, now)
            data = self._read(ok)
            self._use(ok, requester, request, now)
        except CivicError as exc:
            if exc.code not in REFUSAL_CODES:
                raise
            entry, subject = self._refusal(requester, request, now, exc, ok)
            raise AccessRefusedError(
                exc.code, exc.detail, self.access_log.record(entry, subject).receipt
            ) from exc
        entry = self._released(requester, request, now, ok.covered)
        return Released(data, entry, self.access_log.record(entry, ok.covered.log_subject))

    async def fetch_async(self, caller: Caller, request: FetchRequest) -> Released:
        """:meth:`fetch` on an event loop: the log's commit (and a remote provider's answer)
        is awaited, not blocked on."""
        requester, now = self._requester(caller), self.clock.now()
        ok: _Authorized | None = None
        try:
            ok = await self._authorize_async(requester, request, now)
            data = await self._read_async(ok)
            self._use(ok, requester, request, now)
        except CivicError as exc:
            if exc.code not in REFUSAL_CODES:
                raise
            entry, subject = self._refusal(requester, request, now, exc, ok)
            recorded = await self.access_log.record_async(entry, subject)
            raise AccessRefusedError(exc.code, exc.detail, recorded.receipt) from exc
        entry = self._released(requester, request, now, ok.covered)
        recorded = await self.access_log.record_async(entry, ok.covered.log_subject)
        return Released(data, entry, recorded)

    async def current_async(
        self, caller: Caller, provider: object, category: object, subject: object
    ) -> Released:
        """The current ``category`` of data ``provider`` holds about the citizen the caller
        knows as ``subject``, under the citizen's consent: the link a thin event carries.

        The fetch it makes is :meth:`fetch_async`'s, the consent and purpose found for the
        caller: 0. the caller's registered purposes that let it ask ``provider`` for
        ``category`` (none: ``overasking``, not logged, for no purpose names the attempt; a
        suspended caller's purposes are those it was registered for, so that its refusal,
        ``relying_party_suspended``, is logged like any other); then the citizen's consent
        under one of them (:meth:`ConsentCheck.consent_for`; none: ``consent_not_found``,
        logged) and the data service its purpose names."""
        requester, now = self._requester(caller), self.clock.now()
        if not isinstance(provider, str) or not SERVICE_NAME.fullmatch(provider):
            raise InputError("invalid_request", "provider is a lowercase slug")
        (asked,) = check_categories([category])
        subject_id = check_pairwise_id(subject)
        # 0. which of the requester's purposes name a data service of provider with category
        prefix = data_service_vct(provider, "")
        services: dict[str, str] = {}
        registry, identifier = self._registry(1.0), self._identifier(requester)
        try:
            registrations = registry.relying_party(identifier, now)
        except VerificationError as exc:
            if exc.code != "relying_party_suspended":
                raise
            # A suspended requester's attempt is refused AND logged (by fetch_async's checks)
            # under the purposes it was registered for.
            registrations = registry.registrations_on_record(identifier, now)
        for registration in registrations:
            for purpose_id, registered in registration.purposes.items():
                for vct, names in registered.claims.items():
                    if vct.startswith(prefix) and asked in names:
                        services.setdefault(purpose_id, vct[len(prefix) :])
        if not services:
            raise VerificationError(
                "overasking", f"{requester} is not registered to fetch {asked} from {provider}"
            )
        found = self.consents.consent_for(
            requester=requester,
            requester_subject=subject_id,
            provider=provider,
            purposes=sorted(services),
            category=asked,
            now=now,
        )
        consent, purpose = (None, min(services)) if found is None else found
        request = FetchRequest(consent, provider, services[purpose], purpose, subject_id, (asked,))
        return await self.fetch_async(caller, request)

    @staticmethod
    def _requester(caller: Caller) -> str:
        if caller.relying_party is None:
            raise CivicError(
                "forbidden", "a requester fetches with its own relying party's API key"
            )
        return caller.relying_party

    def _authorize(self, requester: str, request: FetchRequest, now: int) -> _Authorized:
        service = self._registered(requester, request, now)
        assert request.consent is not None
        covered = self.consents.check_access(
            request.consent,
            requester=requester,
            requester_subject=request.subject,
            provider=request.provider,
            purpose=request.purpose,
            categories=request.categories,
            now=now,
            use=False,
        )
        return self._covering(requester, request, service, covered)

    async def _authorize_async(
        self, requester: str, request: FetchRequest, now: int
    ) -> _Authorized:
        """:meth:`_authorize` on an event loop: the consent read with the turn's others."""
        service = self._registered(requester, request, now)
        assert request.consent is not None
        covered = await self.consents.check_access_async(
            request.consent,
            requester=requester,
            requester_subject=request.subject,
            provider=request.provider,
            purpose=request.purpose,
            categories=request.categories,
            now=now,
        )
        return self._covering(requester, request, service, covered)

    def _registered(self, requester: str, request: FetchRequest, now: int) -> DataService:
        # 1. the requester's registration: not suspended, purpose registered for the service
        check_requester(
            self._registry(1.0),
            self._identifier(requester),
            purpose=request.purpose,
            service=(request.provider, request.service),
            categories=request.categories,
            now=now,
        )
        # 2. the service is published and offers the categories
        service = self._service(request.provider, request.service)
        check_offered(service, request.categories)
        # 3. the consent covers the access (the caller asks the consent service, then
        # :meth:`_covering` checks its answer)
        if request.consent is None:
            raise CivicError("consent_not_found", "the citizen gave no consent for this access")
        return service

    @staticmethod
    def _covering(
        requester: str, request: FetchRequest, service: DataService, covered: Covered
    ) -> _Authorized:
        if (covered.requester, covered.provider, covered.requester_subject) != (
            requester,
            request.provider,
            request.subject,
        ) or not set(request.categories) <= set(covered.categories):
            # The consent service answered for another access: never release on it.
            raise CivicError("outside_consent", "the consent does not cover this access")
        return _Authorized(service, covered)

    def _use(self, ok: _Authorized, requester: str, request: FetchRequest, now: int) -> None:
        # A "once" consent is used up only now that there is data to release (a missing
        # record or a failing provider leaves it for another try); checked again as it is
        # used, so of two fetches racing on it one is refused.
        if ok.covered.once:
            assert request.consent is not None
            self.consents.check_access(
                request.consent,
                requester=requester,
                requester_subject=request.subject,
                provider=request.provider,
                purpose=request.purpose,
                categories=request.categories,
                now=now,
            )

    def _read(self, ok: _Authorized) -> dict[str, Any]:
        # 4. the record, cut to the categories asked
        service = ok.service
        if service.kind == "hosted":
            data = self.services.record(service.provider, service.name, ok.covered.provider_subject)
        else:
            data = self._remote_record(ok)
        return self._cut(ok, data)

    async def _read_async(self, ok: _Authorized) -> dict[str, Any]:
        """:meth:`_read` on an event loop: a hosted record read with the turn's others, a
        remote provider awaited in a thread."""
        service = ok.service
        if service.kind == "hosted":
            key = (service.provider, service.name, ok.covered.provider_subject)
            data = await self._hosted.get(key)
        else:
            data = await asyncio.to_thread(self._remote_record, ok)
        return self._cut(ok, data)

    def _remote_record(self, ok: _Authorized) -> bytes | None:
        assert ok.service.url is not None
        return self._remote.fetch_record(
            ok.service.url,
            subject=ok.covered.provider_subject,
            categories=ok.covered.categories,
            max_bytes=MAX_RECORD_BYTES,
        )

    @staticmethod
    def _cut(ok: _Authorized, data: bytes | None) -> dict[str, Any]:
        service, asked = ok.service, ok.covered.categories
        if data is None:
            raise CivicError("no_record", f"{service.provider} holds no record of this subject")
        try:
            record = json_object_strict(data)
        except InputError as exc:
            raise CivicError(
                "provider_unavailable", f"{service.provider} answered a malformed record"
            ) from exc
        out = {c: record[c] for c in asked if c in record}
        if not out:
            raise CivicError(
                "no_record", f"{service.provider} holds none of these categories of this subject"
            )
        return out

    def _service(self, provider: str, name: str, *, cached: bool = True) -> DataService:
        key, now = (provider, name), time.monotonic()
        hit = self._cache.get(key) if cached else None
        if hit is not None and now - hit[0] < _SERVICE_CACHE_SECONDS:
            service = hit[1]
        else:
            service = self.services.service(provider, name)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (now, service)
        if service is None:
            raise CivicError("unknown_data_service", f"no data service {provider}/{name}")
        return service

    @staticmethod
    def _released(requester: str, request: FetchRequest, now: int, covered: Covered) -> AccessEntry:
        return AccessEntry(
            time=now,
            requester=requester,
            provider=request.provider,
            service=request.service,
            purpose=request.purpose,
            categories=request.categories,
            outcome="released",
            consent=covered.consent_id,
            consent_version=covered.consent_version,
        )

    def _refusal(
        self,
        requester: str,
        request: FetchRequest,
        now: int,
        exc: CivicError,
        ok: _Authorized | None,
    ) -> tuple[AccessEntry, str | None]:
        covered = None if ok is None else ok.covered
        subject = (
            covered.log_subject
            if covered is not None
            else self.consents.log_subject_for(requester, request.subject)
        )
        entry = AccessEntry(
            time=now,
            requester=requester,
            provider=request.provider,
            service=request.service,
            purpose=request.purpose,
            categories=request.categories,
            outcome="refused",
            refusal=exc.code,
            consent=request.consent,
            consent_version=None if covered is None else covered.consent_version,
        )
        return entry, subject


def _record_bytes(record: object, service: DataService) -> bytes:
    """A hosted record as stored: a JSON object of the service's categories, capped."""
    if not isinstance(record, Mapping) or not record:
        raise InputError("invalid_request", "a record maps data categories to their values")
    extra = sorted(set(record) - set(service.categories))
    if extra:
        raise InputError(
            "category_not_offered",
            f"{service.provider}/{service.name} does not offer {', '.join(map(str, extra[:5]))}",
        )
    data = json_dumps(dict(record))
    if len(data) > MAX_RECORD_BYTES:
        raise InputError("too_large", f"a record is at most {MAX_RECORD_BYTES} bytes")
    return data
