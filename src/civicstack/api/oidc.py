"""One login (``/oidc``): the platform's OpenID Provider over HTTP.

* ``GET /.well-known/openid-configuration`` (Discovery 1.0 §4, at the server root: the issuer
  is ``CIVIC_BASE_URL``) and ``GET /oidc/jwks``;
* ``GET|POST /oidc/authorize`` (OIDC Core §3.1.2): an error before the client and its
  ``redirect_uri`` are known good is a page (never a redirect, RFC 6749 §4.1.2.1); after, a
  redirect with ``error`` and ``state``. With an SSO session the browser goes straight back with
  a code; otherwise to the sign-in page ``GET /oidc/login/{id}`` (a same-device link, a QR code
  and, without JavaScript, a "continue" button: ``POST /oidc/login/{id}``);
* ``POST /oidc/token`` (§3.1.3; errors RFC 6749 §5.2 as ``application/json``),
  ``GET|POST /oidc/userinfo`` (§5.3, RFC 6750 errors);
* ``GET|POST /oidc/logout`` (RP-Initiated Logout 1.0), with Back-Channel Logout 1.0 to each
  client of the session;
* ``POST /oidc/register`` (RFC 7591 §3 with OIDC Registration 1.0), bearer: an initial access
  token (``civic sso initial-access-token --org NAME``) or the admin token;
* ``GET /oidc/sessions`` and ``POST /oidc/sessions/{sid}/end``: the citizen's sessions.

Cookies (``HttpOnly``, ``SameSite=Lax``, ``Path=/oidc``, ``Secure`` on https): ``civic_sso``
(the session's secret) and ``civic_browser`` (binds a sign-in to the browser that started
it). Forms carry a CSRF token derived from the cookie, and a cross-origin ``Origin`` is refused.
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations at definition.
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import segno
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from civicstack._crypto import json_loads_strict
from civicstack.api.auth import bearer_token
from civicstack.api.catalogue import Service, service_app
from civicstack.api.problems import problem
from civicstack.errors import CivicError, ProtocolError
from civicstack.platform import Platform
from civicstack.services.sso import LoginStarted, OpenIdProvider, SignedIn, SignedOut
from civicstack.sso import SESSION_LIFETIME, AuthorizationError, new_secret, secret_hash
from civicstack.web import Pages, Theme

log = logging.getLogger("civicstack.api")

SUMMARY = (
    "One login for every service: an OpenID Provider (code flow with PKCE, pairwise subjects "
    "per organisation, dynamic registration, back-channel logout); signing in is presenting "
    "from the wallet."
)
#: The citizen's web wallet on their own computer (``civic wallet ui``'s default address):
#: browsers do not route ``openid4vp://`` to a local page, so the same-device link opens it.
LOCAL_WALLET = "http://127.0.0.1:8700"
SESSION_COOKIE = "civic_sso"
BROWSER_COOKIE = "civic_browser"
#: The largest form or JSON body an endpoint of this service reads.
MAX_BODY = 32 * 1024
_MAX_FIELDS = 24
#: How the sign-in page names the PID claims asked for.
_CLAIM_LABELS = {
    "given_name": "Your first names",
    "family_name": "Your last name",
    "birthdate": "Your date of birth",
    "address": "Your address",
    "issuing_country": "The country that issued your identity",
    "personal_administrative_number": "Your national identity number (it never leaves one login)",
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(exc: CivicError) -> JSONResponse:
    """RFC 6749 §5.2 / RFC 7591 §3.2.2 / RFC 6750 §3.1: ``error`` and ``error_description``
    as ``application/json`` (plus civicstack's ``code``)."""
    error = exc.oauth_error if isinstance(exc, ProtocolError) else _OAUTH.get(exc.code, exc.code)
    status = exc.status if exc.code != "too_large" else 413
    if error == "invalid_client":
        status = 401
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = (
            'Basic realm="civicstack"'
            if error == "invalid_client"
            else f'Bearer realm="civicstack", error="{error}"'
        )
    body = {"error": error, "error_description": exc.detail, "code": exc.code}
    return JSONResponse(body, status_code=status, headers=headers)


_OAUTH = {
    "unauthorized": "invalid_token",
    "forbidden": "access_denied",
    "too_large": "invalid_request",
    "malformed": "invalid_request",
}


async def _form(request: Request) -> list[tuple[str, str]]:
    """The parameters of a query string or form body, capped and strictly decoded."""
    if request.method == "GET":
        raw = request.url.query
    else:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise ProtocolError(
                "invalid_request", "invalid_request", "send application/x-www-form-urlencoded"
            )
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise ProtocolError("too_large", "invalid_request", "the form is too large")
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("malformed", "invalid_request", "the form is not UTF-8") from exc
    if len(raw) > MAX_BODY:
        raise ProtocolError("too_large", "invalid_request", "the query is too large")
    try:
        return parse_qsl(raw, keep_blank_values=True, max_num_fields=_MAX_FIELDS, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("invalid_request", "invalid_request", "too many parameters") from exc


def _error_redirect(exc: AuthorizationError, issuer: str) -> RedirectResponse:
    params = {"error": exc.oauth_error, "error_description": exc.detail, "iss": issuer}
    if exc.state is not None:
        params["state"] = exc.state
    uri = exc.redirect_uri
    return RedirectResponse(uri + ("&" if "?" in uri else "?") + urlencode(params), 303)


Handler = Callable[[Request], Awaitable[Response]]


class FastLogin:
    """ASGI: a login's two requests, ``GET /oidc/authorize`` and ``POST /oidc/token`` (and
    ``POST /oidc/authorize``), handed straight to their route handlers, skipping the routing
    and middleware stacks of the root app and of the mounted service (a fifth of a login's
    CPU, measured with py-spy under bench/login.py), as :class:`~civicstack.api.verifier.
    FastVerify` does. The handlers are the very functions the documented routes call, so the
    answers are the same; everything else goes to ``app``.
    """

    def __init__(self, app: ASGIApp, handlers: dict[tuple[str, str], Handler]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a login's requests; pass anything else on."""
        handler = (
            self.handlers.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await handler(Request(scope, receive))
        except Exception:  # the same contract as the app: logged, never a traceback
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = problem("internal_error")
        await response(scope, receive, send)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def oidc_service(platform: Platform) -> tuple[Service, FastAPI]:  # noqa: PLR0915 -- a closure per route
    """The ``/oidc`` sub-app and the discovery route at the root."""
    app = service_app("One login", SUMMARY)
    pages = Pages(theme=Theme.from_settings(platform.settings))
    secure = platform.settings.base_url.startswith("https://")
    base_origin = _origin(platform.settings.base_url)

    def op() -> OpenIdProvider:
        return platform.sso

    def page(
        template: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        form_action: tuple[str, ...] = ("'self'",),
    ) -> HTMLResponse:
        return pages.render(
            template,
            {"service_name": "One login", "service_url": "/oidc/sessions", **context},
            status_code=status,
            form_action=form_action,
            # Same-origin posts carry their Origin (no-referrer would make it "null"); other
            # sites still learn nothing of these URLs.
            headers={"Referrer-Policy": "same-origin"},
        )

    def error_page(exc: CivicError) -> HTMLResponse:
        title = {
            "invalid_client": "This service is not known",
            "invalid_redirect_uri": "This service sent you to the wrong place",
            "not_found": "This sign-in is not known in this browser",
            "expired": "This sign-in has expired",
        }.get(exc.code, "Sorry, there is a problem")
        return page(
            "oidc/error.html",
            {"title": title, "detail": exc.detail, "code": exc.code},
            status=exc.status if exc.status < 500 else 400,
        )

    def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/oidc",
            httponly=True,
            samesite="lax",
            secure=secure,
        )

    def csrf_token(secret: str | None) -> str:
        return secret_hash("csrf:" + (secret or ""))[:32]

    def check_form(request: Request, form: dict[str, str], secret: str | None) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin != base_origin:
            raise CivicError("forbidden", "the form was posted from another site")
        if not secret or not hmac.compare_digest(form.get("csrf", ""), csrf_token(secret)):
            raise CivicError("forbidden", "the form has expired: reload the page")

    # --- authorization and sign-in ---------------------------------------------------------

    async def authorize(request: Request) -> Response:
        browser = request.cookies.get(BROWSER_COOKIE) or new_secret()
        try:
            items = await _form(request)
            outcome = await op().authorize_async(
                items, session_secret=request.cookies.get(SESSION_COOKIE), browser=browser
            )
        except AuthorizationError as exc:
            return _error_redirect(exc, op().endpoints.issuer)
        except CivicError as exc:
            return error_page(exc)
        if isinstance(outcome, SignedIn):
            return RedirectResponse(outcome.location, 303)
        response = RedirectResponse(f"{op().endpoints.base}/login/{outcome.login.id}", 303)
        set_cookie(response, BROWSER_COOKIE, browser, SESSION_LIFETIME)
        return response

    app.add_api_route(
        "/authorize",
        authorize,
        methods=["GET"],
        operation_id="authorize_get",
        tags=["openid connect"],
        summary="Authorization endpoint (OIDC Core §3.1.2): code flow with PKCE S256",
        response_class=HTMLResponse,
        responses={303: {"description": "To the client with a code or an error, or to sign in"}},
    )
    app.add_api_route(
        "/authorize",
        authorize,
        methods=["POST"],
        operation_id="authorize_post",
        tags=["openid connect"],
        summary="Authorization endpoint (OIDC Core §3.1.2): code flow with PKCE S256",
        response_class=HTMLResponse,
        responses={303: {"description": "To the client with a code or an error, or to sign in"}},
    )

    def login_page(
        started: LoginStarted | None, login_id: str, browser: str, *, pending: bool
    ) -> HTMLResponse:
        login = started.login if started is not None else op().login(login_id, browser)
        client = op().client(login.request.client_id)
        name = (client.metadata.client_name if client else None) or login.organisation
        hosted = platform.verifier.relying_party(login.organisation)
        organisation = hosted.display_name or hosted.name
        qr = segno.make(login.link, error="m").svg_data_uri(scale=4, border=2)
        return page(
            "oidc/login.html",
            {
                "client_name": name,
                "organisation": organisation,
                "claims": [_CLAIM_LABELS.get(c, c) for c in login.claims],
                "link": login.link,
                "local_link": f"{LOCAL_WALLET}/request?{login.link.partition('?')[2]}",
                "qr": qr,
                "action": f"{op().endpoints.base}/login/{login.id}",
                "csrf": csrf_token(browser),
                "pending": pending,
                "expires_in": max(0, login.expires_at - platform.clock.now()),
            },
            status=409 if pending else 200,
            form_action=("'self'", _origin(login.request.redirect_uri)),
        )

    @app.get(
        "/login/{login_id}",
        tags=["sign-in"],
        summary="The sign-in page: a wallet link, its QR code, a continue button",
        response_class=HTMLResponse,
    )
    def show_login(login_id: str, request: Request) -> Response:
        browser = request.cookies.get(BROWSER_COOKIE, "")
        try:
            return login_page(None, login_id, browser, pending=False)
        except CivicError as exc:
            return error_page(exc)

    @app.post(
        "/login/{login_id}",
        tags=["sign-in"],
        summary="Continue once the wallet has presented: back to the client with a code",
        response_class=HTMLResponse,
    )
    async def continue_login(login_id: str, request: Request) -> Response:
        browser = request.cookies.get(BROWSER_COOKIE, "")
        try:
            form = dict(await _form(request))
            check_form(request, form, browser)
            signed_in = await run_in_threadpool(
                op().continue_login,
                login_id,
                browser=browser,
                session_secret=request.cookies.get(SESSION_COOKIE),
            )
        except AuthorizationError as exc:
            return _error_redirect(exc, op().endpoints.issuer)
        except CivicError as exc:
            if exc.code == "login_pending":
                try:
                    return login_page(None, login_id, browser, pending=True)
                except CivicError as again:
                    return error_page(again)
            return error_page(exc)
        response = RedirectResponse(signed_in.location, 303)
        if signed_in.session_secret is not None:
            set_cookie(response, SESSION_COOKIE, signed_in.session_secret, SESSION_LIFETIME)
        return response

    # --- token, userinfo, keys -------------------------------------------------------------

    @app.post(
        "/token",
        tags=["openid connect"],
        summary="Token endpoint (OIDC Core §3.1.3): client_secret_basic or private_key_jwt",
    )
    async def token(request: Request) -> Response:
        try:
            items = await _form(request)
            answer = await op().token_async(items, request.headers.get("authorization"))
        except CivicError as exc:
            return _oauth_error(exc)
        return JSONResponse(answer, headers=_NO_STORE)

    async def userinfo(request: Request) -> Response:
        try:
            token = bearer_token(request)
            if token is None and request.method == "POST":
                token = dict(await _form(request)).get("access_token")
            answer = await run_in_threadpool(op().userinfo, token)
        except CivicError as exc:
            return _oauth_error(exc)
        return JSONResponse(answer, headers=_NO_STORE)

    app.add_api_route(
        "/userinfo",
        userinfo,
        methods=["GET"],
        operation_id="userinfo_get",
        tags=["openid connect"],
        summary="UserInfo (OIDC Core §5.3): the pairwise sub and the released claims",
    )
    app.add_api_route(
        "/userinfo",
        userinfo,
        methods=["POST"],
        operation_id="userinfo_post",
        tags=["openid connect"],
        summary="UserInfo (OIDC Core §5.3): the pairwise sub and the released claims",
    )

    @app.get("/jwks", tags=["openid connect"], summary="The provider's signing keys (JWK Set)")
    def jwks() -> JSONResponse:
        return JSONResponse(op().jwks(), headers={"Cache-Control": "max-age=300"})

    # --- registration ----------------------------------------------------------------------

    @app.post(
        "/register",
        status_code=201,
        tags=["registration"],
        summary="Dynamic client registration (RFC 7591 §3), bearer: an initial access token",
    )
    async def register(request: Request) -> Response:
        try:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    raise ProtocolError("too_large", "invalid_client_metadata", "too large")
            try:
                metadata = json_loads_strict(body)
            except CivicError as exc:
                raise ProtocolError(
                    "invalid_client_metadata", "invalid_client_metadata", "not a JSON object"
                ) from exc
            answer = await run_in_threadpool(op().register, bearer_token(request), metadata)
        except CivicError as exc:
            return _oauth_error(exc)
        return JSONResponse(answer, status_code=201, headers=_NO_STORE)

    # --- logout ----------------------------------------------------------------------------

    def signed_out(outcome: SignedOut, response_cookie: bool = True) -> Response:
        if outcome.location is not None:
            response: Response = RedirectResponse(outcome.location, 303)
        else:
            names = op().client_names((*outcome.notified, *outcome.failed))
            response = page(
                "oidc/signed_out.html",
                {
                    "notified": [names.get(c, c) for c in outcome.notified],
                    "failed": [names.get(c, c) for c in outcome.failed],
                },
            )
        if response_cookie:
            response.delete_cookie(SESSION_COOKIE, path="/oidc")
        return response

    async def logout(request: Request) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        try:
            items = await _form(request)
            params = dict(items)
            confirmed = request.method == "POST" and "csrf" in params
            if confirmed:
                check_form(request, params, secret)
                items = [(k, v) for k, v in items if k != "csrf"]
            elif "id_token_hint" not in params and secret:
                # RP-Initiated Logout §2: without a hint, ask the person before logging out
                return page(
                    "oidc/logout.html",
                    {
                        "action": f"{op().endpoints.base}/logout",
                        "csrf": csrf_token(secret),
                        "params": items,
                    },
                )
            outcome = await run_in_threadpool(op().end_session, items, session_secret=secret)
        except CivicError as exc:
            return error_page(exc)
        return signed_out(outcome)

    app.add_api_route(
        "/logout",
        logout,
        methods=["GET"],
        operation_id="logout_get",
        tags=["openid connect"],
        summary="End session (RP-Initiated Logout 1.0), with back-channel logout to each client",
        response_class=HTMLResponse,
    )
    app.add_api_route(
        "/logout",
        logout,
        methods=["POST"],
        operation_id="logout_post",
        tags=["openid connect"],
        summary="End session (RP-Initiated Logout 1.0), with back-channel logout to each client",
        response_class=HTMLResponse,
    )

    # --- the citizen's sessions ------------------------------------------------------------

    def when(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%d %B %Y at %H:%M UTC")

    @app.get(
        "/sessions",
        tags=["sessions"],
        summary="Your sessions: where you are signed in, and a button to end each",
        response_class=HTMLResponse,
    )
    def sessions(request: Request, ended: int = 0) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        try:
            current, listed = op().sessions(secret)
        except CivicError as exc:
            return error_page(exc)
        names = op().client_names({c for s in listed for c in s.clients})
        rows = [
            {
                "sid": s.sid,
                "current": s.id == current.id,
                "started": when(s.auth_time),
                "expires": when(s.expires_at),
                "clients": [names.get(c, c) for c in s.clients],
            }
            for s in listed
        ]
        return page(
            "oidc/sessions.html", {"sessions": rows, "csrf": csrf_token(secret), "ended": ended}
        )

    @app.post(
        "/sessions/{sid}/end",
        tags=["sessions"],
        summary="End one of your sessions (its services hear by back-channel logout)",
        response_class=HTMLResponse,
    )
    async def end_session(sid: str, request: Request) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        try:
            form = dict(await _form(request))
            check_form(request, form, secret)
            current, _ = op().sessions(secret)
            outcome = await run_in_threadpool(op().end_by_citizen, secret, sid[:64])
        except CivicError as exc:
            return error_page(exc)
        if sid == current.sid:
            return signed_out(outcome)
        return RedirectResponse(f"{op().endpoints.base}/sessions?ended=1", 303)

    # --- discovery at the server root ------------------------------------------------------

    root = APIRouter()

    @root.get(
        "/.well-known/openid-configuration",
        tags=["one login"],
        summary="OpenID Provider metadata (Discovery 1.0 §3)",
    )
    def discovery() -> JSONResponse:
        return JSONResponse(op().metadata(), headers={"Cache-Control": "max-age=300"})

    return (
        Service(
            "/oidc",
            "One login",
            SUMMARY,
            (
                "OpenID Connect Core 1.0",
                "Discovery 1.0",
                "RFC 7591",
                "RFC 7636",
                "RFC 7523",
                "Back-Channel Logout 1.0",
                "RP-Initiated Logout 1.0",
            ),
            routes=root,
            fast_path=lambda inner: FastLogin(
                inner,
                {
                    ("GET", "/oidc/authorize"): authorize,
                    ("POST", "/oidc/authorize"): authorize,
                    ("POST", "/oidc/token"): token,
                },
            ),
        ),
        app,
    )
