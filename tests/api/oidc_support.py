"""One login under test: an independent relying party (authlib's OAuth2Client, joserfc for the
ID token), a browser (the TestClient's cookies), a wallet that presents, a back-channel sink."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from civicstack.credential_types import PID_VCT
from civicstack.services.sso import HttpLogoutDelivery
from civicstack.testing import FixedClock
from civicstack.wallet import Wallet
from civicstack.wallet import openid4vp as wallet_vp
from tests.api.conftest import BASE, FAST_KDF, ClientTransport, World, make_world

ISSUER = BASE
REDIRECT = "https://tax.example/callback"


class Bridge(httpx2.BaseTransport):
    """A transport that hands each request to a TestClient (authlib's client, like starlette's
    TestClient, runs on httpx2 when it is installed)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Forward ``request`` to the app and return its answer."""
        answer = self.client.request(
            request.method,
            str(request.url),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=request.read(),
            follow_redirects=False,
        )
        return httpx2.Response(
            answer.status_code, headers=list(answer.headers.multi_items()), content=answer.content
        )


class HttpxBridge(httpx.BaseTransport):
    """The same bridge for code built on httpx itself (the demo services, back-channel
    delivery)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward ``request`` to the app and return its answer."""
        answer = self.client.request(
            request.method,
            str(request.url),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=request.read(),
            follow_redirects=False,
        )
        return httpx.Response(
            answer.status_code, headers=list(answer.headers.multi_items()), content=answer.content
        )


@dataclass
class Sink:
    """A client's back-channel logout endpoint: keeps every logout token POSTed to it."""

    received: list[tuple[str, str]] = field(default_factory=list)
    status: int = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Take ``logout_token=...``."""
        form = parse_qs(request.content.decode())
        self.received.append((str(request.url), form["logout_token"][0]))
        return httpx.Response(self.status)


def oidc_world(database_url: str, tmp_path: Path, clock: FixedClock) -> tuple[World, Sink]:
    """The demo world with its back-channel logouts going to a :class:`Sink`."""
    world = make_world(database_url, tmp_path, clock)
    sink = Sink()
    world.platform.logout_delivery = HttpLogoutDelivery(
        httpx.Client(transport=httpx.MockTransport(sink.handler))
    )
    return world, sink


def register(
    world: World, organisation: str = "hmrc", *, token: str | None = None, **metadata: Any
) -> dict[str, Any]:
    """Register a client (as the admin unless ``token``); its registration response."""
    body = {"redirect_uris": [REDIRECT], **metadata}
    if token is None:
        body["organisation"] = organisation
    bearer = token or world.platform.admin_token
    r = world.client.post(
        "/oidc/register", json=body, headers={"Authorization": f"Bearer {bearer}"}
    )
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def holder(world: World, tmp_path: Path, name: str = "w") -> Wallet:
    """A wallet holding Amara's PID."""
    wallet = Wallet.create(tmp_path / name, "a passphrase", kdf=FAST_KDF, clock=world.clock)
    wallet.add_credential(
        world.issue(PID_VCT, wallet.holder_key.to_jwk()), trust=world.platform.trust_registry()
    )
    return wallet


def present(world: World, wallet: Wallet, link: str) -> None:
    """The wallet answers the sign-in's OpenID4VP request, consenting."""
    registry = world.platform.trust_registry()
    transport = ClientTransport(world.client)
    received = wallet_vp.receive(
        link, transport=transport, registry=registry, now=world.clock.now()
    )
    answer = wallet_vp.answer(
        wallet, received, registry=registry, consent=lambda _: True, transport=transport
    )
    assert answer.status == 200


def field_value(page: str, name: str) -> str:
    """A hidden form field's value on a page."""
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} field"
    return html.unescape(match.group(1))


def wallet_link(page: str) -> str:
    """The same-device wallet link on the sign-in page."""
    match = re.search(r'id="wallet-link" href="([^"]+)"', page)
    assert match
    return html.unescape(match.group(1))


@dataclass
class RelyingParty:
    """A client of the provider driven by authlib's OAuth2Client (code flow, PKCE S256)."""

    world: World
    registration: dict[str, Any]
    scope: str = "openid profile"
    verifier: str = field(default_factory=lambda: generate_token(48))
    nonce: str = field(default_factory=lambda: generate_token(20))
    state: str = ""
    oauth: OAuth2Client = field(init=False)

    def __post_init__(self) -> None:
        method = self.registration["token_endpoint_auth_method"]
        self.oauth = OAuth2Client(
            client_id=self.registration["client_id"],
            client_secret=self.registration.get("client_secret"),
            token_endpoint_auth_method=method,
            scope=self.scope,
            redirect_uri=self.registration["redirect_uris"][0],
            code_challenge_method="S256",
            # authlib's client runs on httpx2 when it is installed (1.9), else on httpx
            transport=(
                Bridge(self.world.client)
                if issubclass(OAuth2Client, httpx2.Client)
                else HttpxBridge(self.world.client)
            ),
        )

    def authorization_url(self, **extra: str) -> str:
        """The authorization request's URL (authlib builds it)."""
        url, self.state = self.oauth.create_authorization_url(
            f"{ISSUER}/oidc/authorize", code_verifier=self.verifier, nonce=self.nonce, **extra
        )
        return str(url)

    def fetch_token(self, location: str, **extra: Any) -> dict[str, Any]:
        """Redeem the code the redirect carries."""
        token: dict[str, Any] = self.oauth.fetch_token(
            f"{ISSUER}/oidc/token",
            authorization_response=location,
            code_verifier=self.verifier,
            **extra,
        )
        return token

    def id_token_claims(self, id_token: str, algorithms: tuple[str, ...] = ("ES256",)) -> Any:
        """The ID token verified against the provider's JWKS (joserfc), iss/aud/nonce checked."""
        keys = KeySet.import_key_set(self.world.client.get("/oidc/jwks").json())
        token = jwt.decode(id_token, keys, algorithms=list(algorithms))
        jwt.JWTClaimsRegistry(
            now=self.world.clock.now(),
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": self.registration["client_id"]},
            nonce={"essential": True, "value": self.nonce},
            sub={"essential": True},
            auth_time={"essential": True},
        ).validate(token.claims)
        return token.claims


def sign_in(world: World, rp: RelyingParty, wallet: Wallet | None, **extra: str) -> str:
    """Walk the browser through a sign-in (presenting from ``wallet`` when asked); the
    location the provider redirects back to."""
    r = world.client.get(rp.authorization_url(**extra), follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    if "/oidc/login/" not in location:
        return location  # an SSO session, or an error sent back to the client
    page = world.client.get(location)
    assert page.status_code == 200, page.text
    assert wallet is not None, "the provider asked for a presentation"
    present(world, wallet, wallet_link(page.text))
    done = world.client.post(
        location, data={"csrf": field_value(page.text, "csrf")}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
