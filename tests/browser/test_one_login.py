"""One login in a real browser: sign in to tax with the wallet, then to health without
presenting again, see the sessions, and log out everywhere; axe-core checks every page and a
screenshot of each is written."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page

from civicstack.api.app import create_app, max_body, wrap
from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA
from civicstack.demo.world import seed_exchange_world, seed_gov_services
from civicstack.fetch import HttpTransport
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import FAST_KDF, Cast
from civicstack.wallet import Wallet
from civicstack.wallet import openid4vp as wallet_vp
from tests.browser.harness import check_page
from tests.e2e.server import free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    """The platform with the demo world and its government services, served on a loopback
    port it knows as its own base URL (issuer and redirect URIs), on the real clock."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(tmp_path),
            "CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
            "CIVIC_BASE_URL": base,
        }
    )
    platform = Platform(settings)
    platform.migrate()
    Cast().seed(platform)
    seed_exchange_world(platform)
    seed_gov_services(platform)
    app = wrap(create_app(platform), max_body=max_body(platform))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the test server stopped while starting"
        time.sleep(0.01)
    try:
        yield base, platform
    finally:
        server.should_exit = True
        thread.join()
        platform.close()


def _present(platform: Platform, tmp_path: Path, link: str) -> None:
    """Amara's wallet answers the sign-in page's request over HTTP, consenting."""
    wallet = Wallet.create(tmp_path / "wallet", "a passphrase", kdf=FAST_KDF)
    registry = platform.trust_registry()
    holder = wallet.holder_key.to_jwk()
    from civicstack._crypto import PublicKey

    issued = platform.authorities.issue(
        "passport-office", vct=PID_VCT, claims=AMARA, holder=PublicKey.from_jwk(holder)
    )
    wallet.add_credential(issued.credential, trust=registry)
    transport = HttpTransport()
    try:
        received = wallet_vp.receive(
            link, transport=transport, registry=registry, now=int(time.time())
        )
        wallet_vp.answer(
            wallet, received, registry=registry, consent=lambda _: True, transport=transport
        )
    finally:
        transport.close()


def test_one_login_tax_then_health_then_logout_everywhere(
    page: Page, served: tuple[str, Platform], tmp_path: Path
) -> None:
    """Tax asks for the wallet (a link, a QR code, a continue button); health signs in from
    the session; the sessions page lists both; signing out of tax signs out of health too."""
    base, platform = served
    page.goto(f"{base}/services/tax/")
    check_page(page, "one-login-tax-signed-out")
    page.get_by_role("button", name="Sign in with your wallet").click()
    assert "/oidc/login/" in page.url
    assert page.locator("img.civic-qr").count() == 1
    check_page(page, "one-login-sign-in")
    link: Any = page.locator("#wallet-link").get_attribute("href")
    # continuing before the wallet has shared says so, accessibly
    page.get_by_role("button", name="I have shared my details – continue").click()
    assert "has not shared your details yet" in page.content()
    # that page answers 409 login_pending on purpose: the one console error expected
    audit = page.civic_audit  # type: ignore[attr-defined]
    assert all("409" in e for e in audit.errors), audit.errors
    audit.errors.clear()
    check_page(page, "one-login-sign-in-pending")
    _present(platform, tmp_path, link)
    page.get_by_role("button", name="I have shared my details – continue").click()
    assert page.url == f"{base}/services/tax/"
    assert "Income from employment" in page.content()
    check_page(page, "one-login-tax-signed-in")
    # health: one login, no wallet
    page.goto(f"{base}/services/health/")
    page.get_by_role("button", name="Sign in with your wallet").click()
    assert page.url == f"{base}/services/health/"
    assert "Signed in as Amara Okafor" in page.content()
    check_page(page, "one-login-health-signed-in")
    # the sessions page
    page.goto(f"{base}/oidc/sessions")
    assert "Tax (demo service)" in page.content()
    assert "Health (demo service)" in page.content()
    check_page(page, "one-login-sessions")
    # log out of tax: the provider's session ends and health hears by back channel
    page.goto(f"{base}/services/tax/")
    page.get_by_role("button", name="Sign out").click()
    assert page.url == f"{base}/services/tax/"
    assert "Sign in with your wallet" in page.content()
    page.goto(f"{base}/services/health/")
    assert "Sign in with your wallet" in page.content()
    page.goto(f"{base}/oidc/sessions")
    assert "sign in to see your sessions" in page.content()
