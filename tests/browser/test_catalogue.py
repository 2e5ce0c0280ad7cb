"""The developers' catalogue at ``/``, on the pages' layout, in a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from civicstack.api.app import create_app
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import FixedClock
from tests.browser.harness import check_page, serving


@pytest.fixture
def platform_url(tmp_path: Path, clock: FixedClock) -> Iterator[str]:
    """The platform (SQLite) served on a loopback port."""
    settings = Settings.from_env(
        {"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/c.db"}
    )
    platform = Platform(settings, clock=clock)
    platform.migrate()
    with serving(create_app(platform)) as url:
        yield url
    platform.close()


def test_catalogue_page(page: Page, platform_url: str) -> None:
    """The catalogue lists every service in an accessible table with the neutral header."""
    page.goto(platform_url + "/")
    assert page.title() == "Services – civicstack"
    assert page.locator("h1").inner_text() == "civicstack services"
    assert page.locator(".govuk-header__product-name").inner_text() == "civicstack"
    assert page.locator("table tbody tr").count() >= 5
    # The stylesheet came from the package, and GOV.UK Frontend's script ran (no CDN, no CSP
    # refusal: check_page fails on any console error).
    assert page.evaluate("() => document.body.classList.contains('govuk-frontend-supported')")
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "GDS Transport" not in font
    check_page(page, "catalogue")


def test_catalogue_skip_link_reaches_main(page: Page, platform_url: str) -> None:
    """The first Tab lands on the skip link, which moves focus to the main content."""
    page.goto(platform_url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main-content"
