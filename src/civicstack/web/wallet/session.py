"""The web wallet's sessions and guards: who may ask, with what, and until when.

See :mod:`civicstack.web.wallet` for the security model these implement: a loopback-only bind,
the ``Host`` check, ``Origin`` + CSRF on every POST, capped forms, and a session that locks
after inactivity or at the end of its lifetime, warning first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.credential_types import CREDENTIAL_TYPES
from civicstack.errors import CivicError, InputError
from civicstack.trust import TrustRegistry
from civicstack.types import Clock
from civicstack.wallet import ConsentSummary, Wallet
from civicstack.wallet import openid4vp as vp
from civicstack.wallet.openid4vci import PreparedOffer
from civicstack.wallet.transport import Transport, error_from
from civicstack.web.pages import Pages

T = TypeVar("T")

SESSION_COOKIE = "civic_wallet_session"
UNLOCK_COOKIE = "civic_wallet_unlock"
#: A form field's size cap, and a whole form body's: links and passphrases fit with room.
FIELD_CHARS = 8 * 1024
BODY_BYTES = 64 * 1024
#: What the platform's consent and change services may answer.
PLATFORM_RESPONSE_BYTES = 1024 * 1024
#: Codes that mean another server failed us, not that the holder gave something wrong.
UPSTREAM = frozenset({"fetch_failed", "server_unreachable", "status_unavailable"})

NAVIGATION = (
    ("/credentials", "Credentials"),
    ("/receive", "Add a credential"),
    ("/present", "Share"),
    ("/consents", "Consents"),
    ("/history", "History"),
    ("/access-history", "Who used your data"),
    ("/changes", "Report a change"),
)


def check_bind(host: str) -> str:
    """``host`` if it is 127.0.0.1; ``invalid_request`` for any other address (the web wallet
    is reachable from this machine only)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address != ipaddress.ip_address("127.0.0.1"):
        raise InputError(
            "invalid_request", f"the web wallet listens on 127.0.0.1 only, not {host!r}"
        )
    return "127.0.0.1"


@dataclass(frozen=True)
class WalletUISettings:
    """Where the web wallet's wallet is, where it listens, and when it locks."""

    wallet_dir: Path
    port: int
    #: The platform whose consent and change services the wallet talks to (``CIVIC_SERVER``).
    platform: str = "http://127.0.0.1:8000"
    #: Seconds without a request before the wallet locks.
    idle: int = 300
    #: Seconds an unlock (or an extension) lasts in any case.
    lifetime: int = 1800
    #: Seconds before the lifetime ends from which pages warn and offer to extend.
    warn: int = 120
    #: Wrong passphrases in a row before the unlock form makes the holder wait, and how long.
    unlock_attempts: int = 5
    unlock_wait: int = 60

    @property
    def origin(self) -> str:
        """The app's own origin: the only ``Origin`` a POST may carry."""
        return f"http://127.0.0.1:{self.port}"


@dataclass
class PendingPresentation:
    """A request authenticated and previewed, waiting for the holder's answer."""

    received: vp.ReceivedRequest
    registry: TrustRegistry
    summary: ConsentSummary


@dataclass
class Session:
    """One unlocked wallet: its CSRF token, its clocks and the work in progress."""

    wallet: Wallet
    csrf: str
    last_seen: int
    extended_at: int
    offers: dict[str, PreparedOffer] = field(default_factory=dict)
    presentations: dict[str, PendingPresentation] = field(default_factory=dict)
    consent_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: dict[str, dict[str, str]] = field(default_factory=dict)

    def locks_at(self, settings: WalletUISettings) -> int:
        """When it locks if nothing happens: idle, or the lifetime ending, whichever is first."""
        return min(self.last_seen + settings.idle, self.extended_at + settings.lifetime)

    def warning_due(self, settings: WalletUISettings, now: int) -> bool:
        """Whether the lifetime ends within ``warn`` seconds (pages then carry the warning)."""
        return self.extended_at + settings.lifetime - now <= settings.warn


class RefusedError(Exception):
    """A request refused before anything was done (Host, Origin, CSRF, size)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LockedError(Exception):
    """The wallet is locked for this request: it goes to the unlock page, then back."""


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def local_path(value: str | None, default: str = "/credentials") -> str:
    """``value`` if it is a path on this app (``/...``, never ``//host``), else ``default``."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or len(value) > FIELD_CHARS
        or not value.isprintable()
    ):
        return default
    return value


