"""The pages an official shows across a desk, in a real browser with axe-core and screenshots
(tests/browser/screenshots/desk-*.png): a credential received cross-device from the offer
page's link, and a request page that shows the result after the wallet presents."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, expect

from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA
from tests.browser.harness import check_page
from tests.browser.test_wallet import Journey, journey, unlock

__all__ = ["journey"]  # the fixture, shared with the wallet's journeys


def _offer_page(journey: Journey) -> tuple[str, str]:
    """A by-reference PID offer for Amara: its page's URL and its transaction code."""
    body = {"vct": PID_VCT, "claims": AMARA, "tx_code": True, "by_reference": True}
    r = httpx.post(
        f"{journey.base}/issuers/passport-office/admin/offers", json=body, headers=journey.admin
    )
    assert r.status_code == 201, r.text
    return str(r.json()["page"]), str(r.json()["tx_code"])


def test_receive_a_credential_from_the_offer_page(page: Page, journey: Journey) -> None:
    """The official's offer page shows the QR code, the same-device link and the link to paste;
    the wallet takes the pasted link, and the page then says the credential was collected."""
    url, tx_code = _offer_page(journey)
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Collect your credential")
    expect(page.get_by_role("img", name="QR code of the credential offer")).to_be_visible()
    check_page(page, "desk-offer")
    link = page.get_by_label("Link to paste into your wallet").input_value()
    assert link.startswith("openid-credential-offer://?credential_offer_uri=")
    same_device = page.get_by_role("button", name="Open in my wallet on this computer")
    assert same_device.get_attribute("href") == (
        f"http://127.0.0.1:8700/offer?{urlsplit(link).query}"
    )
    wallet = page.context.new_page()
    unlock(wallet, journey)
    wallet.get_by_role("link", name="Add a credential").first.click()
    wallet.get_by_label("Offer link").fill(link)
    wallet.get_by_role("button", name="Continue").click()
    wallet.get_by_label("Transaction code").fill(tx_code)
    wallet.get_by_role("button", name="Accept and add to my wallet").click()
    expect(wallet.locator(".govuk-panel__title")).to_have_text("Credential added")
    page.get_by_role("button", name="Check whether it has been collected").click()
    expect(page.locator(".govuk-panel__title")).to_have_text("Credential collected")
    check_page(page, "desk-offer-collected")


def test_a_request_page_shows_the_result_after_the_wallet_presents(
    page: Page, journey: Journey
) -> None:
    """The relying party's page waits with the QR code and links; once the wallet presents,
    "Check again" shows what was verified, and only once."""
    journey.hold_pid()
    asked = journey.request()
    page.goto(asked["page"])
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Share your information from your wallet"
    )
    expect(page.get_by_text("Nothing has been shared yet.")).to_be_visible()
    check_page(page, "desk-request")
    link = page.get_by_label("Link to paste into your wallet").input_value()
    assert link == asked["request"]
    wallet = page.context.new_page()
    unlock(wallet, journey)
    wallet.goto(f"{journey.ui}/request?{urlsplit(link).query}")
    wallet.get_by_role("button", name="Share exactly this").click()
    expect(wallet.locator(".govuk-panel__title")).to_have_text("Shared with Corner Shop")
    page.get_by_role("button", name="Check again").click()
    expect(page.locator(".govuk-panel__title")).to_have_text("Verified")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Age over 18")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Yes")
    check_page(page, "desk-request-verified")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("The result has been deleted")
    check_page(page, "desk-request-deleted")
