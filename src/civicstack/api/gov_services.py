"""Three demo government services behind one login: ``/services/tax`` (HMRC: your tax
summary), ``/services/health`` (your GP practice) and ``/services/council`` (council tax band
and bin days).

Each is an ordinary OpenID Connect client of the platform's provider
(:class:`~civicstack.web.relying_party.RelyingParty`: code flow with PKCE, the ID token checked,
UserInfo), talking to it over HTTP like any other service would; ``civic up`` registers them
(``civicstack.demo.world.seed_gov_services``, their registrations in
``<data dir>/gov-services.json``). A signed-in citizen is remembered in a cookie signed with a
key derived from the client's secret; a back-channel logout from the provider ends it (kept in
this process's memory: a demo, not a pattern for several workers).

What each page shows is the organisation's own data about the citizen, found by the pairwise
``sub`` -- the id the organisation knows the citizen by everywhere on the platform: HMRC's tax
summary is its hosted record on the data exchange, keyed by that id.
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations at definition.
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from civicstack._crypto import b64url_decode, b64url_encode, json_dumps, json_object_strict
from civicstack.api.catalogue import Service, ServiceFactory, service_app
from civicstack.errors import CivicError
from civicstack.platform import GOV_SERVICES_FILE, Platform
from civicstack.web import Pages, Theme
from civicstack.web.relying_party import LoginState, RelyingParty

#: service -> (title, what it does)
GOV_SERVICES: dict[str, tuple[str, str]] = {
    "tax": ("Your tax summary", "See the income and tax HMRC holds for this tax year."),
    "health": ("Your GP practice", "See the GP practice you are registered with."),
    "council": ("Council tax and bins", "See your council tax band and your bin collection days."),
}
_SESSION_SECONDS = 3600
_LOGIN_SECONDS = 600
_BINS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def gov_service_factories() -> list[ServiceFactory]:
    """A factory per demo service, for :func:`civicstack.api.app.service_factories`."""
    return [_factory(name) for name in GOV_SERVICES]


def _factory(name: str) -> ServiceFactory:
    def factory(platform: Platform) -> tuple[Service, FastAPI]:
        return _service(platform, name)

    return factory


def _signed(key: bytes, value: dict[str, Any]) -> str:
    body = b64url_encode(json_dumps(value))
    return body + "." + b64url_encode(hmac.new(key, body.encode(), "sha256").digest())


def _unsigned(key: bytes, cookie: str | None, now: int) -> dict[str, Any] | None:
    if not cookie or len(cookie) > 4096 or "." not in cookie:
        return None
    body, _, mac = cookie.partition(".")
    expected = b64url_encode(hmac.new(key, body.encode(), "sha256").digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        value = json_object_strict(b64url_decode(body))
    except CivicError:
        return None
    exp = value.get("exp")
    return value if isinstance(exp, int) and now < exp else None


def _service(platform: Platform, name: str) -> tuple[Service, FastAPI]:  # noqa: PLR0915 -- routes
    title, description = GOV_SERVICES[name]
    app = service_app(f"{title} (demo)", description)
    pages = Pages(theme=Theme.from_settings(platform.settings))
    base = platform.settings.base_url.rstrip("/")
    here = f"{base}/services/{name}"
    path = f"/services/{name}"
    ended: set[str] = set()
    built: dict[str, Any] = {}

    def registration() -> dict[str, Any]:
        if "registration" not in built:
            file = platform.settings.data_dir / GOV_SERVICES_FILE
            if not file.exists():
                raise CivicError("not_found", "this demo service is not registered (civic up)")
            built["registration"] = json_object_strict(file.read_bytes())[name]
        value: dict[str, Any] = built["registration"]
        return value

    def rp() -> RelyingParty:
        if "rp" not in built:
            reg = registration()
            # One client for the three services, closed with the platform (a client per
            # service, never closed, left loopback sockets for the garbage collector).
            http = platform.gov_services_http
            built["rp"] = RelyingParty(
                issuer=base,
                client_id=reg["client_id"],
                client_secret=reg["client_secret"],
                redirect_uri=f"{here}/callback",
                http=http,
            )
        value: RelyingParty = built["rp"]
        return value

    def key(purpose: str) -> bytes:
        return hashlib.sha256(f"{purpose}:{registration()['client_secret']}".encode()).digest()

    def cookie(response: Response, cookie_name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            cookie_name,
            value,
            max_age=max_age,
            path=path,
            httponly=True,
            samesite="lax",
            secure=base.startswith("https://"),
        )

    def render(template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        return pages.render(
            template,
            {"service_name": title, "service_url": f"{path}/", "title": title, **context},
            status_code=status,
            form_action=("'self'", base),
        )

    def signed_out(error: str | None = None, status: int = 200) -> HTMLResponse:
        return render(
            "gov_services/signed_out.html",
            {"description": description, "login_url": f"{path}/login", "error": error},
            status,
        )

    @app.get("/", response_class=HTMLResponse, summary="The service's page (sign in first)")
    def home(request: Request) -> Response:
        now = platform.clock.now()
        try:
            session = _unsigned(key("session"), request.cookies.get("gov_session"), now)
        except CivicError as exc:
            return signed_out(exc.detail, exc.status if exc.status < 500 else 404)
        if session is None or session.get("sid") in ended:
            return signed_out()
        rows = _rows(platform, name, registration()["organisation"], session)
        return render(
            "gov_services/page.html",
            {
                "name": session.get("name") or "you",
                "rows": rows,
                "logout_url": f"{path}/logout",
                "sessions_url": "/oidc/sessions",
                "csrf": hmac.new(key("csrf"), session["sid"].encode(), "sha256").hexdigest(),
            },
        )

    @app.get("/login", summary="Sign in with one login (redirects to the provider)")
    def login() -> Response:
        try:
            url, state = rp().start(registration()["scope"])
        except CivicError as exc:
            return signed_out(exc.detail, exc.status if exc.status < 500 else 404)
        response = RedirectResponse(url, 303)
        value: dict[str, Any] = {
            "state": state.state,
            "nonce": state.nonce,
            "verifier": state.verifier,
            "exp": platform.clock.now() + _LOGIN_SECONDS,
        }
        cookie(response, "gov_login", _signed(key("login"), value), _LOGIN_SECONDS)
        return response

    @app.get("/callback", summary="Where the provider sends the citizen back with a code")
    def callback(request: Request) -> Response:
        now = platform.clock.now()
        params = dict(request.query_params)
        try:
            kept = _unsigned(key("login"), request.cookies.get("gov_login"), now)
            if kept is None:
                raise CivicError("unauthorized", "the sign-in expired: try again")
            state = LoginState(kept["state"], kept["nonce"], kept["verifier"])
            signed_in = rp().finish(params, state, now=now)
        except CivicError as exc:
            return signed_out(f"You could not be signed in: {exc.detail}", 400)
        info = signed_in.userinfo
        session = {
            "sub": signed_in.claims["sub"],
            "sid": signed_in.claims.get("sid", ""),
            "name": " ".join(str(info[n]) for n in ("given_name", "family_name") if n in info),
            "address": info.get("address"),
            "id_token": signed_in.id_token,
            "exp": now + _SESSION_SECONDS,
        }
        response = RedirectResponse(f"{path}/", 303)
        cookie(response, "gov_session", _signed(key("session"), session), _SESSION_SECONDS)
        response.delete_cookie("gov_login", path=path)
        return response

    @app.post("/logout", summary="Sign out here and at the provider (RP-initiated logout)")
    async def logout(request: Request) -> Response:
        now = platform.clock.now()
        session = _unsigned(key("session"), request.cookies.get("gov_session"), now)
        response: Response = RedirectResponse(f"{path}/", 303)
        if session is not None:
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
            expected = hmac.new(key("csrf"), session["sid"].encode(), "sha256").hexdigest()
            if hmac.compare_digest(form.get("csrf", ""), expected):
                url = await run_in_threadpool(rp().logout_url, session["id_token"], f"{here}/")
                response = RedirectResponse(url, 303)
        response.delete_cookie("gov_session", path=path)
        return response

    @app.post(
        "/backchannel-logout",
        summary="Back-Channel Logout 1.0: the provider says the session has ended",
    )
    async def backchannel(request: Request) -> Response:
        body = await request.body()
        if len(body) > 16 * 1024:
            return Response(status_code=400)
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        try:
            sid = await run_in_threadpool(
                rp().logout_token, form.get("logout_token", ""), now=platform.clock.now()
            )
        except CivicError:
            return Response(status_code=400, headers={"Cache-Control": "no-store"})
        ended.add(sid)
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    return (
        Service(path, f"{title} (demo service)", description, ("OpenID Connect Core 1.0",)),
        app,
    )


def _rows(
    platform: Platform, name: str, organisation: str, session: dict[str, Any]
) -> list[dict[str, str]]:
    sub = str(session["sub"])
    if name == "tax":
        raw = platform.data_services.record("hmrc", "tax-summary", sub)
        if raw is None:
            return [{"key": "Tax record", "value": "HMRC holds no record about you"}]
        record = json_object_strict(raw)
        income, tax = record.get("dpv-pd:Income", {}), record.get("dpv-pd:Tax", {})
        return [
            {"key": "Tax year", "value": str(income.get("tax_year", ""))},
            {"key": "Income from employment", "value": f"£{income.get('employment_income', 0):,}"},
            {"key": "Income tax paid", "value": f"£{tax.get('income_tax_paid', 0):,}"},
            {"key": "Tax due", "value": f"£{tax.get('due', 0):,}"},
        ]
    if name == "health":
        return _practice(platform, organisation)
    digest = hashlib.sha256(sub.encode()).digest()
    address = session.get("address") or {}
    where = ", ".join(
        str(address[k]) for k in ("street_address", "locality", "postal_code") if k in address
    )
    return [
        {"key": "Address", "value": where or "Not shared"},
        {"key": "Council tax band", "value": "ABCDEFGH"[digest[0] % 8]},
        {"key": "General waste", "value": f"Every other {_BINS[digest[1] % 5]}"},
        {"key": "Recycling", "value": f"Every other {_BINS[(digest[1] + 1) % 5]}"},
    ]


def _practice(platform: Platform, organisation: str) -> list[dict[str, str]]:
    links = {link.organisation: link.ods_code for link in platform.gp_store.links()}
    ods = links.get(organisation)
    if ods is None:
        return [{"key": "GP practice", "value": "Newtown Medical Practice"}]
    rows = [{"key": "ODS code", "value": ods}]
    try:
        head = platform.registers.head("gp-practice")
        found = platform.registers.records(head, where=[("gp-practice", ods)], limit=1)
    except CivicError:
        found = []
    name = str(found[0].record().item.get("name")) if found else "Newtown Medical Practice"
    return [{"key": "GP practice", "value": name}, *rows]


__all__ = ["GOV_SERVICES", "gov_service_factories"]