def type_name(vct: str) -> str:
    """A credential type's display name, or its vct."""
    known = CREDENTIAL_TYPES.get(vct)
    return known.name if known is not None else vct


_ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
#: Claims people look for first, in this order; the rest follow by name (ages by number).
_FIRST = (
    "given_name",
    "family_name",
    "birthdate",
    "nationalities",
    "address",
    "personal_administrative_number",
    "document_number",
    "issuing_authority",
    "issuing_country",
)


def shown(value: Any) -> str:
    """A claim value as the holder reads it: Yes/No, ``17 May 1990``, ``GB, FR``."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        day = _ISO_DAY.fullmatch(value)
        if day is not None:
            try:
                moment = dt.date(int(day[1]), int(day[2]), int(day[3]))
            except ValueError:
                return value
            return f"{moment.day} {moment:%B %Y}"
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json_dumps(value).decode()


def claim_order(path: str) -> tuple[int, int, str]:
    """Sort key of a claim's dotted path: names first, then ages by number, then the rest."""
    top = path.split(".", maxsplit=1)[0]
    if top in _FIRST:
        return (_FIRST.index(top), 0, path)
    if top.startswith("age_over_") and top[9:].isdigit():
        return (len(_FIRST), int(top[9:]), path)
    return (len(_FIRST) + 1, 0, path)


#: Work a session holds at once of each kind (offers, requests, changes): the oldest goes first.
HELD_PER_KIND = 16


def hold(store: dict[str, T], value: T) -> str:
    """Keep ``value`` in a session's ``store`` under a new random handle (at most
    :data:`HELD_PER_KIND`, dropping the oldest); the handle."""
    while len(store) >= HELD_PER_KIND:
        del store[next(iter(store))]
    handle = secrets.token_urlsafe(16)
    store[handle] = value
    return handle


def close(transport: Transport) -> None:
    """Release a transport that holds a connection pool."""
    closer = getattr(transport, "close", None)
    if callable(closer):
        closer()


