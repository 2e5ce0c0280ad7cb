"""Browser fixtures: one Chromium per test module, a fresh context (cookies, storage) per test.

Module, not session: while Playwright's sync API runs, the main thread has a running asyncio
loop, so a later test elsewhere in the same worker that calls ``asyncio.run`` (the NATS check,
the events engine) failed with "cannot be called from a running event loop". pytest tears a
module's fixtures down before the next module's test runs.

A missing ``/usr/bin/chromium`` or ``node_modules/axe-core`` fails these tests with the command
that installs it: they never skip (in CI or anywhere else).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.harness import AXE, CHROMIUM, CHROMIUM_ARGS, PageAudit


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """The Playwright driver (Node, shipped in the pip package)."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium, launched by path (Playwright downloads no browser here)."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install -y chromium`; "
        ".ci/run does it); the browser tests need it"
    )
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (make test does it) for axe-core"
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile with axe-core loaded into every page before its own scripts."""
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, locale="en-GB")
    ctx.add_init_script(path=str(AXE))
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page whose console errors :func:`tests.browser.harness.check_page` reports."""
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.civic_audit = PageAudit(page)  # type: ignore[attr-defined]
    return page
