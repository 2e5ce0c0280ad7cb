"""The pages an official shows a citizen (``/issuers/NAME/offers/ID/page``,
``/verifier/requests/ID/page``), over plain HTTP on SQLite and PostgreSQL: the QR code and the
links while open, the state afterwards, and nothing for a wrong key or an unknown id."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA
from tests.api.conftest import World
from tests.api.test_verifier_api import _spec_wallet


def _offer(world: World, **extra: object) -> dict[str, object]:
    body = {"vct": PID_VCT, "claims": AMARA, "tx_code": True, "by_reference": True, **extra}
    r = world.client.post("/issuers/passport-office/admin/offers", json=body, headers=world.admin)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _path(url: object) -> str:
    parts = urlsplit(str(url))
    return parts.path + ("?" + parts.query if parts.query else "")


def test_an_offer_page_shows_the_qr_code_the_links_and_the_code_hint(world: World) -> None:
    """A by-reference offer's page has the QR code, the same-device link into the local web
    wallet, the link to paste, and the transaction code's hint but never the code."""
    offer = _offer(world)
    assert offer["page"] == f"{offer['credential_offer_uri']}/page"
    page = world.client.get(_path(offer["page"]))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    text = html.unescape(page.text)
    assert '<svg role="img"' in page.text
    assert f">{offer['offer']}</textarea>" in text
    query = urlsplit(str(offer["offer"])).query
    assert f'href="http://127.0.0.1:8700/offer?{query}"' in text
    assert "HM Passport Office" in text
    assert "Person identification data" in text
    assert "6-digit code" in text
    assert str(offer["tx_code"]) not in re.sub(r"<svg.*?</svg>", "", text, flags=re.S)


def test_a_by_value_offer_is_not_shown_again(world: World) -> None:
    """A by-value offer's code is not kept: its page says so and shows no QR code."""
    offer = _offer(world, by_reference=False)
    assert offer["page"] is None
    page = world.client.get(f"/issuers/passport-office/offers/{offer['id']}/page")
    assert page.status_code == 200
    assert "cannot be shown as a QR code" in page.text
    assert "<svg" not in page.text


def test_an_unknown_offer_is_a_not_found_page(world: World) -> None:
    """An unknown offer or issuer, or a hostile id, is a 404 page, not a problem document."""
    for path in (
        "/issuers/passport-office/offers/" + "0" * 32 + "/page",
        "/issuers/nobody/offers/abc/page",
        "/issuers/passport-office/offers/" + "x" * 5000 + "/page",
        "/issuers/passport-office/offers/%27%3B--/page",
        "/issuers/root/offers/abc/page",
    ):
        page = world.client.get(path)
        assert page.status_code == 404
        assert "Page not found" in page.text


def test_a_request_page_waits_then_shows_the_result_once(world: World) -> None:
    """The request page shows the QR code and links while pending; after the wallet presents
    it shows what was verified, once; then that the result was deleted."""
    wallet = _spec_wallet(world, PID_VCT)
    created = world.request("age_over_18")
    page_path = _path(created["page"])
    waiting = world.client.get(page_path)
    assert waiting.status_code == 200
    text = html.unescape(waiting.text)
    assert "Waiting for your wallet" in text
    assert "asks for your information for: Sell you alcohol." in text  # as registered
    assert f">{created['request']}</textarea>" in text
    query = urlsplit(created["request"]).query
    assert f'href="http://127.0.0.1:8700/request?{query}"' in text
    assert f'href="{page_path}"' in text  # "Check again", no script
    request = wallet.receive_request(created["request"], now=world.clock.now())
    assert wallet.post(request, wallet.present(request, now=world.clock.now())).status_code == 200
    done = world.client.get(page_path)
    assert "Verified" in done.text
    assert "Age over 18" in done.text
    assert "<svg" not in done.text
    gone = world.client.get(page_path)
    assert "The result has been deleted" in gone.text
    assert "Age over 18" not in gone.text


def test_a_request_page_needs_its_key(world: World) -> None:
    """Without the key from the request's creation, or with another request's, the page is not
    found: the request id alone (in the QR code) opens nothing."""
    first, second = world.request("age_over_18"), world.request("age_over_18")
    base = f"/verifier/requests/{first['id']}/page"
    assert world.client.get("/verifier/requests/" + "z" * 400 + "/page?key=a").status_code == 404
    other_key = urlsplit(second["page"]).query
    for path in (base, base + "?key=", base + "?" + other_key, base + "?key=" + "a" * 200):
        page = world.client.get(path)
        assert page.status_code == 404, path
        assert "Waiting for your wallet" not in page.text
