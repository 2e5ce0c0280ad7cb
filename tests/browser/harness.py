"""The browser tests' harness: Debian's Chromium under Playwright, axe-core on every page checked,
a full-page screenshot of each, and an ASGI app served on a loopback port for the browser.

Playwright cannot download its own browser here, so it drives ``/usr/bin/chromium`` (Debian's
``chromium`` package; ``.ci/run`` installs it when missing). axe-core comes from npm
(``node_modules/axe-core``, a devDependency in ``package.json``; ``make test`` runs ``npm ci``
first) and is injected by Playwright as an init script, which the pages' Content-Security-Policy
does not apply to — so the policy stays on while the audit runs.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import ConsoleMessage, Page, Response

from tests.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
#: Chromium flags for a quiet, headless, container-friendly run that fetches nothing by itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: WCAG 2.0/2.1/2.2 A and AA rules, plus axe's best practices; serious and critical ones fail.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}


def playwright_chromium_version() -> str:
    """The Chromium version the installed Playwright was released against (its browsers.json)."""
    import playwright

    browsers = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    for entry in json.loads(browsers.read_text())["browsers"]:
        if entry["name"] == "chromium":
            return str(entry["browserVersion"])
    raise AssertionError(f"{browsers} names no chromium")


def major(version: str) -> int:
    """The major number of a Chromium version string (``156.0.8078.129`` -> 156)."""
    found = re.match(r"(\d+)\.", version)
    assert found, f"not a Chromium version: {version!r}"
    return int(found.group(1))


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve the ASGI ``app`` on ``port`` (default: a free one) of the loopback interface, in a
    thread; yield its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the test server stopped while starting"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


class PageAudit:
    """Collects a page's console errors (a CSP refusal shows there) for :func:`check_page`."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("response", self._response)

    def _response(self, response: Response) -> None:
        # A page itself may answer 4xx on purpose (a refusal, a form error): what must not
        # fail is anything it loads (a stylesheet, a script, an icon).
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} from {response.url}")

    def _console(self, message: ConsoleMessage) -> None:
        # A failed load is judged by _response, which knows whether it was the page itself.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)


def check_page(page: Page, name: str) -> list[dict[str, Any]]:
    """Audit the page as it is now: axe-core finds no serious or critical violation, the console
    holds no error (no CSP refusal, no failed asset), and a full-page screenshot is written to
    ``tests/browser/screenshots/<name>.png``. Returns axe's minor and moderate findings."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    violations: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
          const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }""",
        AXE_TAGS,
    )
    # Every finding is kept beside the screenshot for a person to read; only some fail.
    (SCREENSHOTS / f"{name}.axe.json").write_text(json.dumps(violations, indent=1))
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe-core on {name} ({page.url}): " + json.dumps(failing, indent=1)
    audit: PageAudit | None = getattr(page, "civic_audit", None)
    if audit is not None:
        assert not audit.errors, f"console errors on {name} ({page.url}): {audit.errors}"
    return [v for v in violations if v["impact"] not in FAILING_IMPACTS]
