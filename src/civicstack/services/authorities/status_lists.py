"""Publishing the hosted authorities' status lists as signed Status List Tokens.

Status List Tokens (draft-ietf-oauth-status-list §5.1) are signed on demand with the issuer's
active key, ``sub`` = ``{identifier}/status/{list_id}``, ``iss`` = the identifier, ``ttl`` 300 s
and ``exp`` one day ahead; the signed token is kept with the list's version, so it is re-signed
only after a change (or when it is an hour old) and every worker serves the same bytes.
"""

from __future__ import annotations

import re

from civicstack.errors import CivicError
from civicstack.services.authorities.storage import AuthorityRecords, StatusRecords
from civicstack.status import sign_status_list_token
from civicstack.trust.parties import DAY, HostedAuthority
from civicstack.types import Clock, Fetcher

STATUS_TTL = 300
STATUS_TOKEN_LIFETIME = DAY
STATUS_RESIGN_AFTER = 3_600
_STATUS_URL = re.compile(r"(?P<identifier>.+)/status/(?P<list_id>[0-9]{1,6})")


class StatusListPublishing:
    """Where :class:`~civicstack.services.authorities.Authorities` publishes its status lists, and
    the signed token of each; ``store``, ``status`` and ``clock`` are the service's own."""

    store: AuthorityRecords
    status: StatusRecords
    clock: Clock

    def status_uri(self, authority: HostedAuthority, list_id: str) -> str:
        """Where a list is published: ``{identifier}/status/{list_id}``."""
        return f"{authority.identifier}/status/{list_id}"

    def status_list_token(self, name: str, list_id: str) -> str:
        """The signed ``statuslist+jwt`` of ``name``'s list ``list_id``."""
        now = self.clock.now()
        try:
            state = self.status.state(name, list_id)
        except CivicError as exc:
            if exc.code == "not_found":
                self.store.get(name)  # an unknown authority says so
            raise
        if (
            state.token is not None
            and state.token_version == state.version
            and state.token_iat is not None
            and 0 <= now - state.token_iat < STATUS_RESIGN_AFTER
        ):
            return state.token
        hosted, key = self.store.signing_key(name)
        token = sign_status_list_token(
            key,
            state.status_list(),
            uri=self.status_uri(hosted, list_id),
            iat=now,
            exp=now + STATUS_TOKEN_LIFETIME,
            ttl=STATUS_TTL,
            iss=hosted.identifier,
            kid=key.public_key.thumbprint(),
        )
        self.status.save_token(state.pk, version=state.version, token=token, iat=now)
        return token

    def status_list_token_at(self, url: str) -> str | None:
        """The token published at ``url`` if it names one of this platform's lists, else None
        (``not_found`` for a list of a hosted authority that does not exist)."""
        match = _STATUS_URL.fullmatch(url) if isinstance(url, str) else None
        if match is None:
            return None
        hosted = self.store.by_identifier(match["identifier"])
        if hosted is None or hosted.role == "relying_party":
            return None
        return self.status_list_token(hosted.name, match["list_id"])


class StatusListFetcher:
    """A :class:`civicstack.types.Fetcher` serving this platform's status lists from the
    database (so the CLI verifies without a running server) and anything else through
    ``fallback`` (HTTP)."""

    def __init__(self, authorities: StatusListPublishing, fallback: Fetcher) -> None:
        self.authorities = authorities
        self.fallback = fallback

    def fetch(self, url: str, *, accept: str, max_bytes: int) -> bytes:
        """The list token for a local list URL; otherwise whatever ``fallback`` fetches."""
        try:
            token = self.authorities.status_list_token_at(url)
        except CivicError as exc:
            raise CivicError("fetch_failed", f"{url}: {exc.detail}") from exc
        if token is None:
            return self.fallback.fetch(url, accept=accept, max_bytes=max_bytes)
        raw = token.encode()
        if len(raw) > max_bytes:
            raise CivicError("fetch_failed", f"{url} is larger than {max_bytes} bytes")
        return raw
