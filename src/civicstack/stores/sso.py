"""One login's storage (Alembic branch ``sso``).

``sso_keys``            the provider's signing keys (ES256, RS256), wrapped under a key derived
                        from the platform's master key
``sso_clients``         registered clients: organisation, SHA-256 of the secret, metadata
``sso_registration_tokens``  initial access tokens (RFC 7591 §3) by hash, per organisation
``sso_logins``          sign-ins waiting for the wallet, bound to a browser by hash
``sso_sessions``        SSO sessions by the hash of their cookie; the citizen (subject and
                        presented claims) sealed; ``handle`` lists a citizen's sessions
``sso_session_clients`` the clients each session signed in to (for logout)
``sso_tokens``          access tokens by hash, their grants sealed; each is the record of the
                        redemption of the code it was issued for (``code_hash``, unique): codes
                        themselves are sealed and kept by nobody (:func:`civicstack.sso.seal_code`)
``sso_jtis``            client assertions' jtis, until they expire
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from civicstack._crypto import (
    PrivateKey,
    PublicKey,
    aead_decrypt,
    aead_encrypt,
    b64url_decode,
    b64url_encode,
    json_dumps,
    json_object_strict,
    unwrap_private_key,
    wrap_private_key,
)
from civicstack.errors import CivicError
from civicstack.pairwise import Subject
from civicstack.sso import (
    AccessGrant,
    AuthorizationRequest,
    Client,
    InitialAccessToken,
    Login,
    Redemption,
    SsoSession,
)
from civicstack.sso.clients import ClientMetadata
from civicstack.stores.db import insert_new, metadata, write_transaction

__all__ = ["SsoStore"]

#: Ended sessions are kept this long for the citizen's history, then dropped.
_ENDED_KEPT = 7 * 86_400
#: Rows per INSERT of a batch of redemptions (5 parameters each: under SQLite's 999).

sso_keys = Table(
    "sso_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(8), nullable=False),
    Column("wrapped", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
sso_clients = Table(
    "sso_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("organisation", String(64), nullable=False),
    Column("secret_hash", String(64)),
    Column("metadata", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
sso_registration_tokens = Table(
    "sso_registration_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("organisation", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
sso_logins = Table(
    "sso_logins",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("browser_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("done", Boolean, nullable=False),
)
sso_sessions = Table(
    "sso_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sid", String(64), nullable=False, unique=True),
    Column("handle", String(64), nullable=False, index=True),
    Column("sealed", Text, nullable=False),
    Column("auth_time", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger),
)
sso_session_clients = Table(
    "sso_session_clients",
    metadata,
    Column("session_id", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("added_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("session_id", "client_id", name="pk_sso_session_clients"),
)
sso_tokens = Table(
    "sso_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("code_hash", String(64), nullable=False, index=True, unique=True),
    Column("sealed", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
)
sso_jtis = Table(
    "sso_jtis",
    metadata,
    Column("client_id", String(64), nullable=False),
    Column("jti", String(128), nullable=False),
    Column("until", BigInteger, nullable=False),
    PrimaryKeyConstraint("client_id", "jti", name="pk_sso_jtis"),
)


class SsoStore:
    """:class:`~civicstack.services.sso.storage.SsoStore` in SQL; ``key`` gives the 32-byte
    key that wraps signing keys and seals grants and sessions."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        self.engine = engine
        self._key = key
        self._keks: dict[bytes, bytes] = {}

    # --- sealing -------------------------------------------------------------------------

    def _kek(self, label: bytes) -> bytes:
        kek = self._keks.get(label)
        if kek is None:
            kek = self._keks[label] = hmac.new(
                self._key(), b"civicstack/sso/" + label, "sha256"
            ).digest()
        return kek

    def _seal(self, value: dict[str, Any], aad: str) -> str:
        return b64url_encode(aead_encrypt(self._kek(b"seal/v1"), json_dumps(value), aad.encode()))

    def _open(self, sealed: str, aad: str) -> dict[str, Any]:
        raw = aead_decrypt(self._kek(b"seal/v1"), b64url_decode(sealed), aad.encode())
        return json_object_strict(raw)

    # --- keys ----------------------------------------------------------------------------

    def signing_keys(self) -> list[PrivateKey]:
        """The provider's signing keys, oldest first."""
        t = sso_keys
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.created_at, t.c.kid)).all()
        return [
            unwrap_private_key(
                json_object_strict(r.wrapped), self._kek(b"keys/v1"), context=f"sso:{r.kid}"
            )
            for r in rows
        ]

    def add_signing_key(self, key: PrivateKey, *, now: int) -> None:
        """Keep a new signing key (a second process's key of the same alg is kept too)."""
        kid = key.public_key.thumbprint()
        wrapped = wrap_private_key(key, self._kek(b"keys/v1"), context=f"sso:{kid}")
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(sso_keys).values(
                    kid=kid, alg=key.alg, wrapped=json_dumps(wrapped).decode(), created_at=now
                )
            )

    # --- clients and registration tokens -------------------------------------------------

    def add_client(self, client: Client) -> None:
        """Register a client."""
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(sso_clients).values(
                        client_id=client.client_id,
                        organisation=client.organisation,
                        secret_hash=client.secret_hash,
                        metadata=json_dumps(client.metadata.to_json()).decode(),
                        created_at=client.created_at,
                    )
                )
        except IntegrityError as exc:
            raise CivicError("conflict", "a client with this id exists") from exc

    def client(self, client_id: str) -> Client | None:
        """The client ``client_id``, if registered."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sso_clients).where(sso_clients.c.client_id == client_id)
            ).first()
        if row is None:
            return None
        data = json_object_strict(row.metadata)
        jwks = data.get("jwks", {}).get("keys", [])
        meta = ClientMetadata(
            redirect_uris=tuple(data["redirect_uris"]),
            token_endpoint_auth_method=data["token_endpoint_auth_method"],
            id_token_signed_response_alg=data["id_token_signed_response_alg"],
            client_name=data.get("client_name"),
            jwks=tuple(PublicKey.from_jwk(k, rsa=True) for k in jwks),
            backchannel_logout_uri=data.get("backchannel_logout_uri"),
            backchannel_logout_session_required=bool(
                data.get("backchannel_logout_session_required", True)
            ),
            post_logout_redirect_uris=tuple(data.get("post_logout_redirect_uris", ())),
        )
        return Client(
            client_id=row.client_id,
            organisation=row.organisation,
            secret_hash=row.secret_hash,
            metadata=meta,
            created_at=int(row.created_at),
        )

    def add_initial_access_token(self, token: InitialAccessToken, *, now: int) -> None:
        """Keep a registration token."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(sso_registration_tokens).values(
                    token_hash=token.token_hash,
                    organisation=token.organisation,
                    created_at=now,
                    expires_at=token.expires_at,
                )
            )

    def initial_access_token(self, token_hash: str) -> InitialAccessToken | None:
        """The registration token with this hash, if any."""
        t = sso_registration_tokens
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return InitialAccessToken(row.token_hash, row.organisation, int(row.expires_at))

    # --- sign-ins ------------------------------------------------------------------------

    def add_login(self, login: Login, *, now: int) -> None:
        """Record a sign-in under way."""
        body = {
            "request": login.request.to_json(),
            "organisation": login.organisation,
            "vp_request": login.vp_request,
            "link": login.link,
            "claims": list(login.claims),
        }
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(sso_logins).values(
                    id=login.id,
                    browser_hash=login.browser_hash,
                    body=json_dumps(body).decode(),
                    created_at=now,
                    expires_at=login.expires_at,
                    done=False,
                )
            )

    def login(self, login_id: str) -> Login | None:
        """The sign-in ``login_id``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sso_logins).where(sso_logins.c.id == login_id)).first()
        if row is None:
            return None
        body = json_object_strict(row.body)
        return Login(
            id=row.id,
            browser_hash=row.browser_hash,
            request=AuthorizationRequest.from_json(body["request"]),
            organisation=body["organisation"],
            vp_request=body["vp_request"],
            link=body["link"],
            claims=tuple(body["claims"]),
            expires_at=int(row.expires_at),
            done=bool(row.done),
        )

    def finish_login(self, login_id: str) -> bool:
        """Mark a sign-in done, once."""
        t = sso_logins
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(t).where(t.c.id == login_id, t.c.done.is_(False)).values(done=True)
            )
        return result.rowcount == 1

    # --- sessions ------------------------------------------------------------------------

    def add_session(self, session: SsoSession, *, now: int) -> None:
        """Record a new session, the citizen sealed."""
        sealed = self._seal(
            {
                "country": session.subject.country,
                "number": session.subject.number,
                "claims": session.claims,
            },
            f"session:{session.id}",
        )
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(sso_sessions).values(
                    id=session.id,
                    sid=session.sid,
                    handle=session.handle,
                    sealed=sealed,
                    auth_time=session.auth_time,
                    expires_at=session.expires_at,
                    ended_at=None,
                )
            )

    def _sessions(self, where: Any) -> list[SsoSession]:
        t, c = sso_sessions, sso_session_clients
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(where).order_by(t.c.auth_time.desc())).all()
            ids = [r.id for r in rows]
            clients: dict[str, list[str]] = {i: [] for i in ids}
            if ids:
                for r in conn.execute(
                    select(c.c.session_id, c.c.client_id)
                    .where(c.c.session_id.in_(ids))
                    .order_by(c.c.added_at, c.c.client_id)
                ):
                    clients[r.session_id].append(r.client_id)
        out = []
        for r in rows:
            data = self._open(r.sealed, f"session:{r.id}")
            out.append(
                SsoSession(
                    id=r.id,
                    sid=r.sid,
                    handle=r.handle,
                    subject=Subject(data["country"], data["number"]),
                    claims=data["claims"],
                    auth_time=int(r.auth_time),
                    expires_at=int(r.expires_at),
                    clients=tuple(clients[r.id]),
                    ended_at=None if r.ended_at is None else int(r.ended_at),
                )
            )
        return out

    def session(self, session_id: str) -> SsoSession | None:
        """The session with this id (the hash of its cookie)."""
        found = self._sessions(sso_sessions.c.id == session_id)
        return found[0] if found else None

    def session_by_sid(self, sid: str) -> SsoSession | None:
        """The session with this public ``sid``."""
        found = self._sessions(sso_sessions.c.sid == sid)
        return found[0] if found else None

    def sessions_of(self, handle: str, *, now: int) -> list[SsoSession]:
        """The citizen's active sessions, newest first."""
        t = sso_sessions
        return self._sessions(
            (t.c.handle == handle) & t.c.ended_at.is_(None) & (t.c.expires_at > now)
        )

    def add_session_client(self, session_id: str, client_id: str, *, now: int) -> None:
        """Note a client of the session (once)."""
        c = sso_session_clients
        with write_transaction(self.engine) as conn:
            seen = conn.execute(
                select(c.c.client_id).where(
                    c.c.session_id == session_id, c.c.client_id == client_id
                )
            ).first()
            if seen is None:
                conn.execute(
                    insert(c).values(session_id=session_id, client_id=client_id, added_at=now)
                )

    def end_session(self, session_id: str, *, now: int) -> bool:
        """End a session, once."""
        t = sso_sessions
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(t).where(t.c.id == session_id, t.c.ended_at.is_(None)).values(ended_at=now)
            )
        return result.rowcount == 1

    # --- redemptions, tokens, jtis ------------------------------------------------------

    def redeem_many(self, redemptions: list[Redemption]) -> set[str]:
        """Record redemptions in one transaction, each with its access token (sealed); the
        code hashes that were redeemed here for the first time (a code listed twice, or
        redeemed before, is not: its token is not kept).

        This is the token endpoint's one write, so it is one plain multi-row statement (no
        query compilation): ``INSERT ... ON CONFLICT (code_hash) DO NOTHING RETURNING
        code_hash``, valid on SQLite (>= 3.35) and PostgreSQL alike."""
        first: dict[str, Redemption] = {}
        for r in redemptions:
            first.setdefault(r.code_hash, r)
        rows = [
            (
                r.token_hash,
                r.code_hash,
                self._seal(r.access.to_json(), f"token:{r.token_hash}"),
                r.access.expires_at,
            )
            for r in first.values()
        ]
        if not rows:
            return set()
        with self.engine.begin() as conn:
            return insert_new(
                conn,
                "sso_tokens",
                ("token_hash", "code_hash", "sealed", "expires_at"),
                "code_hash",
                rows,
            )

    def redeemed(self, code_hash: str) -> bool:
        """Whether the code with this hash was redeemed (its token kept, revoked or not)."""
        t = sso_tokens
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.token_hash).where(t.c.code_hash == code_hash)).first()
        return row is not None

    def access_token(self, token_hash: str, *, now: int) -> AccessGrant | None:
        """The grant of a live, unrevoked access token."""
        t = sso_tokens
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t).where(
                    t.c.token_hash == token_hash, t.c.revoked_at.is_(None), t.c.expires_at > now
                )
            ).first()
        if row is None:
            return None
        return AccessGrant.from_json(self._open(row.sealed, f"token:{token_hash}"))

    def revoke_tokens_of_code(self, code_hash: str, *, now: int) -> int:
        """Revoke every token issued from a code."""
        t = sso_tokens
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(t)
                .where(t.c.code_hash == code_hash, t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    def remember_jti(self, client_id: str, jti: str, *, until: int, now: int) -> None:
        """Remember a client assertion's jti; ``replayed`` if it was seen before."""
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(insert(sso_jtis).values(client_id=client_id, jti=jti, until=until))
        except IntegrityError as exc:
            raise CivicError("replayed", "the client assertion's jti was used before") from exc

    def purge(self, now: int) -> int:
        """Drop what has expired."""
        with write_transaction(self.engine) as conn:
            dropped = 0
            for statement in (
                delete(sso_tokens).where(sso_tokens.c.expires_at < now),
                delete(sso_logins).where(sso_logins.c.expires_at < now),
                delete(sso_jtis).where(sso_jtis.c.until < now),
                delete(sso_registration_tokens).where(sso_registration_tokens.c.expires_at < now),
            ):
                dropped += int(conn.execute(statement).rowcount)
            old = select(sso_sessions.c.id).where(sso_sessions.c.expires_at < now - _ENDED_KEPT)
            dropped += int(
                conn.execute(
                    delete(sso_session_clients).where(sso_session_clients.c.session_id.in_(old))
                ).rowcount
            )
            dropped += int(
                conn.execute(
                    delete(sso_sessions).where(sso_sessions.c.expires_at < now - _ENDED_KEPT)
                ).rowcount
            )
        return dropped
