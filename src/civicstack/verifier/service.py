"""The :class:`Verifier`: requests made, answered and read; presentations verified directly.

The protocol steps are numbered in each method; the package docstring
(:mod:`civicstack.verifier`) gives the whole picture.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.authorities import Authorities
from civicstack.credentials import VerifiedCredential, verify_presentation
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.openid4vp import (
    DcqlQuery,
    authorization_request_uri,
    client_id_for,
    read_authorization_response,
    sign_request_object,
    sign_verifier_attestation,
)
from civicstack.stores.authorities import HostedAuthority, check_slug
from civicstack.stores.verifier import StoredRequest, VerifierStore
from civicstack.trust import RelyingPartyRegistration, TrustRegistry
from civicstack.types import Clock, StatusChecker
from civicstack.verifier.checks import Accepted, ReplayBatches, kb_digest
from civicstack.verifier.values import (
    API_KEY_PREFIX,
    MAX_KB_AGE,
    MAX_PRESENTATION_BYTES,
    MAX_SKEW,
    PRESETS,
    REQUEST_LIFETIME,
    Caller,
    CreatedRequest,
    Outcome,
    Preset,
)

_KEY_CACHE_SECONDS = 1.0
_PURGE_EVERY = 60
#: Wallet errors (§8.5) as the outcome a relying party reads.
_WALLET_ERRORS = {"access_denied": "consent_declined"}


def _random_id() -> str:
    # Hex, not base64url: `civic verifier result ID` would read an id starting with "-" as an
    # option.
    return secrets.token_hex(16)


def _credential_json(verified: VerifiedCredential) -> dict[str, Any]:
    return {
        "iss": verified.iss,
        "vct": verified.vct,
        "claims": verified.claims,
        "disclosed": list(verified.disclosed),
        "exp": verified.exp,
    }


def _outcome(row: StoredRequest, now: int) -> Outcome:
    status, error = row.status, None
    claims: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    if row.status == "pending" and now >= row.expires_at:
        status = "failed"
        error = {"code": "expired", "detail": "the presentation request expired unanswered"}
    elif row.status == "failed":
        error = {"code": row.error_code or "internal_error", "detail": row.error_detail or ""}
    elif row.status == "verified" and row.result is not None:
        result = json_loads_strict(row.result)
        claims, credentials = result["claims"], result["credentials"]
    return Outcome(
        id=row.id,
        status=status,
        relying_party=row.relying_party,
        purpose=row.purpose,
        preset=row.preset,
        created_at=row.created_at,
        expires_at=row.expires_at,
        answered_at=row.answered_at,
        claims=claims,
        credentials=credentials,
        error=error,
    )


class Verifier:
    """The platform's verifier for its hosted relying parties."""

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
    ) -> None:
        self.authorities = authorities
        self.store = store
        self._registry = registry
        self.status = status
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self._admin_check = admin_check
        self._parties: dict[str, HostedAuthority] = {}
        self._keys: dict[str, tuple[float, str | None, str]] = {}
        self._lock = threading.Lock()
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
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        self.store.add_key(key_id, relying_party, digest, now=self.clock.now())
        return key_id, f"{API_KEY_PREFIX}.{key_id}.{secret}"

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key at once (in every process within a second)."""
        self.store.revoke_key(key_id, now=self.clock.now())
        with self._lock:
            self._keys.pop(key_id, None)

    def authenticate(self, token: str | None) -> Caller:
        """The caller behind a bearer token: the admin, or a relying party's API key."""
        if token is None:
            raise CivicError("unauthorized", "send the admin token or an API key as a bearer")
        prefix, _, rest = token.partition(".")
        if prefix != API_KEY_PREFIX:
            self._admin_check(token)
            return Caller(None)
        key_id, _, secret = rest.partition(".")
        entry = self._key(key_id)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        rp, expected = entry[1], entry[2]
        if rp is None or not hmac.compare_digest(digest, expected):
            raise CivicError("unauthorized", "unknown or revoked API key")
        return Caller(rp)

    def _key(self, key_id: str) -> tuple[float, str | None, str]:
        # Looked up at most once a second per process: the verify endpoint stays off the
        # database, and a revocation reaches every worker within a second.
        now = time.monotonic()
        cached = self._keys.get(key_id)
        if cached is not None and now - cached[0] < _KEY_CACHE_SECONDS:
            return cached
        stored = self.store.key(key_id) if 0 < len(key_id) <= 32 else None
        if stored is None or stored.revoked_at is not None:
            entry: tuple[float, str | None, str] = (now, None, "")
        else:
            entry = (now, stored.relying_party, stored.secret_hash)
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[key_id] = entry
        return entry

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
        chosen, query, name = self._what(caller, relying_party, preset, dcql_query)
        hosted = self.relying_party(name)
        registry = self._registry(0)
        if purpose is None:
            purpose = (
                chosen.purpose if chosen is not None else self._only_purpose(registry, hosted, now)
            )
        # 2. the registration allows it: refused up front when suspended, unregistered or
        # over-asking (the wallet checks the same, but nobody should be asked for it)
        registration = registry.check_request(
            hosted.identifier, purpose, query.claims_by_vct(), now
        )
        # 3. fresh identifiers, nonce and state (§5.2, §13.3: 128 bits each)
        request_id, nonce, state = _random_id(), _random_id(), _random_id()
        client_id = client_id_for(hosted.identifier)
        expires_at = now + REQUEST_LIFETIME
        # 4. the registrar attests the relying party's key (§12); 5. the relying party signs
        token = self._sign(
            hosted,
            registration=registration,
            registry=registry,
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
        )

    def _what(
        self, caller: Caller, relying_party: str | None, preset: str | None, dcql_query: object
    ) -> tuple[Preset | None, DcqlQuery, str]:
        if (preset is None) == (dcql_query is None):
            raise InputError("invalid_request", "give a preset or a dcql_query (one of them)")
        if preset is not None:
            chosen = PRESETS.get(preset)
            if chosen is None:
                raise InputError(
                    "invalid_request", f"no preset {preset!r}: one of {', '.join(PRESETS)}"
                )
            return chosen, chosen.query, caller.acting_for(relying_party) or chosen.relying_party
        acting = caller.acting_for(relying_party)
        if acting is None:
            raise InputError("invalid_request", "name the relying_party the query is made for")
        return None, DcqlQuery.parse(dcql_query), acting

    def _only_purpose(self, registry: TrustRegistry, hosted: HostedAuthority, now: int) -> str:
        purposes = {p for r in registry.relying_party(hosted.identifier, now) for p in r.purposes}
        if len(purposes) != 1:
            raise InputError(
                "invalid_request", f"name the purpose: one of {', '.join(sorted(purposes))}"
            )
        return purposes.pop()

    def _sign(
        self,
        hosted: HostedAuthority,
        *,
        registration: RelyingPartyRegistration,
        registry: TrustRegistry,
        client_id: str,
        nonce: str,
        state: str,
        query: DcqlQuery,
        purpose: str,
        now: int,
        expires_at: int,
    ) -> str:
        _, key = self.authorities.store.signing_key(hosted.name)
        if registration.keys.find(key.public_key.thumbprint()) is None:
            raise VerificationError(
                "unregistered_relying_party",
                f"{hosted.name}'s signing key is not in its registration: register it again",
            )
        registrar = self.authorities.store.by_identifier(registration.registrar)
        if registrar is None:
            raise CivicError(
                "unregistered_relying_party",
                f"{hosted.name}'s registrar {registration.registrar} is not hosted here",
            )
        _, registrar_key = self.authorities.store.signing_key(registrar.name)
        # The attestation must verify as a wallet will check it (never sign what is refused).
        registry.registrar_key(registrar.identifier, registrar_key.public_key.thumbprint(), now)
        attestation = sign_verifier_attestation(
            registrar_key,
            iss=registrar.identifier,
            sub=hosted.identifier,
            key=key.public_key,
            now=now,
            exp=expires_at,
            redirect_uris=[self.response_uri],
            name=registration.name,
        )
        return sign_request_object(
            key,
            attestation=attestation,
            client_id=client_id,
            response_uri=self.response_uri,
            nonce=nonce,
            state=state,
            dcql=query,
            now=now,
            exp=expires_at,
            purpose=purpose,
            registration=registration.token,
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
        if row.status != "pending":
            raise CivicError("request_answered", "this request has been answered already")
        if now >= row.expires_at:
            raise CivicError("expired", "the presentation request has expired")
        return row

    def result(self, caller: Caller, request_id: str) -> Outcome:
        """A request's outcome, for the relying party that made it (or the admin)."""
        if not 0 < len(request_id) <= 32:
            raise CivicError("not_found", "no such presentation request")
        row = self.store.get(request_id)
        if caller.relying_party is not None and caller.relying_party != row.relying_party:
            raise CivicError("not_found", "no such presentation request")
        return _outcome(row, self.clock.now())

    # --- answers (§8.2) ------------------------------------------------------------------

    def respond(self, form: Mapping[str, str | None]) -> Outcome:
        """Take a wallet's direct_post Authorization Response; return the stored outcome.

        A response that fails verification is stored as ``failed`` and its error raised.
        """
        now = self.clock.now()
        self._purge(now)
        # 1. the response names a recent request by its state (§14.3.2)
        response = read_authorization_response(form)
        row = self.store.by_state(response.state)
        if row is None:
            raise CivicError("not_found", "no presentation request has this state")
        if row.status != "pending":
            raise CivicError("request_answered", "this request has been answered already")
        if now >= row.expires_at:
            raise CivicError("expired", "the presentation request has expired")
        # 2. an Authorization Error Response (§8.5): the wallet declined or could not answer
        if response.error is not None:
            code = _WALLET_ERRORS.get(response.error, "wallet_error")
            detail = f"{response.error}: {response.error_description or 'no description'}"
            self.store.finish(
                row.id, status="failed", now=now, error_code=code, error_detail=detail[:1024]
            )
            return _outcome(self.store.get(row.id), now)
        assert response.vp_token is not None
        try:
            credentials, claims, digests = self._verify_token(row, response.vp_token, now)
        except CivicError as exc:
            self._fail(row, exc, now)
            raise
        result = json_dumps({"claims": claims, "credentials": credentials}).decode()
        try:
            self.store.finish(
                row.id,
                status="verified",
                now=now,
                result=result,
                digests=digests,
                relying_party=row.relying_party,
                replay_until=now + MAX_KB_AGE + MAX_SKEW,
            )
        except CivicError as exc:
            if exc.code == "replayed":
                self._fail(row, exc, now)
            raise
        return _outcome(self.store.get(row.id), now)

    def _fail(self, row: StoredRequest, error: CivicError, now: int) -> None:
        try:
            self.store.finish(
                row.id,
                status="failed",
                now=now,
                error_code=error.code,
                error_detail=error.detail[:1024],
            )
        except CivicError as again:
            # Answered (or expired) meanwhile: that outcome stands, and this caller learns it.
            raise again from error

    def _verify_token(
        self, row: StoredRequest, vp_token: Mapping[str, tuple[str, ...]], now: int
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        query = DcqlQuery.parse(json_loads_strict(row.dcql_query))
        by_id = query.by_id()
        registry = self._registry(1)
        # The relying party is still registered and not suspended (refused everywhere).
        registry.relying_party(self.relying_party(row.relying_party).identifier, now)
        credentials: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        digests: list[str] = []
        # §8.6 step 1: the format of the VP Token was read strictly; step 3 first for the
        # ids, so an unknown id is refused before any signature work.
        query.check_presented(vp_token)
        for query_id, presentations in vp_token.items():
            wanted = by_id[query_id]
            for presentation in presentations:
                # §8.6 step 2.a, 2.c, 2.d, 2.e: integrity and authenticity, holder binding to
                # this client_id and nonce (§14.1), the chain to the root and status
                verified = verify_presentation(
                    presentation,
                    trust=registry,
                    aud=row.client_id,
                    nonce=row.nonce,
                    now=now,
                    status=self.status,
                    max_kb_age=MAX_KB_AGE,
                )
                # §8.6 step 2.b: it answers its Credential Query
                wanted.check(verified.vct, verified.payload)
                credentials.setdefault(query_id, []).append(_credential_json(verified))
                asked = {p.split(".")[0] for p in wanted.requested_paths()}
                for name, value in verified.claims.items():
                    if name in asked:  # keep only what was asked for
                        claims.setdefault(name, value)
                digests.append(kb_digest(presentation))
        return credentials, claims, digests

    def _purge(self, now: int) -> None:
        if now - self._purged >= _PURGE_EVERY:
            self._purged = now
            self.store.purge(now)

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
        name = caller.acting_for(relying_party)
        if name is None:
            raise InputError("invalid_request", "name the relying_party the check is for")
        if not isinstance(presentation, str) or not presentation:
            raise InputError("invalid_request", "presentation must be an SD-JWT+KB string")
        if len(presentation) > MAX_PRESENTATION_BYTES:
            raise InputError("too_large", f"presentations are at most {MAX_PRESENTATION_BYTES} B")
        if not isinstance(nonce, str) or not nonce or len(nonce) > 1024:
            raise InputError("invalid_request", "nonce must be the string the holder was given")
        hosted = self.relying_party(name)
        expected_aud = client_id_for(hosted.identifier) if aud is None else aud
        if not isinstance(expected_aud, str) or not expected_aud or len(expected_aud) > 4096:
            raise InputError("invalid_request", "aud must be a string")
        registry = self._registry(1)
        # 1. the relying party is registered and not suspended (refused everywhere)
        registry.relying_party(hosted.identifier, now)
        # 2. the presentation: signatures, disclosures, KB-JWT aud/nonce/iat, chain, status
        verified = verify_presentation(
            presentation,
            trust=registry,
            aud=expected_aud,
            nonce=nonce,
            now=now,
            status=self.status,
            max_kb_age=MAX_KB_AGE,
        )
        # 3. what it shows answers the query, when one is given
        if query is not None:
            fits = [c for c in query.credentials if verified.vct in c.vct_values]
            (fits or list(query.credentials))[0].check(verified.vct, verified.payload)
        self._purge(now)
        return Accepted(
            result={"verified": True, "relying_party": name, **_credential_json(verified)},
            digest=kb_digest(presentation),
            relying_party=name,
            until=now + MAX_KB_AGE + MAX_SKEW,
        )

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
