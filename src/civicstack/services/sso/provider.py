"""The :class:`OpenIdProvider`: one login for every service of the platform.

Its use cases, each following the spec it names (the rules live in :mod:`civicstack.sso`):

* :meth:`authorize` — OIDC Core §3.1.2: the request read in two stages (direct errors, then
  redirected ones); an active SSO session signs the citizen in at once, else a sign-in starts:
  an OpenID4VP request (the verifier's) made for the client's organisation, asking for the PID
  claims its ``sign_in`` registration allows;
* :meth:`continue_login` — the wallet has presented: the verifier's result read once, the
  citizen's session made (or renewed), and a code issued (§3.1.2.5);
* :meth:`token` — §3.1.3: client authentication (§9), the code redeemed once (a second use
  revokes what the first issued, RFC 6749 §4.1.2), PKCE (RFC 7636 §4.6), the ID token (§3.1.3.6)
  signed with the client's algorithm;
* :meth:`userinfo` — §5.3; :meth:`end_session` — RP-Initiated Logout 1.0 §2–§3 with
  Back-Channel Logout 1.0 §2.5 to every client of the session; :meth:`register` — RFC 7591 §3
  authorised by an initial access token for one organisation, or the admin token;
* :meth:`sessions` and :meth:`end_by_citizen` — the citizen sees and ends their sessions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn, Protocol
from urllib.parse import urlencode

from civicstack._crypto import PrivateKey, parse_compact, sign_jwt
from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError, ProtocolError
from civicstack.openid4vp import query_for
from civicstack.pairwise import Subject, subject_of
from civicstack.services.sso.storage import SsoStore
from civicstack.services.turn_batches import FirstTimeBatches
from civicstack.services.verifier import Caller, Verifier
from civicstack.sso import (
    ASSERTION_TYPE,
    CODE_LIFETIME,
    LOGIN_PURPOSE,
    LOGOUT_TYP,
    SESSION_LIFETIME,
    SSO_SECTOR,
    AccessGrant,
    AuthorizationError,
    AuthorizationRequest,
    Client,
    CodeGrant,
    Endpoints,
    InitialAccessToken,
    Login,
    Redemption,
    SsoSession,
    check_redemption,
    client_and_redirect,
    hash_secret,
    id_token_claims,
    login_claims,
    logout_token_claims,
    new_secret,
    open_code,
    provider_metadata,
    read_authorization_request,
    read_basic,
    read_client_metadata,
    read_params,
    redirect_uri_hash,
    released_claims,
    seal_code,
    secret_hash,
    verify_client_assertion,
    verify_client_secret,
)
from civicstack.sso.clients import AUTH_METHODS
from civicstack.sso.tokens import ACCESS_TOKEN_LIFETIME
from civicstack.trust import RelyingPartyRegistration, TrustRegistry
from civicstack.types import Clock

log = logging.getLogger("civicstack.sso")

__all__ = [
    "INITIAL_ACCESS_TOKEN_LIFETIME",
    "LOGIN_LIFETIME",
    "LoginStarted",
    "LogoutDelivery",
    "OpenIdProvider",
    "SignedIn",
    "SignedOut",
]

#: How long a registration token lasts (one day).
INITIAL_ACCESS_TOKEN_LIFETIME = 86_400
#: How long a sign-in waits for the wallet (the verifier's request lives as long).
LOGIN_LIFETIME = 600
_PURGE_EVERY = 60
_MAX_ID = 64
_CLIENT_CACHE = 10_000
_SESSION_CACHE_SECONDS = 1.0


class LogoutDelivery(Protocol):
    """Delivers a Logout Token to a client's ``backchannel_logout_uri`` (§2.5)."""

    def deliver(self, uri: str, logout_token: str) -> None:
        """POST ``logout_token=...``; raise ``fetch_failed`` if the client does not take it."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Go back to the client with a code; set the session cookie when ``session_secret``."""

    location: str
    session_secret: str | None = None


