"""The pages' layout, theme, ported components and packaged assets."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from markupsafe import Markup
from starlette.testclient import TestClient

from civicstack.errors import CivicError
from civicstack.settings import Settings
from civicstack.web import Pages, Theme
from civicstack.web.assets import static_directory
from civicstack.web.pages import contrast_with_white
from civicstack.web.qr import same_device_link


def _client(pages: Pages) -> TestClient:
    app = FastAPI()
    pages.mount_static(app)

    @app.get("/page")
    def page() -> object:
        return pages.render("catalogue.html", {"services": [], "version": "t"})

    return TestClient(app)


def test_page_carries_security_headers_and_no_inline_script() -> None:
    """A rendered page has a CSP allowing only same-origin scripts and the theme's style hash."""
    r = _client(Pages()).get("/page")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert re.search(r"style-src 'self' 'sha256-[A-Za-z0-9+/=]+'", csp)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text  # only <script type="module" src=...>


def test_static_assets_are_fingerprinted_and_cached_for_a_year() -> None:
    """The layout links assets by content hash and the server lets browsers keep them a year."""
    pages = Pages()
    client = _client(pages)
    html = client.get("/page").text
    url = re.search(r'href="(/_assets/web/civic\.css\?v=[0-9a-f]{16})"', html)
    assert url
    css = client.get(url.group(1))
    assert css.status_code == 200
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/_assets/web/nothing.css").status_code == 404


def test_shipped_css_has_no_gds_transport_and_no_remote_url() -> None:
    """The built stylesheet uses a system font stack and loads nothing from another host."""
    css = (static_directory() / "civic.css").read_text()
    assert "GDS Transport" not in css
    assert "@font-face" not in css
    assert not re.search(r"url\((\"|')?(https?:)?//", css)
    assert not list(static_directory().glob("*.woff*"))
    # built from the current assets/civic.scss (its own rules are in), GOV.UK Frontend 5
    assert ".civic-session-bar" in css
    assert 'const version="5.' in (static_directory() / "govuk-frontend.min.js").read_text()


def test_theme_from_settings_reaches_the_page() -> None:
    """CIVIC_BRAND_NAME and the colours appear in the header and the custom properties."""
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": "/tmp/x",
            "CIVIC_BRAND_NAME": "Borough <Online>",
            "CIVIC_BRAND_COLOUR": "#003366",
            "CIVIC_BRAND_ACCENT": "#005ea5",
        }
    )
    html = Pages(theme=Theme.from_settings(settings)).render_text(
        "catalogue.html", {"services": [], "version": "t"}
    )
    assert "Borough &lt;Online&gt;" in html
    assert "--civic-brand-colour:#003366" in html


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("brand_colour", "#ffff00"),  # white text unreadable on yellow
        ("brand_colour", "red"),
        ("brand_colour", "#123456;}body{"),
        ("brand_accent", "#eeeeee"),
        ("brand_name", ""),
        ("brand_name", "x" * 61),
        ("brand_name", "line\nbreak"),
    ],
)
def test_bad_theme_stops_startup(field: str, value: str) -> None:
    """A colour short of WCAG contrast, a non-hex colour or a bad name is invalid_setting."""
    with pytest.raises(CivicError) as caught:
        Theme(**{field: value})
    assert caught.value.code == "invalid_setting"


def test_default_theme_meets_contrast() -> None:
    """The neutral defaults reach 4.5:1 (header text) and 3:1 (accent) against white."""
    theme = Theme()
    assert contrast_with_white(theme.brand_colour) >= 4.5
    assert contrast_with_white(theme.brand_accent) >= 3.0
    assert round(contrast_with_white("#000000"), 1) == 21.0


def test_components_escape_text_and_plain_html_params() -> None:
    """A component escapes `text`, and escapes `html` too unless it is Markup."""
    pages = Pages()
    template = pages.environment.from_string(
        '{% from "govuk/components.html" import govukButton, govukTag %}'
        "{{ govukButton({'text': text}) }}{{ govukTag({'html': plain}) }}"
        "{{ govukTag({'html': safe}) }}"
    )
    out = template.render(text="<b>", plain="<i>x</i>", safe=Markup("<em>ok</em>"))
    assert "&lt;b&gt;" in out
    assert "&lt;i&gt;x&lt;/i&gt;" in out
    assert "<em>ok</em>" in out


def test_component_attributes_refuse_bad_names() -> None:
    """`attributes` values are escaped and a name that is not an attribute name raises."""
    pages = Pages()
    template = pages.environment.from_string(
        '{% from "govuk/components.html" import govukButton %}'
        "{{ govukButton({'text': 'Go', 'attributes': attrs}) }}"
    )
    assert 'data-x="&#34;&gt;"' in template.render(attrs={"data-x": '">'})
    with pytest.raises(ValueError, match="attribute name"):
        template.render(attrs={"onclick=alert(1) x": "y"})


def test_radios_and_errors_link_hint_and_message() -> None:
    """Radios in a fieldset describe it by the hint and error message ids (GOV.UK pattern)."""
    pages = Pages()
    template = pages.environment.from_string(
        '{% from "govuk/components.html" import govukRadios %}'
        "{{ govukRadios({'name': 'answer', 'fieldset': {'legend': {'text': 'Share?'}},"
        " 'hint': {'text': 'Choose one'}, 'errorMessage': {'text': 'Pick one'},"
        " 'items': [{'value': 'yes', 'text': 'Yes'}, {'value': 'no', 'text': 'No'}]}) }}"
    )
    out = template.render()
    assert 'aria-describedby="answer-hint answer-error"' in out
    assert 'id="answer"' in out
    assert 'id="answer-2"' in out
    assert "govuk-form-group--error" in out


def test_qr_code_is_inline_svg_with_an_escaped_name() -> None:
    """A QR code renders as inline SVG with role img and its label escaped; too long refused."""
    from civicstack.web.qr import MAX_QR_CHARS, qr_svg

    svg = str(qr_svg("openid4vp://?client_id=x&request_uri=y", label="Scan <this>"))
    assert svg.startswith('<svg role="img" focusable="false" ')
    assert "<title>Scan &lt;this&gt;</title>" in svg
    rendered = Pages().environment.from_string("{{ qr_svg(link, label='Scan') }}")
    assert rendered.render(link="openid-credential-offer://?x=1").startswith("<svg role=")
    with pytest.raises(ValueError, match="at most"):
        qr_svg("x" * (MAX_QR_CHARS + 1), label="too long")


@pytest.mark.parametrize(
    "value", ["http://localhost:8700", "https://127.0.0.1:8700", "http://127.0.0.1:0", "x"]
)
def test_the_wallet_ui_url_is_a_loopback_http_address(value: str) -> None:
    """CIVIC_WALLET_UI_URL names the local web wallet: http://127.0.0.1:PORT, nothing else."""
    with pytest.raises(CivicError) as caught:
        Settings.from_env({"CIVIC_WALLET_UI_URL": value})
    assert caught.value.code == "invalid_setting"
    assert Settings.from_env({}).wallet_ui_url == "http://127.0.0.1:8700"


def test_same_device_links_carry_the_query_to_the_local_wallet() -> None:
    """A custom-scheme link becomes the local web wallet's path with the same query."""
    link = "openid4vp://?client_id=x%3Ay&request_uri=https%3A%2F%2Fa.example%2Fr"
    assert same_device_link(link, "/request", "http://127.0.0.1:8701") == (
        "http://127.0.0.1:8701/request?client_id=x%3Ay&request_uri=https%3A%2F%2Fa.example%2Fr"
    )