class BodyCap:
    """ASGI guard: a request body over ``BODY_BYTES`` is refused (413) before it is parsed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse by ``Content-Length`` at once; count a body that comes without one."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > BODY_BYTES):
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": b"the form is too large"})
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > BODY_BYTES:
                    raise RefusedError(413, "the form is too large")
            return message

        await self.app(scope, capped, send)


class WalletUI:
    """The web wallet's state: the settings, the sessions in memory, the clock."""

    def __init__(
        self,
        settings: WalletUISettings,
        *,
        clock: Clock,
        pages: Pages,
        transport: Callable[[], Transport],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.pages = pages
        self.transport = transport
        self.sessions: dict[str, Session] = {}
        self.failures = 0
        self.wait_until = 0
        # One person, one wallet directory: wallet work runs one call at a time.
        self.lock = threading.Lock()

    # --- sessions -----------------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        """The live session of the request's cookie (touched), or None; an expired one is
        dropped here — that is the lock."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id or len(session_id) > 128:
            return None
        key = _hash(session_id)
        session = self.sessions.get(key)
        if session is None:
            return None
        now = self.clock.now()
        if now >= session.locks_at(self.settings):
            del self.sessions[key]
            return None
        session.last_seen = now
        return session

    def require(self, request: Request) -> Session:
        """The live session, or :class:`LockedError`."""
        session = self.session(request)
        if session is None:
            raise LockedError
        return session

    async def require_post(self, request: Request) -> tuple[Session, dict[str, str]]:
        """The live session and the form of a POST from this app's own pages."""
        form = await self.form(request)
        session = self.require(request)
        self.check_post(request, form, session.csrf)
        return session, form

    def start(self, wallet: Wallet) -> str:
        """A new session for an unlocked wallet; its cookie value."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock.now()
        self.sessions[_hash(session_id)] = Session(wallet, secrets.token_urlsafe(32), now, now)
        return session_id

    def end(self, request: Request) -> None:
        """Lock: forget the session of the request's cookie."""
        self.sessions.pop(_hash(request.cookies.get(SESSION_COOKIE, "")), None)

    # --- requests -----------------------------------------------------------------------------

    def check_host(self, request: Request) -> None:
        """Only requests addressed to this app's own host: refuses DNS rebinding."""
        if request.headers.get("host") != f"127.0.0.1:{self.settings.port}":
            raise RefusedError(403, "this wallet answers only at " + self.settings.origin)

    def check_post(self, request: Request, form: Mapping[str, str], csrf: str) -> None:
        """A POST comes from this app's own pages: its Origin, and the token it was given."""
        if request.headers.get("origin") != self.settings.origin:
            raise RefusedError(403, "the form did not come from this wallet's own pages")
        given = form.get("csrf", "")
        if not csrf or not hmac.compare_digest(given.encode(), csrf.encode()):
            raise RefusedError(403, "the form's token does not match this session")

    async def form(self, request: Request) -> dict[str, str]:
        """The form's fields as single strings, each capped; a file, a repeated field or a
        control character is refused (400)."""
        try:
            data = await request.form(max_files=0, max_fields=32)
        except RefusedError:
            raise
        except Exception as exc:  # a malformed body: multipart errors, bad encodings
            raise RefusedError(400, "the form could not be read") from exc
        out: dict[str, str] = {}
        for name, value in data.multi_items():
            if isinstance(value, UploadFile) or name in out or len(value) > FIELD_CHARS:
                raise RefusedError(400, "the form has a field it should not have")
            if any(ord(c) < 32 and c not in "\r\n\t" for c in value):
                raise RefusedError(400, "the form has control characters")
            out[name] = value
        return out

    def locked_redirect(self, request: Request) -> Response:
        """To the unlock page, coming back here afterwards."""
        query = request.url.query
        target = local_path(request.url.path + ("?" + query if query else ""), "")
        if request.method != "GET":
            target = ""  # a form is not replayed after unlocking
        params = urlencode(
            # A cookie that opens nothing any more: the wallet locked itself, so say so.
            ({"locked": "time"} if request.cookies.get(SESSION_COOKIE) else {})
            | ({"next": target} if target else {})
        )
        return RedirectResponse("/unlock" + ("?" + params if params else ""), status_code=303)

    # --- pages --------------------------------------------------------------------------------

    def context(self, request: Request, session: Session | None, **extra: Any) -> dict[str, Any]:
        """What every wallet page's layout reads."""
        path = request.url.path
        out: dict[str, Any] = {
            "service_name": "Your wallet",
            "service_url": "/credentials" if session else "/",
            "navigation": [
                {"href": href, "text": text, "current": path == href} for href, text in NAVIGATION
            ]
            if session
            else [],
            "session": session,
            "csrf": session.csrf if session else "",
            "return_to": local_path(path + ("?" + request.url.query if request.url.query else "")),
            "type_name": type_name,
            "shown": shown,
        }
        if session is not None:
            now = self.clock.now()
            out["locks_in"] = max(0, session.locks_at(self.settings) - now)
            out["lifetime_left"] = max(0, session.extended_at + self.settings.lifetime - now)
            out["warning_due"] = session.warning_due(self.settings, now)
            out["warn_seconds"] = self.settings.warn
            out["idle_minutes"] = max(1, self.settings.idle // 60)
        out.update(extra)
        return out

    def render(
        self,
        request: Request,
        session: Session | None,
        template: str,
        *,
        status_code: int = 200,
        **extra: Any,
    ) -> Response:
        """A wallet page (``templates/wallet/<template>``)."""
        return self.pages.render(
            f"wallet/{template}", self.context(request, session, **extra), status_code=status_code
        )

    def problem(
        self, request: Request, session: Session | None, exc: CivicError, *, title: str
    ) -> Response:
        """The page for a coded error: what happened in the holder's words, and the code."""
        status = 502 if exc.code in UPSTREAM else 400
        return self.render(
            request, session, "problem.html", status_code=status, title=title, error=exc
        )

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Wallet work (Argon2, files, network) off the event loop, one call at a time."""

        def locked() -> Any:
            with self.lock:
                return fn(*args, **kwargs)

        return await run_in_threadpool(locked)

    def post_json(self, path: str, body: Any) -> Any:
        """POST ``body`` as JSON to the platform's ``path``; the success's JSON, else the
        problem's coded error (the ``Post`` of :mod:`civicstack.wallet.consents`)."""
        url = self.settings.platform.rstrip("/") + path
        transport = self.transport()
        try:
            status, raw = transport.send(
                "POST",
                url,
                max_bytes=PLATFORM_RESPONSE_BYTES,
                json=body,
                headers={"Accept": "application/json"},
            )
        finally:
            close(transport)
        if not 200 <= status < 300:
            raise error_from(status, raw, url)
        return json_loads_strict(raw)