@dataclass(frozen=True, slots=True)
class LoginStarted:
    """Show the sign-in page: the wallet link (same device) and its QR code."""

    login: Login
    client: Client
    organisation_name: str


@dataclass(frozen=True, slots=True)
class SignedOut:
    """Logged out: where to send the browser (``None``: show a page), and the clients told."""

    location: str | None
    notified: tuple[str, ...]
    failed: tuple[str, ...]


class OpenIdProvider:
    """The platform's OpenID Provider (see the module docstring)."""

    def __init__(
        self,
        *,
        store: SsoStore,
        verifier: Verifier,
        registry: Callable[[float], TrustRegistry],
        pairwise: Callable[[str, Subject], str],
        delivery: LogoutDelivery,
        clock: Clock,
        issuer: str,
        admin_check: Callable[[str | None], None],
        code_key: bytes,
        session_lifetime: int = SESSION_LIFETIME,
    ) -> None:
        """``code_key``: the 32-byte key codes are sealed with (:func:`seal_code`)."""
        self.store = store
        self.verifier = verifier
        self._registry = registry
        self._pairwise = pairwise
        self.delivery = delivery
        self.clock = clock
        self.endpoints = Endpoints(issuer=issuer.rstrip("/"), base=f"{issuer.rstrip('/')}/oidc")
        self._admin_check = admin_check
        self.session_lifetime = session_lifetime
        self._keys: dict[str, PrivateKey] = {}
        self._clients: dict[str, Client] = {}
        self._sessions: dict[str, tuple[float, SsoSession]] = {}
        self._purged = 0
        self._code_key = code_key
        # group commit of /token's redemptions per loop turn, as the verifier's replay guard
        self._batches: FirstTimeBatches[Redemption, str] = FirstTimeBatches(
            store.redeem_many, key=lambda redemption: redemption.code_hash
        )

    # --- metadata and keys ---------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Discovery 1.0 §3."""
        return provider_metadata(self.endpoints)

    def _signing_key(self, alg: str) -> PrivateKey:
        key = self._keys.get(alg)
        if key is None:
            self._load_keys()
            key = self._keys.get(alg)
        assert key is not None
        return key

    def _load_keys(self) -> None:
        keys = self.store.signing_keys()
        for alg in ("ES256", "RS256"):
            if not any(k.alg == alg for k in keys):
                self.store.add_signing_key(PrivateKey.generate(alg), now=self.clock.now())
        for key in self.store.signing_keys():  # another process may have added one first
            self._keys.setdefault(key.alg, key)

    def jwks(self) -> dict[str, Any]:
        """The provider's public keys, each with ``kid``, ``alg`` and ``use``."""
        if not self._keys:
            self._load_keys()
        keys = []
        for key in self.store.signing_keys():
            jwk: dict[str, Any] = key.public_key.to_jwk()
            jwk.update(kid=key.public_key.thumbprint(), alg=key.alg, use="sig")
            keys.append(jwk)
        return {"keys": keys}

    def _sign(self, claims: dict[str, Any], alg: str, typ: str = "JWT") -> str:
        key = self._signing_key(alg)
        return sign_jwt(key, claims, {"kid": key.public_key.thumbprint(), "typ": typ})

    # --- clients -------------------------------------------------------------------------

    def client(self, client_id: object) -> Client | None:
        """The registered client ``client_id``, if any (remembered: a registration never
        changes; unknown ids are not remembered)."""
        if not isinstance(client_id, str) or not 0 < len(client_id) <= _MAX_ID:
            return None
        client = self._clients.get(client_id)
        if client is None:
            client = self.store.client(client_id)
            if client is not None and len(self._clients) < _CLIENT_CACHE:
                self._clients[client_id] = client
        return client

    def _organisation(self, organisation: str, now: int) -> tuple[RelyingPartyRegistration, ...]:
        hosted = self.verifier.relying_party(organisation)
        return self._registry(1).relying_party(hosted.identifier, now)

    def mint_initial_access_token(
        self, organisation: str, *, lifetime: int = INITIAL_ACCESS_TOKEN_LIFETIME
    ) -> str:
        """A registration token for ``organisation`` (a registered relying party)."""
        now = self.clock.now()
        login_claims(self._organisation(organisation, now))
        token = new_secret()
        self.store.add_initial_access_token(
            InitialAccessToken(secret_hash(token), organisation, now + lifetime), now=now
        )
        return token

    def register(self, bearer: str | None, metadata: object) -> dict[str, Any]:
        """RFC 7591 §3: register a client for the organisation the token was minted for (the
        admin names it in the ``organisation`` member); the response of §3.2.1."""
        now = self.clock.now()
        # 1. who registers: an initial access token, else the admin naming the organisation
        organisation = self._registrant(bearer, metadata, now)
        # 2. the metadata (RFC 7591 §2, OIDC Registration §2)
        validated = read_client_metadata(metadata)
        # 3. the organisation may sign citizens in
        try:
            login_claims(self._organisation(organisation, now))
        except CivicError as exc:
            raise ProtocolError(
                "invalid_client_metadata", "invalid_client_metadata", exc.detail
            ) from exc
        # 4. the client's id and secret (§3.2.1)
        client_id = new_secret()[:32]
        secret = new_secret() if validated.token_endpoint_auth_method == AUTH_METHODS[0] else None
        self.store.add_client(
            Client(
                client_id=client_id,
                organisation=organisation,
                secret_hash=None if secret is None else hash_secret(secret),
                metadata=validated,
                created_at=now,
            )
        )
        answer: dict[str, Any] = {
            "client_id": client_id,
            "client_id_issued_at": now,
            "organisation": organisation,
            **validated.to_json(),
        }
        if secret is not None:
            answer.update(client_secret=secret, client_secret_expires_at=0)
        return answer

    def _registrant(self, bearer: str | None, metadata: object, now: int) -> str:
        if not bearer:
            raise ProtocolError(
                "unauthorized", "invalid_token", "an initial access token is needed"
            )
        named = metadata.get("organisation") if isinstance(metadata, dict) else None
        token = self.store.initial_access_token(secret_hash(bearer))
        if token is not None:
            if now >= token.expires_at:
                raise ProtocolError("unauthorized", "invalid_token", "the token has expired")
            if named is not None and named != token.organisation:
                raise ProtocolError(
                    "forbidden", "invalid_client_metadata", "the token is for another organisation"
                )
            return token.organisation
        try:
            self._admin_check(bearer)
        except CivicError as exc:
            raise ProtocolError("unauthorized", "invalid_token", "unknown token") from exc
        if not isinstance(named, str) or not 0 < len(named) <= _MAX_ID:
            raise ProtocolError(
                "invalid_client_metadata",
                "invalid_client_metadata",
                "the admin names the client's organisation in 'organisation'",
            )
        return named

    # --- authorization (OIDC Core §3.1.2) ------------------------------------------------

    def authorize(
        self, items: Iterable[tuple[str, str]], *, session_secret: str | None, browser: str
    ) -> SignedIn | LoginStarted:
        """Read an authorization request; sign in at once with an SSO session, else start a
        wallet sign-in bound to ``browser`` (a secret the browser keeps in a cookie)."""
        now = self.clock.now()
        self._purge(now)
        outcome = self._authorize(items, session_secret, browser, now, may_write=True)
        assert outcome is not None
        return outcome

    async def authorize_async(
        self, items: Iterable[tuple[str, str]], *, session_secret: str | None, browser: str
    ) -> SignedIn | LoginStarted:
        """:meth:`authorize` on an event loop: a sign-in with the SSO session, for a client
        it has signed in to before, is answered on the loop (it writes nothing; what it reads,
        the client, the session and the trust registry, is cached, read again at most once a
        second); anything that writes (a wallet sign-in, a new client of the session, the
        periodic purge) runs in a thread."""
        now = self.clock.now()
        if now - self._purged < _PURGE_EVERY:
            outcome = self._authorize(items, session_secret, browser, now, may_write=False)
            if outcome is not None:
                return outcome
        return await asyncio.to_thread(
            self.authorize, items, session_secret=session_secret, browser=browser
        )

    def _authorize(
        self,
        items: Iterable[tuple[str, str]],
        session_secret: str | None,
        browser: str,
        now: int,
        *,
        may_write: bool,
    ) -> SignedIn | LoginStarted | None:
        # None: it would have to write, and may not
        # 1-2. parameters, client and redirect_uri: errors here are shown, never redirected
        params = read_params(items)
        client = self.client(params.get("client_id"))
        redirect_uri = client_and_redirect(params, client)
        assert client is not None
        # 3. the rest: errors from here go back to the client
        request = read_authorization_request(params, client, redirect_uri)

        def fail(code: str, oauth_error: str, detail: str) -> AuthorizationError:
            return AuthorizationError(
                code, oauth_error, detail, redirect_uri=redirect_uri, state=request.state
            )

        # 4. the organisation may sign citizens in, and asks for these claims
        try:
            claims = login_claims(self._organisation(client.organisation, now))
        except CivicError as exc:
            raise fail(exc.code, "unauthorized_client", exc.detail) from exc
        # 5. an SSO session that covers them signs the citizen in without presenting again
        session = self._active_session(session_secret, now)
        fresh_enough = (
            session is not None
            and (request.max_age is None or now - session.auth_time <= request.max_age)
            and "login" not in request.prompt
            and set(claims) <= set(session.claims)
        )
        if session is not None and fresh_enough:
            if not may_write and client.client_id not in session.clients:
                return None  # the session's new client is written down
            return SignedIn(self._issue_code(session, request, client, claims, now))
        if "none" in request.prompt:
            raise fail("login_required", "login_required", "the citizen is not signed in")
        if not may_write:
            return None
        # 6. a wallet sign-in: the verifier asks, for the client's organisation
        created = self.verifier.create_request(
            Caller(None),
            relying_party=client.organisation,
            dcql_query=query_for([("pid", PID_VCT, claims)]).to_json(),
            purpose=LOGIN_PURPOSE,
        )
        login = Login(
            id=new_secret()[:32],
            browser_hash=secret_hash(browser),
            request=request,
            organisation=client.organisation,
            vp_request=created.id,
            link=created.request,
            claims=claims,
            expires_at=min(created.expires_at, now + LOGIN_LIFETIME),
        )
        self.store.add_login(login, now=now)
        hosted = self.verifier.relying_party(client.organisation)
        return LoginStarted(login, client, hosted.display_name or hosted.name)

    def login(self, login_id: str, browser: str) -> Login:
        """A sign-in under way, for the browser that started it (``not_found`` otherwise)."""
        now = self.clock.now()
        found = self.store.login(login_id) if 0 < len(login_id) <= _MAX_ID else None
        if found is None or found.browser_hash != secret_hash(browser) or found.done:
            raise CivicError("not_found", "no such sign-in in this browser")
        if now >= found.expires_at:
            raise CivicError("expired", "the sign-in has expired: start again from the service")
        return found

    def continue_login(
        self, login_id: str, *, browser: str, session_secret: str | None
    ) -> SignedIn:
        """The citizen says the wallet has presented: ``login_pending`` if it has not; else
        the session is made and the client gets its code."""
        now = self.clock.now()
        login = self.login(login_id, browser)
        request = login.request

        def fail(code: str, oauth_error: str, detail: str) -> AuthorizationError:
            return AuthorizationError(
                code, oauth_error, detail, redirect_uri=request.redirect_uri, state=request.state
            )

        client = self.client(request.client_id)
        if client is None:
            raise CivicError("not_found", "the client is no longer registered")
        # 1. what the verifier learnt, read once
        outcome = self.verifier.result(Caller(None), login.vp_request)
        if outcome.status == "pending":
            raise CivicError("login_pending", "the wallet has not presented yet")
        if not self.store.finish_login(login.id):
            raise CivicError("not_found", "the sign-in was completed already")
        if outcome.status != "verified":
            raise fail("login_required", "access_denied", f"the presentation {outcome.status}")
        # 2. who presented
        subject = subject_of(outcome.claims)
        handle = self._pairwise(SSO_SECTOR, subject)
        # 3. the session: a new one, taking over the clients of this browser's session of the
        # same citizen (so logout still reaches them)
        if session_secret:
            self._sessions.pop(secret_hash(session_secret), None)  # read afresh: its clients
        previous = self._active_session(session_secret, now)
        carried: tuple[str, ...] = ()
        if previous is not None:
            self._end(previous.id, now)
            if previous.handle == handle:
                carried = previous.clients
            else:
                self._notify(previous, now)
        secret = new_secret()
        session = SsoSession(
            id=secret_hash(secret),
            sid=new_secret()[:32],
            handle=handle,
            subject=subject,
            claims=dict(outcome.claims),
            auth_time=now,
            expires_at=now + self.session_lifetime,
        )
        self.store.add_session(session, now=now)
        for client_id in carried:
            self.store.add_session_client(session.id, client_id, now=now)
        # 4. the code
        location = self._issue_code(session, request, client, login.claims, now)
        return SignedIn(location, session_secret=secret)

    def _active_session(self, secret: str | None, now: int) -> SsoSession | None:
        if not secret or len(secret) > 128:
            return None
        session_id = secret_hash(secret)
        # A session read within the last second is used as read (as API keys are): an end in
        # another process takes effect there within a second; in this one, at once.
        cached = self._sessions.get(session_id)
        if cached is not None and time.monotonic() - cached[0] < _SESSION_CACHE_SECONDS:
            session: SsoSession | None = cached[1]
        else:
            session = self.store.session(session_id)
            if len(self._sessions) >= _CLIENT_CACHE:
                self._sessions.clear()
            if session is not None:
                self._sessions[session_id] = (time.monotonic(), session)
        return session if session is not None and session.active(now) else None

    def _end(self, session_id: str, now: int) -> bool:
        self._sessions.pop(session_id, None)
        return self.store.end_session(session_id, now=now)

    def _issue_code(
        self,
        session: SsoSession,
        request: AuthorizationRequest,
        client: Client,
        allowed: Sequence[str],
        now: int,
    ) -> str:
        # OIDC Core §8.1: the sector is the client's organisation
        sub = self._pairwise(client.organisation, session.subject)
        grant = CodeGrant(
            client_id=client.client_id,
            redirect_uri_hash=redirect_uri_hash(request.redirect_uri),
            code_challenge=request.code_challenge,
            nonce=request.nonce,
            scope=request.scope,
            sub=sub,
            sid=session.sid,
            auth_time=session.auth_time,
            claims=released_claims(request.scope, session.claims, allowed),
            expires_at=now + CODE_LIFETIME,
        )
        # The code is the grant sealed: nothing is written (the redemption will be)
        code = seal_code(self._code_key, grant, salt=secrets.token_bytes(16))
        if client.client_id not in session.clients:
            self.store.add_session_client(session.id, client.client_id, now=now)
            if session.id in self._sessions:
                clients = (*session.clients, client.client_id)
                self._sessions[session.id] = (time.monotonic(), replace(session, clients=clients))
        answer = {"code": code, "iss": self.endpoints.issuer}  # RFC 9207 §2
        if request.state is not None:
            answer["state"] = request.state
        return _with_query(request.redirect_uri, answer)

    # --- the token endpoint (OIDC Core §3.1.3) -------------------------------------------

    def token(self, items: Iterable[tuple[str, str]], authorization: str | None) -> dict[str, Any]:
        """Redeem a code for an access token and an ID token."""
        now = self.clock.now()
        params = read_params(items)
        # 1. the client authenticates (§9)
        client = self._authenticate(params, authorization, now)
        # 2-4. the grant type; the code, ours; bound to the client, redirect_uri and verifier
        code_hash, grant, refused = self._read_code(params, client, now)
        if refused is not None:
            self._refuse(code_hash, refused, now)
        access_token = new_secret()
        redemption = self._redemption(code_hash, grant, client, access_token, now)
        # 5. the redemption kept with the access token, once (RFC 6749 §4.1.2)
        if code_hash not in self.store.redeem_many([redemption]):
            self._reused(code_hash, now)
        return self._token_response(grant, client, access_token, now)

    async def token_async(
        self, items: Iterable[tuple[str, str]], authorization: str | None
    ) -> dict[str, Any]:
        """:meth:`token` on an event loop, without a thread hand-off: the redemptions of the
        requests in flight are written together in one transaction (group commit), and each
        answer waits for its commit."""
        now = self.clock.now()
        params = read_params(items)
        # 1. the client authenticates (§9); a client assertion's jti is written down: in a thread
        if "client_assertion" in params:
            client = await asyncio.to_thread(self._authenticate, params, authorization, now)
        else:
            client = self._authenticate(params, authorization, now)
        # 2-4. as in :meth:`token`
        code_hash, grant, refused = self._read_code(params, client, now)
        if refused is not None:
            await asyncio.to_thread(self._refuse, code_hash, refused, now)
        access_token = new_secret()
        redemption = self._redemption(code_hash, grant, client, access_token, now)
        # 5. the redemption kept with the access token, once, with the others in flight
        if not await self._batches.first_time(redemption):
            await asyncio.to_thread(self._reused, code_hash, now)
        return self._token_response(grant, client, access_token, now)

    def _read_code(
        self, params: dict[str, str], client: Client, now: int
    ) -> tuple[str, CodeGrant, ProtocolError | None]:
        # 2. the grant type
        if params.get("grant_type") != "authorization_code":
            raise ProtocolError(
                "unsupported_grant_type", "unsupported_grant_type", "only authorization_code"
            )
        # 3. the code: one this provider sealed (unknown otherwise), known by its SHA-256
        code = params.get("code")
        grant = open_code(self._code_key, code)
        code_hash = secret_hash(str(code))
        # 4. bound to this client, redirect_uri and PKCE verifier, and not expired: a refusal
        # is returned, for a code used before is refused as reused (its token revoked)
        try:
            check_redemption(
                grant,
                client_id=client.client_id,
                redirect_uri=params.get("redirect_uri"),
                code_verifier=params.get("code_verifier"),
                now=now,
            )
        except ProtocolError as exc:
            return code_hash, grant, exc
        return code_hash, grant, None

    def _refuse(self, code_hash: str, refused: ProtocolError, now: int) -> NoReturn:
        if self.store.redeemed(code_hash):
            self._reused(code_hash, now)
        raise refused

    def _reused(self, code_hash: str, now: int) -> NoReturn:
        # RFC 6749 §4.1.2: a code used twice is refused, and what the first use gave revoked
        revoked = self.store.revoke_tokens_of_code(code_hash, now=now)
        log.warning("authorization code used twice; %d token(s) revoked", revoked)
        raise ProtocolError("invalid_grant", "invalid_grant", "the code was used already")

    @staticmethod
    def _redemption(
        code_hash: str, grant: CodeGrant, client: Client, access_token: str, now: int
    ) -> Redemption:
        access = AccessGrant(
            client_id=client.client_id,
            sub=grant.sub,
            scope=grant.scope,
            claims=grant.claims,
            expires_at=now + ACCESS_TOKEN_LIFETIME,
        )
        return Redemption(code_hash, secret_hash(access_token), access)

    def _token_response(
        self, grant: CodeGrant, client: Client, access_token: str, now: int
    ) -> dict[str, Any]:
        claims = id_token_claims(
            issuer=self.endpoints.issuer, grant=grant, access_token=access_token, now=now
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(grant.scope),
            "id_token": self._sign(claims, client.metadata.id_token_signed_response_alg),
        }

    def _authenticate(self, params: dict[str, str], authorization: str | None, now: int) -> Client:
        basic = read_basic(authorization)
        assertion = params.get("client_assertion")
        if basic is not None and assertion is not None:
            raise ProtocolError("invalid_request", "invalid_request", "one client authentication")
        if basic is not None:
            client_id, secret = basic
            if params.get("client_id", client_id) != client_id:
                raise ProtocolError("invalid_client", "invalid_client", "client_id differs")
            client = self.client(client_id)
            if client is None:
                raise ProtocolError("invalid_client", "invalid_client", "unknown client")
            verify_client_secret(client, secret)
            return client
        if assertion is not None:
            if params.get("client_assertion_type") != ASSERTION_TYPE:
                raise ProtocolError("invalid_client", "invalid_client", "bad client_assertion_type")
            client = self.client(params.get("client_id") or _unverified_iss(assertion))
            if client is None:
                raise ProtocolError("invalid_client", "invalid_client", "unknown client")
            use = verify_client_assertion(
                client,
                assertion,
                audiences=(self.endpoints.token, self.endpoints.issuer),
                now=now,
            )
            try:
                self.store.remember_jti(client.client_id, use.jti, until=use.until, now=now)
            except CivicError as exc:
                raise ProtocolError("invalid_client", "invalid_client", "jti used before") from exc
            return client
        raise ProtocolError("invalid_client", "invalid_client", "the client must authenticate")

    # --- UserInfo (OIDC Core §5.3) -------------------------------------------------------

    def userinfo(self, access_token: str | None) -> dict[str, Any]:
        """The claims an access token stands for (RFC 6750 ``invalid_token`` otherwise)."""
        now = self.clock.now()
        grant = None
        if access_token and len(access_token) <= 128:
            grant = self.store.access_token(secret_hash(access_token), now=now)
        if grant is None:
            raise ProtocolError("invalid_token", "invalid_token", "unknown, expired or revoked")
        return {"sub": grant.sub, **grant.claims}

    # --- logout (RP-Initiated Logout 1.0, Back-Channel Logout 1.0) -------------------------

    def end_session(
        self, items: Iterable[tuple[str, str]], *, session_secret: str | None
    ) -> SignedOut:
        """RP-Initiated Logout 1.0 §2–§3: end the browser's session (or the one the
        ``id_token_hint`` names), tell its clients, and go back where the client asked."""
        now = self.clock.now()
        params = read_params(items)
        # 1. who asks: the id_token_hint's audience, or client_id (§2)
        hint = params.get("id_token_hint")
        hinted = self._read_hint(hint) if hint is not None else {}
        client_id = params.get("client_id") or hinted.get("aud")
        if "client_id" in params and "aud" in hinted and params["client_id"] != hinted["aud"]:
            raise ProtocolError("invalid_request", "invalid_request", "client_id differs")
        client = self.client(client_id)
        # 2. post_logout_redirect_uri must be registered for that client (§3)
        location = None
        uri = params.get("post_logout_redirect_uri")
        if uri is not None:
            if client is None or uri not in client.metadata.post_logout_redirect_uris:
                raise ProtocolError(
                    "invalid_redirect_uri",
                    "invalid_request",
                    "post_logout_redirect_uri is not registered for the client",
                )
            state = params.get("state")
            location = _with_query(uri, {"state": state} if state else {})
        # 3. the session ends, and every client of it hears (Back-Channel Logout §2.5): the
        # session read afresh, so that no client is missed
        if session_secret:
            self._sessions.pop(secret_hash(session_secret), None)
        session = self._active_session(session_secret, now)
        if session is None and isinstance(hinted.get("sid"), str):
            found = self.store.session_by_sid(hinted["sid"])
            session = found if found is not None and found.active(now) else None
        if session is None or not self._end(session.id, now):
            return SignedOut(location, (), ())
        notified, failed = self._notify(session, now)
        return SignedOut(location, notified, failed)

    def _read_hint(self, hint: str) -> dict[str, Any]:
        # An ID token this provider issued; expired is fine (§2: "the OP need not be picky")
        try:
            jws = parse_compact(hint, max_bytes=16 * 1024)
            keys = {k.public_key.thumbprint(): k for k in self.store.signing_keys()}
            key = keys.get(str(jws.header.get("kid")))
            if key is None:
                raise CivicError("invalid_signature", "not signed by this provider")
            jws.verify(key.public_key, algorithms=("ES256", "RS256"))
            claims = jws.payload_json()
        except CivicError as exc:
            raise ProtocolError("invalid_request", "invalid_request", "bad id_token_hint") from exc
        if claims.get("iss") != self.endpoints.issuer:
            raise ProtocolError("invalid_request", "invalid_request", "id_token_hint is not ours")
        return claims

    def _notify(self, session: SsoSession, now: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        notified: list[str] = []
        failed: list[str] = []
        for client_id in session.clients:
            client = self.client(client_id)
            if client is None or client.metadata.backchannel_logout_uri is None:
                continue
            claims = logout_token_claims(
                issuer=self.endpoints.issuer,
                client_id=client.client_id,
                sub=self._pairwise(client.organisation, session.subject),
                sid=session.sid,
                now=now,
            )
            token = self._sign(claims, client.metadata.id_token_signed_response_alg, LOGOUT_TYP)
            try:
                self.delivery.deliver(client.metadata.backchannel_logout_uri, token)
                notified.append(client_id)
            except CivicError as exc:
                log.warning("back-channel logout to %s failed: %s", client_id, exc.detail)
                failed.append(client_id)
        return tuple(notified), tuple(failed)

    # --- the citizen's sessions ----------------------------------------------------------

    def sessions(self, session_secret: str | None) -> tuple[SsoSession, list[SsoSession]]:
        """The browser's session and every active session of the same citizen
        (``unauthorized`` without a signed-in browser)."""
        now = self.clock.now()
        current = self._active_session(session_secret, now)
        if current is None:
            raise CivicError("unauthorized", "sign in to see your sessions")
        return current, self.store.sessions_of(current.handle, now=now)

    def end_by_citizen(self, session_secret: str | None, sid: str) -> SignedOut:
        """End one of the citizen's own sessions (by its ``sid``), telling its clients."""
        now = self.clock.now()
        _, sessions = self.sessions(session_secret)
        target = next((s for s in sessions if s.sid == sid), None)
        if target is None:
            raise CivicError("not_found", "no such session of yours")
        if not self._end(target.id, now):
            return SignedOut(None, (), ())
        notified, failed = self._notify(target, now)
        return SignedOut(None, notified, failed)

    def client_names(self, client_ids: Iterable[str]) -> dict[str, str]:
        """A display name for each client (its ``client_name``, else its organisation)."""
        names = {}
        for client_id in client_ids:
            client = self.client(client_id)
            if client is not None:
                names[client_id] = client.metadata.client_name or client.organisation
        return names

    def _purge(self, now: int) -> None:
        if now - self._purged >= _PURGE_EVERY:
            self._purged = now
            self.store.purge(now)


def _with_query(uri: str, params: dict[str, str]) -> str:
    if not params:
        return uri
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _unverified_iss(assertion: str) -> str | None:
    """The ``iss`` of a client assertion, to find the client whose keys then verify it."""
    try:
        iss = parse_compact(assertion, max_bytes=8 * 1024).payload_json().get("iss")
    except CivicError as exc:
        raise ProtocolError(
            "invalid_client", "invalid_client", "malformed client_assertion"
        ) from exc
    return iss if isinstance(iss, str) else None
