"""The :class:`Verifier`: requests made, answered and read; presentations verified directly.

The protocol steps are numbered in each method and in the functions it calls (:mod:`.requests`,
:mod:`.answers`, :mod:`.direct`); API keys live in :mod:`.api_keys`, the replay guard in
:mod:`.replay`. The store the verifier needs is declared here (:class:`VerifierStore`). The
package docstring (:mod:`civicstack.services.verifier`) gives the whole picture.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.openid4vp import DEFAULT_LIMITS as VP_LIMITS
from civicstack.openid4vp import (
    DcqlQuery,
    authorization_request_uri,
    client_id_for,
    read_authorization_response,
)
from civicstack.openid4vp import Limits as VpLimits
from civicstack.openid4vp.verifier_requests import (
    DEFAULT_RESULT_RETENTION,
    RequestStatus,
    StoredRequest,
    attempt_detail,
    check_answerable,
)
from civicstack.services.authorities import Authorities
from civicstack.services.verifier.answers import (
    WALLET_ERRORS,
    VerificationOutcome,
    outcome_of,
    verify_vp_token,
)
from civicstack.services.verifier.api_keys import ApiKey, ApiKeys, ApiKeyStore, Caller
from civicstack.services.verifier.direct import check_direct
from civicstack.services.verifier.limits import DEFAULT_LIMITS, Limits
from civicstack.services.verifier.replay import Accepted, ReplayBatches, ReplayStore, replay_until
from civicstack.services.verifier.requests import (
    REQUEST_LIFETIME,
    CreatedRequest,
    only_purpose,
    random_id,
    sign_request,
    what_is_asked,
)
from civicstack.trust import TrustRegistry
from civicstack.trust.parties import HostedAuthority, check_slug
from civicstack.types import Clock, StatusChecker

_PURGE_EVERY = 60


class RequestStore(Protocol):
    """Where presentation requests are kept; an outcome is written once, in one transaction
    with the digests it accepted (:func:`~civicstack.openid4vp.verifier_requests.check_answerable`
    decides inside it); a verified result is kept sealed and handed over once."""

    def create(self, request: StoredRequest) -> None:
        """Record a new pending request (``conflict`` on a reused id, nonce or state)."""

    def get(self, request_id: str) -> StoredRequest:
        """The request ``request_id`` with its attempts (not its result); ``not_found``
        otherwise."""

    def by_state(self, state: str) -> StoredRequest | None:
        """The request whose ``state`` is ``state``, if any."""

    def finish(
        self,
        request_id: str,
        *,
        status: RequestStatus,
        now: int,
        result: Mapping[str, Any] | None = None,
        error_code: str | None = None,
        error_detail: str | None = None,
        digests: Iterable[str] = (),
        relying_party: str = "",
        replay_until: int = 0,
    ) -> None:
        """Write the outcome of a pending, unexpired request, once, its ``result`` sealed
        (``replayed`` when a digest was accepted before; then nothing is written)."""

    def record_attempt(self, request_id: str, *, now: int, error_code: str, detail: str) -> None:
        """Count (and keep the first few) failed answers to a pending, unexpired request
        (``request_answered`` or ``expired`` otherwise)."""

    def take_result(self, request_id: str, *, now: int, retention: int) -> dict[str, Any]:
        """Hand over a verified result once, deleting it (``result_fetched`` after that,
        ``result_purged`` once ``retention`` seconds have passed since the answer)."""

    def purge(self, now: int, *, result_retention: int) -> int:
        """Drop replay digests past their use, results unread after ``result_retention``
        seconds, and long-finished requests."""


@dataclass(frozen=True, slots=True)
class DeskView:
    """A request as its desk page shows it: the link to show the holder, who asks, and the
    outcome so far."""

    link: str
    relying_party_name: str
    outcome: VerificationOutcome
    #: the purpose as registered ("Sell alcohol to adults"), when the registration stands
    purpose_description: str | None = None


class VerifierStore(RequestStore, ReplayStore, ApiKeyStore, Protocol):
    """Everything the verifier keeps: requests, accepted digests, API keys."""


class Verifier:
    """The platform's verifier for its hosted relying parties.

    It reads what wallets send within ``vp_limits`` (:class:`civicstack.openid4vp.Limits`) and
    what relying parties' backends send within ``limits``
    (:class:`civicstack.services.verifier.Limits`).
    """

    def __init__(
        self,
        *,
        authorities: Authorities,
        store: VerifierStore,
        registry: Callable[[float], TrustRegistry],
        status: StatusChecker,
        clock: Clock,
        base_url: str,
        admin_check: Callable[[str | None], None],
        result_retention: int = DEFAULT_RESULT_RETENTION,
        limits: Limits = DEFAULT_LIMITS,
        vp_limits: VpLimits = VP_LIMITS,
        page_key: bytes | None = None,
    ) -> None:
        self.limits = limits
        # Opens a request's desk page (``page_url``); random when not given (one process).
        self._page_key = page_key or secrets.token_bytes(32)
        self.vp_limits = vp_limits
        self.authorities = authorities
        self.result_retention = result_retention
        self.store = store
        self._registry = registry
        self.status = status
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self._parties: dict[str, HostedAuthority] = {}
        self._api_keys = ApiKeys(store, clock, admin_check)
        self._purged = 0
        self._batches = ReplayBatches(store)

    # --- where things are ----------------------------------------------------------------

    @property
    def response_uri(self) -> str:
        """The Response URI every wallet posts to (§8.2)."""
        return f"{self.base_url}/verifier/responses"

    def request_uri(self, request_id: str) -> str:
        """Where the Request Object of ``request_id`` is fetched (RFC 9101 §5.2)."""
        return f"{self.base_url}/verifier/request-objects/{request_id}"

    def page_token(self, request_id: str) -> str:
        """The capability that opens ``request_id``'s desk page: an HMAC of its id under the
        page key. The id alone is in the QR code anyone at the desk can read; the result needs
        this."""
        message = b"verifier-desk-page\x00" + request_id.encode()
        return hmac.new(self._page_key, message, "sha256").hexdigest()

    def page_url(self, request_id: str) -> str:
        """The desk page of ``request_id`` (the QR code, then the result), with its token."""
        return (
            f"{self.base_url}/verifier/requests/{request_id}/page?key={self.page_token(request_id)}"
        )

    def relying_party(self, name: str) -> HostedAuthority:
        """A relying party hosted here (cached: identifiers never change)."""
        hosted = self._parties.get(name)
        if hosted is None:
            check_slug(name, "a relying party name")
            hosted = self.authorities.get(name)
            if hosted.role != "relying_party":
                raise InputError("invalid_request", f"{name} is not a relying party")
            self._parties[name] = hosted
        return hosted

    # --- who calls -----------------------------------------------------------------------

    def issue_api_key(self, relying_party: str) -> tuple[str, str]:
        """A new API key for ``relying_party``'s backend: ``(id, key)``; the key is shown once."""
        self.relying_party(relying_party)
        return self._api_keys.issue(relying_party)

    def api_keys(self, relying_party: str) -> tuple[ApiKey, ...]:
        """Every API key of ``relying_party``'s backend, oldest first (no secrets)."""
        self.relying_party(relying_party)
        return self._api_keys.listed(relying_party)

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key at once (in every process within a second)."""
        self._api_keys.revoke(key_id)

    def authenticate(self, token: str | None) -> Caller:
        """The caller behind a bearer token: the admin, or a relying party's API key."""
        return self._api_keys.authenticate(token)

    # --- requests ------------------------------------------------------------------------

    def create_request(
        self,
        caller: Caller,
        *,
        relying_party: str | None = None,
        preset: str | None = None,
        dcql_query: object = None,
        purpose: str | None = None,
    ) -> CreatedRequest:
        """Make a request from a preset or a DCQL query for the relying party acting."""
        now = self.clock.now()
        # 1. what is asked, and by whom: a preset, or a DCQL query with its purpose
        chosen, query, name = what_is_asked(caller, relying_party, preset, dcql_query)
        hosted = self.relying_party(name)
        registry = self._registry(0)
        if purpose is None:
            purpose = chosen.purpose if chosen is not None else only_purpose(registry, hosted, now)
        # 2. the registration allows it: refused up front when suspended, unregistered or
        # over-asking (the wallet checks the same, but nobody should be asked for it)
        registration = registry.check_request(
            hosted.identifier, purpose, query.claims_by_vct(), now
        )
        # 3. fresh identifiers, nonce and state (§5.2, §13.3: 128 bits each)
        request_id, nonce, state = random_id(), random_id(), random_id()
        client_id = client_id_for(hosted.identifier)
        expires_at = now + REQUEST_LIFETIME
        # 4. the registrar attests the relying party's key (§12); 5. the relying party signs
        token = sign_request(
            self.authorities,
            hosted,
            registration=registration,
            registry=registry,
            response_uri=self.response_uri,
            client_id=client_id,
            nonce=nonce,
            state=state,
            query=query,
            purpose=purpose,
            now=now,
            expires_at=expires_at,
        )
        self.store.create(
            StoredRequest(
                id=request_id,
                relying_party=hosted.name,
                client_id=client_id,
                purpose=purpose,
                preset=chosen.name if chosen is not None else None,
                dcql_query=json_dumps(query.to_json()).decode(),
                nonce=nonce,
                state=state,
                request_object=token,
                created_at=now,
                expires_at=expires_at,
                status="pending",
            )
        )
        request_uri = self.request_uri(request_id)
        return CreatedRequest(
            id=request_id,
            request=authorization_request_uri(client_id, request_uri),
            client_id=client_id,
            request_uri=request_uri,
            relying_party=hosted.name,
            purpose=purpose,
            preset=chosen.name if chosen is not None else None,
            expires_at=expires_at,
            page=self.page_url(request_id),
        )

    def request_object(self, request_id: str) -> str:
        """The signed Request Object of a pending request (RFC 9101 §5.2: by reference)."""
        now = self.clock.now()
        row = self._pending(request_id, now)
        # A relying party suspended since it asked gets no wallet to answer it.
        self._registry(1).relying_party(self.relying_party(row.relying_party).identifier, now)
        return row.request_object

    def _pending(self, request_id: str, now: int) -> StoredRequest:
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 32:
            raise CivicError("not_found", "no such presentation request")
        row = self.store.get(request_id)
        check_answerable(row.status, row.expires_at, now)
        return row

    def result(self, caller: Caller, request_id: str) -> VerificationOutcome:
        """A request's outcome, for the relying party that made it (or the admin).

        A verified result is handed over once and deleted: reading it again is
        ``result_fetched``, and reading it after the retention is ``result_purged``. A pending
        request may be polled freely; its failed attempts are listed.
        """
        if not 0 < len(request_id) <= 32:
            raise CivicError("not_found", "no such presentation request")
        now = self.clock.now()
        self._purge(now)
        row = self.store.get(request_id)
        if caller.relying_party is not None and caller.relying_party != row.relying_party:
            raise CivicError("not_found", "no such presentation request")
        if row.status != "verified":
            return outcome_of(row, now)
        taken = self.store.take_result(request_id, now=now, retention=self.result_retention)
        return outcome_of(row, now, taken)

    def desk(self, request_id: str, token: str) -> DeskView:
        """What the desk page of ``request_id`` shows to the holder of its ``token``: the link
        while it is open, and its outcome as :meth:`result` hands it to the relying party (a
        verified result once). ``not_found`` for a wrong token, as for an unknown id."""
        if not (
            isinstance(token, str)
            and len(token) <= 128
            and 0 < len(request_id) <= 32
            and hmac.compare_digest(token.encode(), self.page_token(request_id).encode())
        ):
            raise CivicError("not_found", "no such presentation request")
        row = self.store.get(request_id)
        hosted = self.relying_party(row.relying_party)
        link = authorization_request_uri(row.client_id, self.request_uri(row.id))
        outcome = self.result(Caller(row.relying_party), request_id)
        return DeskView(link, hosted.display_name, outcome, self._described(hosted, outcome))

    def _described(self, hosted: HostedAuthority, outcome: VerificationOutcome) -> str | None:
        """The registered description of the request's purpose; none if the relying party is
        no longer registered (suspended, expired): the page then shows the purpose's id."""
        try:
            registrations = self._registry(1.0).relying_party(hosted.identifier, self.clock.now())
        except VerificationError:
            return None
        for registration in registrations:
            purpose = registration.purposes.get(outcome.purpose)
            if purpose is not None:
                return purpose.description
        return None

    # --- answers (§8.2) ------------------------------------------------------------------

    def respond(self, form: Mapping[str, str | None]) -> VerificationOutcome:
        """Take a wallet's direct_post Authorization Response; return the request's outcome
        (without its result, which is for the relying party).

        Anyone holding the link can post here, so only a valid answer ends the request: an
        error response, or one that fails verification, is recorded as an attempt (its error
        raised to the poster) and the request waits for the genuine wallet until it expires.
        """
        now = self.clock.now()
        self._purge(now)
        # 1. the response names a recent request by its state (§14.3.2)
        response = read_authorization_response(form, limits=self.vp_limits)
        row = self.store.by_state(response.state)
        if row is None:
            raise CivicError("not_found", "no presentation request has this state")
        check_answerable(row.status, row.expires_at, now)
        # 2. an Authorization Error Response (§8.5): the holder declined or the wallet could
        # not answer -- or someone else holding the link said so; recorded, the request stays
        if response.error is not None:
            code = WALLET_ERRORS.get(response.error, "wallet_error")
            detail = f"{response.error}: {response.error_description or 'no description'}"
            self.store.record_attempt(
                row.id, now=now, error_code=code, detail=attempt_detail(detail)
            )
            return outcome_of(self.store.get(row.id), now)
        assert response.vp_token is not None
        # 3. the VP Token verified (§8.6); a failure is an attempt, the request stays
        try:
            credentials, claims, digests = self._verify_token(row, response.vp_token, now)
        except CivicError as exc:
            self._attempt(row, exc, now)
            raise
        # 4. the outcome, once (a concurrent valid answer may have won), its result sealed
        try:
            self.store.finish(
                row.id,
                status="verified",
                now=now,
                result={"claims": claims, "credentials": credentials},
                digests=digests,
                relying_party=row.relying_party,
                replay_until=replay_until(now, limits=self.limits),
            )
        except CivicError as exc:
            if exc.code == "replayed":
                self._attempt(row, exc, now)
            raise
        return outcome_of(self.store.get(row.id), now)

    def _attempt(self, row: StoredRequest, error: CivicError, now: int) -> None:
        if error.code in ("internal_error", "database_error"):
            return  # our failure, not the answer's
        try:
            self.store.record_attempt(
                row.id, now=now, error_code=error.code, detail=attempt_detail(error.detail)
            )
        except CivicError as again:
            # Answered (or expired) meanwhile: that outcome stands, and this caller learns it.
            raise again from error

    def _verify_token(
        self, row: StoredRequest, vp_token: Mapping[str, tuple[str, ...]], now: int
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        query = DcqlQuery.parse(json_loads_strict(row.dcql_query))
        registry = self._registry(1)
        # The relying party is still registered and not suspended (refused everywhere).
        registry.relying_party(self.relying_party(row.relying_party).identifier, now)
        return verify_vp_token(
            query,
            vp_token,
            registry=registry,
            status=self.status,
            client_id=row.client_id,
            nonce=row.nonce,
            now=now,
            limits=self.limits,
        )

    def _purge(self, now: int) -> None:
        if now - self._purged >= _PURGE_EVERY:
            self._purged = now
            self.store.purge(now, result_retention=self.result_retention)

    # --- presentations received elsewhere ------------------------------------------------

    def check_presentation(
        self,
        caller: Caller,
        presentation: object,
        *,
        nonce: object,
        aud: object = None,
        relying_party: str | None = None,
        query: DcqlQuery | None = None,
    ) -> Accepted:
        """Steps 1-3 of :meth:`verify_presentation`: everything but the replay guard."""
        now = self.clock.now()
        accepted = check_direct(
            caller,
            presentation,
            nonce=nonce,
            aud=aud,
            relying_party=relying_party,
            query=query,
            hosted_as=self.relying_party,
            registry_at=self._registry,
            status=self.status,
            now=now,
            limits=self.limits,
        )
        self._purge(now)
        return accepted

    def verify_presentation(
        self,
        caller: Caller,
        presentation: object,
        *,
        nonce: object,
        aud: object = None,
        relying_party: str | None = None,
        query: DcqlQuery | None = None,
    ) -> dict[str, Any]:
        """Verify one SD-JWT+KB for a relying party's backend against its ``nonce`` and ``aud``
        (default: its client_id); the trust registry is at most a second old."""
        accepted = self.check_presentation(
            caller, presentation, nonce=nonce, aud=aud, relying_party=relying_party, query=query
        )
        # 4. never accepted before (last: only a valid presentation is remembered)
        self.store.remember(
            accepted.digest, relying_party=accepted.relying_party, until=accepted.until
        )
        return accepted.result

    async def verify_presentation_async(
        self,
        caller: Caller,
        presentation: object,
        *,
        nonce: object,
        aud: object = None,
        relying_party: str | None = None,
        query: DcqlQuery | None = None,
    ) -> dict[str, Any]:
        """:meth:`verify_presentation` on an event loop: the replay guard's writes of the
        requests in flight commit together (group commit), one transaction per batch."""
        accepted = self.check_presentation(
            caller, presentation, nonce=nonce, aud=aud, relying_party=relying_party, query=query
        )
        # 4. never accepted before: answered once the batch holding it has committed
        await self._batches.remember(accepted)
        return accepted.result
