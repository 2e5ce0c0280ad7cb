"""The demo government services behind one login: ordinary OIDC clients over HTTP. A citizen
signs in to tax with the wallet, then to health without presenting again, and one logout
signs them out of both (back-channel logout reaching each service)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from civicstack.demo.world import seed_exchange_world, seed_gov_services
from civicstack.services.sso import HttpLogoutDelivery
from civicstack.testing import FixedClock
from tests.api.conftest import World, make_world
from tests.api.oidc_support import HttpxBridge, field_value, holder, present, wallet_link

LOCAL = "http://localhost"


@pytest.fixture
def gov(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[World, TestClient]]:
    """The demo world at http://localhost with the three services registered; their HTTP and
    the provider's back-channel logouts go to the app itself."""
    world = make_world(database_url, tmp_path, clock, env={"CIVIC_BASE_URL": LOCAL})
    browser = TestClient(world.client.app, base_url=LOCAL, raise_server_exceptions=False)
    calls = TestClient(world.client.app, base_url=LOCAL, raise_server_exceptions=False)
    world.platform.service_http = httpx.Client(transport=HttpxBridge(calls))
    world.platform.logout_delivery = HttpLogoutDelivery(httpx.Client(transport=HttpxBridge(calls)))
    seed_exchange_world(world.platform)  # HMRC's tax summaries, keyed by pairwise id
    assert seed_gov_services(world.platform)
    assert not seed_gov_services(world.platform)  # once
    with browser, calls:
        yield world, browser
    world.platform.close()


def _follow(browser: TestClient, url: str) -> Any:
    """Follow redirects by hand (the browser), stopping at a page."""
    r = browser.get(url, follow_redirects=False)
    while r.status_code == 303:
        r = browser.get(r.headers["location"], follow_redirects=False)
    return r


def test_one_login_across_services_and_logout_everywhere(
    gov: tuple[World, TestClient], tmp_path: Path
) -> None:
    """Tax asks for the wallet once; health signs in from the SSO session; signing out of tax
    ends the session at the provider and the health service hears of it by back channel."""
    world, browser = gov
    assert "Sign in with your wallet" in browser.get("/services/tax/").text
    # tax: to the provider, the sign-in page, the wallet presents, continue, back with a code
    page = _follow(browser, "/services/tax/login")
    assert "Sign in to Tax (demo service)" in page.text
    assert 'src="data:image/svg+xml' in page.text  # the QR code
    present(world, holder(world, tmp_path), wallet_link(page.text))
    done = browser.post(
        str(page.url), data={"csrf": field_value(page.text, "csrf")}, follow_redirects=False
    )
    assert done.status_code == 303
    tax = _follow(browser, done.headers["location"])
    assert "Signed in as Amara Okafor" in tax.text
    assert "Income from employment" in tax.text
    # health: no presentation, straight back from the provider
    health = _follow(browser, "/services/health/login")
    assert "Your GP practice" in health.text
    assert "Signed in as Amara Okafor" in health.text
    # sign out of tax: the provider ends the session and tells both services
    out = browser.post(
        "/services/tax/logout", data={"csrf": field_value(tax.text, "csrf")}, follow_redirects=False
    )
    assert "/oidc/logout?" in out.headers["location"]
    back = _follow(browser, out.headers["location"])
    assert "Sign in with your wallet" in back.text
    assert "Sign in with your wallet" in browser.get("/services/health/").text


def test_council_asks_for_the_address_and_shows_the_band(
    gov: tuple[World, TestClient], tmp_path: Path
) -> None:
    """The council's sign-in asks for the address too, and its page shows band and bins."""
    world, browser = gov
    page = _follow(browser, "/services/council/login")
    assert "address" in page.text
    present(world, holder(world, tmp_path), wallet_link(page.text))
    done = browser.post(
        str(page.url), data={"csrf": field_value(page.text, "csrf")}, follow_redirects=False
    )
    council = _follow(browser, done.headers["location"])
    assert "Council tax band" in council.text
    assert "2 Park Row, Leeds, LS1 5HD" in council.text


def test_a_forged_callback_is_refused(gov: tuple[World, TestClient]) -> None:
    """A callback whose state was not issued to this browser does not sign anyone in."""
    _, browser = gov
    r = browser.get("/services/tax/callback", params={"code": "x", "state": "y"})
    assert r.status_code == 400
    assert "could not be signed in" in r.text
