"""One login over HTTP: an independent relying party (authlib) completes the code flow against
the provider, and the negative cases of the OpenID Foundation's Basic OP conformance plan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civicstack.testing import FixedClock
from tests.api.conftest import World
from tests.api.oidc_support import (
    ISSUER,
    RelyingParty,
    Sink,
    holder,
    oidc_world,
    query_of,
    register,
    sign_in,
)


@pytest.fixture
def op(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[World, Sink]]:
    """The demo world with a back-channel sink, on SQLite then PostgreSQL."""
    world, sink = oidc_world(database_url, tmp_path, clock)
    with world.client:
        yield world, sink
    world.platform.close()


def test_authlib_client_completes_the_code_flow(op: tuple[World, Sink], tmp_path: Path) -> None:
    """authlib's OAuth2Client (PKCE S256, client_secret_basic) gets a code after a wallet
    presentation, redeems it, and the ID token verifies against the JWKS with iss, aud, nonce;
    UserInfo gives the same pairwise sub and the profile claims, never the PID's number."""
    world, _ = op
    rp = RelyingParty(world, register(world, "hmrc"))
    location = sign_in(world, rp, holder(world, tmp_path))
    params = query_of(location)
    assert location.startswith("https://tax.example/callback?")
    assert params["state"] == rp.state
    assert params["iss"] == ISSUER
    token = rp.fetch_token(location)
    assert token["token_type"] == "Bearer"
    claims = rp.id_token_claims(token["id_token"])
    assert claims["acr"] == "urn:civicstack:acr:wallet-pid"
    assert claims["auth_time"] == world.clock.now()
    assert len(claims["sub"]) == 43
    info = rp.oauth.get(f"{ISSUER}/oidc/userinfo").json()
    assert info == {
        "sub": claims["sub"],
        "given_name": "Amara",
        "family_name": "Okafor",
        "birthdate": "1990-05-17",
    }
    assert claims["sub"] == world.platform.pairwise_id(
        "hmrc", __import__("civicstack.pairwise").pairwise.Subject("GB", "QQ123456C")
    )
