"""Server-rendered pages: one Jinja2 environment, the operator's theme, the layout's headers.

Every page extends ``base.html`` (its blocks are listed at the top of that template) and uses
the GOV.UK Frontend components ported to Jinja2 in ``govuk/components.html``. A router renders
a page with :meth:`Pages.render`, which fills the theme and the static assets' URLs, and sends
the security headers every page carries (a Content-Security-Policy that allows no inline
script and only the theme's own inline style, by its hash).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from civicstack.errors import InputError
from civicstack.settings import Settings
from civicstack.web.assets import StaticAssets
from civicstack.web.qr import qr_svg

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_BRAND_NAME_CHARS = 60


def _luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of ``#rrggbb``."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(colour: str) -> float:
    """The WCAG contrast ratio of ``colour`` against white (1 to 21)."""
    return 1.05 / (_luminance(colour) + 0.05)


@dataclass(frozen=True)
class Theme:
    """What an operator may brand: a name and two colours (``CIVIC_BRAND_*``).

    ``brand_colour`` is the header's background, under white text: it must reach 4.5:1 against
    white (WCAG 2.2 1.4.3). ``brand_accent`` draws the stripe under the header and the current
    navigation item: 3:1 against white (1.4.11, non-text contrast). A colour that fails stops
    startup with ``invalid_setting`` rather than shipping an unreadable page.
    """

    brand_name: str = "civicstack"
    brand_colour: str = "#24323c"
    brand_accent: str = "#0e7c86"
    home_url: str = "/"
    #: Support links in the footer: ``({"href": ..., "text": ...}, ...)``.
    footer_links: tuple[Mapping[str, str], ...] = ()

    def __post_init__(self) -> None:
        name = self.brand_name.strip()
        if not name or len(name) > _BRAND_NAME_CHARS or not name.isprintable():
            raise InputError(
                "invalid_setting",
                f"CIVIC_BRAND_NAME must be 1 to {_BRAND_NAME_CHARS} printable characters",
            )
        for setting, colour, least in (
            ("CIVIC_BRAND_COLOUR", self.brand_colour, 4.5),
            ("CIVIC_BRAND_ACCENT", self.brand_accent, 3.0),
        ):
            if not _HEX_COLOUR.fullmatch(colour):
                raise InputError("invalid_setting", f"{setting} must be a colour like #24323c")
            if contrast_with_white(colour) < least:
                raise InputError(
                    "invalid_setting",
                    f"{setting} {colour} reaches {contrast_with_white(colour):.1f}:1 against "
                    f"white; WCAG 2.2 AA needs {least}:1",
                )

    @classmethod
    def from_settings(cls, settings: Settings) -> Theme:
        """The theme of ``CIVIC_BRAND_NAME``, ``_COLOUR`` and ``_ACCENT`` (unset: defaults)."""
        defaults = cls()
        return cls(
            brand_name=settings.brand_name or defaults.brand_name,
            brand_colour=settings.brand_colour or defaults.brand_colour,
            brand_accent=settings.brand_accent or defaults.brand_accent,
        )

    @property
    def css(self) -> Markup:
        """The custom properties the stylesheet reads (validated hex colours only)."""
        return Markup(  # noqa: S704 - two colours checked against #rrggbb in __post_init__
            f":root{{--civic-brand-colour:{self.brand_colour};"
            f"--civic-brand-accent:{self.brand_accent}}}"
        )


def _datetime(ts: int | None) -> str:
    """A Unix time as people read it: ``7 December 2026 at 14:05 UTC`` (``-`` when absent)."""
    if ts is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M} UTC"


def _date(ts: int | None) -> str:
    """A Unix time as a day: ``7 December 2026`` (``-`` when absent)."""
    if ts is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return f"{moment.day} {moment:%B %Y}"


def _label(name: str) -> str:
    """A claim's name as a label: ``given_name`` -> ``Given name``, ``address.postal_code`` ->
    ``Address: postal code``."""
    parts = [p.replace("_", " ") for p in name.split(".")]
    text = ": ".join(parts)
    return text[:1].upper() + text[1:]


def _govuk_attributes(attributes: Mapping[str, Any] | None) -> Markup:
    """``{"name": value}`` as ` name="value"` pairs (GOV.UK Frontend's ``govukAttributes``)."""
    if not attributes:
        return Markup("")
    out = []
    for name, value in attributes.items():
        if not re.fullmatch(r"[a-zA-Z_:][-a-zA-Z0-9_:.]*", str(name)):
            raise ValueError(f"not an attribute name: {name!r}")
        if value is True:
            out.append(f" {escape(name)}")
        elif value not in (False, None):
            out.append(f' {escape(name)}="{escape(value)}"')
    return Markup("".join(out))  # noqa: S704 - names checked above, values escaped


@dataclass
class Pages:
    """The Jinja2 environment of every page, and the headers pages are sent with.

    ``static_prefix`` is where :meth:`mount_static` serves the package's assets; templates
    link to them with ``static_url("civic.css")``, a URL carrying the file's hash so that it
    can be cached for a year.
    """

    theme: Theme = field(default_factory=Theme)
    static_prefix: str = "/_assets/web"
    assets: StaticAssets = field(default_factory=StaticAssets)

    def __post_init__(self) -> None:
        self.environment = Environment(
            loader=PackageLoader("civicstack.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.environment.filters["govuk_attributes"] = _govuk_attributes
        self.environment.filters["datetime"] = _datetime
        self.environment.filters["date"] = _date
        self.environment.filters["label"] = _label
        self.environment.globals["static_url"] = self.static_url
        self.environment.globals["theme"] = self.theme
        self.environment.globals["qr_svg"] = qr_svg
        style = hashlib.sha256(str(self.theme.css).encode()).digest()
        self._style_source = "'sha256-" + base64.b64encode(style).decode() + "'"

    def static_url(self, name: str) -> str:
        """The cache-busting URL of a packaged asset (``/_assets/web/civic.css?v=<hash>``)."""
        return f"{self.static_prefix}/{name}?v={self.assets.fingerprint(name)}"

    def content_security_policy(self, *, form_action: Sequence[str] = ("'self'",)) -> str:
        """The pages' CSP: scripts and styles from this origin only, plus the theme's style.

        ``form_action`` lists where forms may post and redirect to (an OpenID Provider's
        consent form redirects to the relying party, so it passes that origin).
        """
        return "; ".join(
            (
                "default-src 'none'",
                "script-src 'self'",
                f"style-src 'self' {self._style_source}",
                "img-src 'self' data:",
                "connect-src 'self'",
                "form-action " + " ".join(form_action),
                "frame-ancestors 'none'",
                "base-uri 'none'",
            )
        )

    def render_text(self, template: str, context: Mapping[str, Any]) -> str:
        """The HTML of ``template`` with ``context`` (no response around it)."""
        return self.environment.get_template(template).render(context)

    def render(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        form_action: Sequence[str] = ("'self'",),
    ) -> HTMLResponse:
        """``template`` rendered as a response with the pages' security headers."""
        response = HTMLResponse(self.render_text(template, context or {}), status_code=status_code)
        response.headers["Content-Security-Policy"] = self.content_security_policy(
            form_action=form_action
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Not "no-referrer": under it browsers send `Origin: null` with form posts, and the
        # Origin check of a form post (the web wallet's) could no longer tell its own pages.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def mount_static(self, app: Any) -> None:
        """Serve the packaged assets at ``static_prefix`` on a Starlette/FastAPI ``app``."""
        app.mount(self.static_prefix, self.assets, name="static")
