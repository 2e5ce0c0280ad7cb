"""What the OpenID Provider keeps, as the store it needs (:class:`SsoStore`, implemented by
:mod:`civicstack.stores.sso`).

Bearer secrets (access tokens, session cookies, initial access tokens, client secrets) are
stored only as their SHA-256; what a token or a session says about the citizen is sealed at
rest by the store. Codes are not stored at all (they are sealed, :func:`civicstack.sso.seal_code`):
only their redemptions are, by the code's SHA-256, each with the access token it gave.
"""

from __future__ import annotations

from typing import Protocol

from civicstack._crypto import PrivateKey
from civicstack.sso import (
    AccessGrant,
    Client,
    InitialAccessToken,
    Login,
    Redemption,
    SsoSession,
)

__all__ = ["InitialAccessToken", "Login", "SsoStore"]


class SsoStore(Protocol):
    """Keys, clients, registration tokens, sign-ins, sessions, codes, tokens and used jtis."""

    def signing_keys(self) -> list[PrivateKey]:
        """The provider's signing keys, oldest first."""

    def add_signing_key(self, key: PrivateKey, *, now: int) -> None:
        """Keep a new signing key (wrapped under the platform's key)."""

    def add_client(self, client: Client) -> None:
        """Register a client (``conflict`` on a reused id)."""

    def client(self, client_id: str) -> Client | None:
        """The client ``client_id``, if registered."""

    def add_initial_access_token(self, token: InitialAccessToken, *, now: int) -> None:
        """Keep a registration token."""

    def initial_access_token(self, token_hash: str) -> InitialAccessToken | None:
        """The registration token with this hash, if any."""

    def add_login(self, login: Login, *, now: int) -> None:
        """Record a sign-in under way."""

    def login(self, login_id: str) -> Login | None:
        """The sign-in ``login_id``, if any."""

    def finish_login(self, login_id: str) -> bool:
        """Mark a sign-in done, once: False if it was done already."""

    def add_session(self, session: SsoSession, *, now: int) -> None:
        """Record a new session."""

    def session(self, session_id: str) -> SsoSession | None:
        """The session whose cookie hashes to ``session_id``, with its clients."""

    def session_by_sid(self, sid: str) -> SsoSession | None:
        """The session with the public id ``sid``."""

    def sessions_of(self, handle: str, *, now: int) -> list[SsoSession]:
        """The active sessions of the citizen filed under ``handle``, newest first."""

    def add_session_client(self, session_id: str, client_id: str, *, now: int) -> None:
        """Note that the session signed the citizen in to ``client_id`` (idempotent)."""

    def end_session(self, session_id: str, *, now: int) -> bool:
        """End a session; False if it had ended already."""

    def redeem_many(self, redemptions: list[Redemption]) -> set[str]:
        """Record redemptions in one transaction, each with its access token; the code hashes
        redeemed here for the first time (the others' tokens are not kept)."""

    def redeemed(self, code_hash: str) -> bool:
        """Whether the code with this hash was redeemed."""

    def access_token(self, token_hash: str, *, now: int) -> AccessGrant | None:
        """The grant of a live, unrevoked access token."""

    def revoke_tokens_of_code(self, code_hash: str, *, now: int) -> int:
        """Revoke every token issued from a code (it was used twice); how many."""

    def remember_jti(self, client_id: str, jti: str, *, until: int, now: int) -> None:
        """Remember a client assertion's jti (``replayed`` if seen before)."""

    def purge(self, now: int) -> int:
        """Drop expired tokens (with the redemptions they record: a token outlives its code),
        sign-ins, jtis and long-ended sessions."""
