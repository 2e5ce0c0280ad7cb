"""The web wallet in a real browser: each journey a citizen takes, with axe-core on every page and
a screenshot of each (tests/browser/screenshots/wallet-*.png).

The platform (demo world, SQLite) and the web wallet run in this process, each on its own
loopback port, sharing one fixed clock; the wallet reaches the platform over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import segno
from fastapi.responses import PlainTextResponse
from playwright.sync_api import Page, Playwright, expect

from civicstack.access import AccessEntry
from civicstack.api.app import create_app
from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA
from civicstack.demo.world import seed_demo_world
from civicstack.fetch import HttpTransport
from civicstack.openid4vp import (
    authorization_request_uri,
    client_id_for,
    query_for,
    sign_request_object,
    sign_verifier_attestation,
)
from civicstack.pairwise import ACCESS_LOG_SECTOR, Subject
from civicstack.platform import Platform
from civicstack.services.verifier import Caller
from civicstack.settings import Settings
from civicstack.testing import FAST_KDF, FixedClock
from civicstack.wallet import Wallet
from civicstack.wallet.transport import Method
from civicstack.web.wallet import WalletUISettings, create_wallet_app
from tests.browser.harness import AXE, CHROMIUM, CHROMIUM_ARGS, check_page, serving
from tests.e2e.server import free_port

PASSPHRASE = "correct horse battery staple"
ADMIN = "browser-test-admin-token"
AMARA_SUBJECT = Subject("GB", "QQ123456C")
DRIVING = ["dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"]


@dataclass
class Journey:
    """The platform and the web wallet, served; and what the tests drive them with."""

    platform: Platform
    base: str
    ui: str
    clock: FixedClock
    wallet_dir: Path
    crafted: dict[str, str]
    #: Rewrites the platform's answers the wallet reads: ``{path: fn(body) -> body}``.
    tamper: dict[str, Callable[[bytes], bytes]]

    @property
    def admin(self) -> dict[str, str]:
        """The platform admin's headers."""
        return {"Authorization": f"Bearer {ADMIN}"}

    def offer(self) -> dict[str, Any]:
        """A PID offer for Amara from the passport office: {"offer", "tx_code"}."""
        body = {"vct": PID_VCT, "claims": AMARA, "tx_code": True, "expires_in": 900}
        r = httpx.post(
            f"{self.base}/issuers/passport-office/admin/offers", json=body, headers=self.admin
        )
        assert r.status_code in (200, 201), r.text
        return dict(r.json())

    def request(self, preset: str = "age_over_18") -> dict[str, Any]:
        """A presentation request from the corner shop: {"id", "request", ...}."""
        r = httpx.post(
            f"{self.base}/verifier/requests", json={"preset": preset}, headers=self.admin
        )
        assert r.status_code in (200, 201), r.text
        return dict(r.json())

    def outcome(self, request_id: str) -> dict[str, Any]:
        """What the verifier learnt from a request."""
        r = httpx.get(f"{self.base}/verifier/requests/{request_id}", headers=self.admin)
        return dict(r.json())

    def hold_pid(self) -> str:
        """Put Amara's PID straight into the wallet, trusting the platform's root (journeys
        that start with one); the issued credential's id."""
        wallet = Wallet.open(self.wallet_dir, PASSPHRASE, clock=self.clock)
        registry = self.platform.trust_registry()
        for root in registry.roots.values():
            wallet.pin_trust_anchor(root)
        issued = self.platform.authorities.issue(
            "passport-office", vct=PID_VCT, claims=AMARA, holder=wallet.holder_key
        )
        wallet.add_credential(issued.credential, trust=registry)
        return issued.record.id

    def overasking_link(self) -> str:
        """A request signed with the shop's own registered key but asking for the birthdate,
        which the shop is not registered to ask for; served at ``/crafted/shop``."""
        _, root_key = self.platform.authorities.store.signing_key("root")
        _, shop_key = self.platform.authorities.store.signing_key("shop")
        shop = f"{self.base}/verifiers/shop"
        now = self.clock.now()
        attestation = sign_verifier_attestation(
            root_key,
            iss=f"{self.base}/trust/root",
            sub=shop,
            key=shop_key.public_key,
            now=now,
            exp=now + 600,
            redirect_uris=[f"{self.base}/verifier/responses"],
        )
        self.crafted["shop"] = sign_request_object(
            shop_key,
            attestation=attestation,
            client_id=client_id_for(shop),
            response_uri=f"{self.base}/verifier/responses",
            nonce="crafted-nonce-0123456789",
            state="crafted-state",
            dcql=query_for([("pid", PID_VCT, ("age_over_18", "birthdate"))]),
            now=now,
            exp=now + 600,
            purpose="age_check",
        )
        return authorization_request_uri(client_id_for(shop), f"{self.base}/crafted/shop")


class TamperingTransport:
    """The wallet's HTTP transport, with the answers of some paths rewritten (a platform that
    lies); every other answer passes through."""

    def __init__(self, inner: HttpTransport, tamper: dict[str, Callable[[bytes], bytes]]) -> None:
        self.inner = inner
        self.tamper = tamper

    def send(self, method: Method, url: str, **kw: Any) -> tuple[int, bytes]:
        """The inner answer, rewritten when its path is in ``tamper``."""
        status, body = self.inner.send(method, url, **kw)
        rewrite = self.tamper.get(urlsplit(url).path)
        return status, rewrite(body) if rewrite else body

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


@pytest.fixture
def journey(tmp_path: Path, clock: FixedClock) -> Iterator[Journey]:
    """The demo platform and a new wallet's web UI, served on two loopback ports."""
    port, ui_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(tmp_path / "platform"),
            "CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/platform.db",
            "CIVIC_BASE_URL": base,
            "CIVIC_ADMIN_TOKEN": ADMIN,
        }
    )
    platform = Platform(settings, clock=clock)
    platform.migrate()
    seed_demo_world(platform)
    root = create_app(platform)
    crafted: dict[str, str] = {}

    @root.get("/crafted/{name}", include_in_schema=False)
    def crafted_object(name: str) -> PlainTextResponse:
        return PlainTextResponse(crafted[name], media_type="application/oauth-authz-req+jwt")

    wallet_dir = tmp_path / "wallet"
    Wallet.create(wallet_dir, PASSPHRASE, kdf=FAST_KDF, clock=clock)
    ui_settings = WalletUISettings(wallet_dir=wallet_dir, port=ui_port, platform=base)
    tamper: dict[str, Callable[[bytes], bytes]] = {}
    ui_app = create_wallet_app(
        ui_settings, clock=clock, transport=lambda: TamperingTransport(HttpTransport(), tamper)
    )
    with serving(root, port) as served, serving(ui_app, ui_port) as ui:
        yield Journey(platform, served, ui, clock, wallet_dir, crafted, tamper)
    platform.close()


def unlock(page: Page, journey: Journey, *, audit: bool = False) -> None:
    """Open the wallet and unlock it through the form."""
    page.goto(journey.ui + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Unlock your wallet")
    if audit:
        check_page(page, "wallet-unlock")
    page.get_by_label("Wallet passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your credentials")


def test_unlock_and_see_credentials(page: Page, journey: Journey) -> None:
    """Unlocking shows the credentials: what each says, who issued it (by the name its
    accreditation gives, with its address), whether it is valid."""
    journey.hold_pid()
    unlock(page, journey, audit=True)
    expect(page.get_by_role("heading", level=2, name="Person identification data")).to_be_visible()
    expect(page.locator(".govuk-tag", has_text="Valid")).to_be_visible()
    expect(page.get_by_text(f"{journey.base}/issuers/passport-office").first).to_be_visible()
    issued_by = page.locator(".govuk-summary-list__row", has_text="Issued by")
    expect(issued_by).to_contain_text("HM Passport Office")
    expect(page.get_by_role("cell", name="Okafor")).to_be_visible()
    check_page(page, "wallet-credentials")


def test_a_revoked_credential_says_so(page: Page, journey: Journey) -> None:
    """Once the issuer revokes it, the credentials page reads its status list and says so."""
    issued = journey.hold_pid()
    journey.platform.authorities.revoke_credential(issued)
    unlock(page, journey)
    expect(page.locator(".govuk-tag", has_text="Revoked by the issuer")).to_be_visible()
    check_page(page, "wallet-credentials-revoked")


def test_receive_a_credential(page: Page, journey: Journey) -> None:
    """A pasted offer shows who offers what; with the transaction code it is stored; a
    same-device /offer link opens the same screen."""
    unlock(page, journey)
    check_page(page, "wallet-credentials-empty")
    offer = journey.offer()
    page.get_by_role("link", name="Add a credential").first.click()
    check_page(page, "wallet-receive")
    page.get_by_label("Offer link").fill(offer["offer"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("offers you a credential")
    expect(page.get_by_text("Person identification data")).to_be_visible()
    check_page(page, "wallet-offer")
    page.get_by_label("Transaction code").fill(offer["tx_code"])
    page.get_by_role("button", name="Accept and add to my wallet").click()
    expect(page.locator(".govuk-panel__title")).to_have_text("Credential added")
    expect(page.locator(".govuk-panel__body")).to_contain_text("from HM Passport Office")
    check_page(page, "wallet-received")
    page.get_by_role("button", name="See your credentials").click()
    expect(page.get_by_role("cell", name="Amara").first).to_be_visible()
    # same device: the issuer's page links to the wallet's own address
    second = journey.offer()
    page.goto(f"{journey.ui}/offer?{urlsplit(second['offer']).query}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("offers you a credential")
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_text("You declined the offer. Nothing was added.")).to_be_visible()


def test_a_wrong_transaction_code_is_a_form_error(page: Page, journey: Journey) -> None:
    """A transaction code of the wrong shape is shown as an error on the same screen."""
    unlock(page, journey)
    offer = journey.offer()
    page.goto(f"{journey.ui}/offer?{urlsplit(offer['offer']).query}")
    page.get_by_label("Transaction code").fill("12")
    page.get_by_role("button", name="Accept and add to my wallet").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "wallet-offer-error")


def test_consent_and_present(page: Page, journey: Journey) -> None:
    """The consent screen names the shop, its registration and purpose, exactly what leaves and
    what stays; sharing sends only that, and the verifier gets it."""
    journey.hold_pid()
    unlock(page, journey)
    asked = journey.request()
    page.get_by_role("link", name="Share", exact=True).click()
    check_page(page, "wallet-present")
    page.get_by_label("Request link").fill(asked["request"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Corner Shop asks for your information"
    )
    leaving = page.locator("table", has=page.locator("caption", has_text="This leaves your device"))
    expect(leaving.get_by_role("row")).to_have_count(2)  # the header and age over 18
    expect(leaving).to_contain_text("Age over 18")
    stays = page.locator("h3", has_text="This stays in your wallet").locator("+ ul")
    expect(stays).to_contain_text("Birthdate")
    expect(stays).to_contain_text("Given name")
    expect(page.get_by_text("Registered", exact=True)).to_be_visible()
    expect(page.get_by_text("Issued by HM Passport Office")).to_be_visible()
    check_page(page, "wallet-consent")
    page.set_viewport_size({"width": 320, "height": 640})  # WCAG 1.4.10: reflows at 320 px
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
          .filter(e => e.getBoundingClientRect().right > 321)
          .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
          .slice(0, 12)"""
    )
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320, wide
    check_page(page, "wallet-consent-narrow")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.get_by_role("button", name="Share exactly this").click()
    expect(page.locator(".govuk-panel__title")).to_have_text("Shared with Corner Shop")
    check_page(page, "wallet-presented")
    outcome = journey.outcome(asked["id"])
    assert outcome["status"] == "verified"
    assert outcome["claims"] == {"age_over_18": True}
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator(".govuk-tag", has_text="Shared")).to_be_visible()
    check_page(page, "wallet-history")


def test_same_device_request_and_decline(page: Page, journey: Journey) -> None:
    """A same-device /request link opens the consent screen; "Do not share" sends nothing and
    tells the verifier no."""
    journey.hold_pid()
    unlock(page, journey)
    asked = journey.request()
    page.goto(f"{journey.ui}/request?{urlsplit(asked['request']).query}")
    page.get_by_role("button", name="Do not share").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nothing was shared")
    check_page(page, "wallet-declined")
    assert journey.outcome(asked["id"])["status"] != "verified"


def test_overasking_service_is_refused_before_the_question(page: Page, journey: Journey) -> None:
    """A request asking more than the shop's registration allows never reaches a consent
    screen: it is refused, nothing leaves, and the refusal is in the history."""
    journey.hold_pid()
    unlock(page, journey)
    page.get_by_role("link", name="Share", exact=True).click()
    page.get_by_label("Request link").fill(journey.overasking_link())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your wallet refused this request")
    expect(page.get_by_text("Nothing left your device.")).to_be_visible()
    assert page.get_by_role("button", name="Share exactly this").count() == 0
    check_page(page, "wallet-refused")
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator(".govuk-tag", has_text="Refused")).to_be_visible()


def test_give_and_withdraw_a_consent(page: Page, journey: Journey) -> None:
    """A waiting consent request is shown with the insurer's registration and the exact data;
    given, it is active; withdrawn, it stops."""
    journey.hold_pid()
    journey.platform.consents.create_request(
        Caller(None),
        requester="insurer",
        subject=journey.platform.pairwise_id("insurer", AMARA_SUBJECT),
        provider="dvla",
        purpose="insurance_quote",
        categories=DRIVING,
        once=False,
        valid_days=30,
    )
    unlock(page, journey)
    page.get_by_role("link", name="Consents", exact=True).click()
    expect(page.get_by_role("heading", name="Waiting for your answer")).to_be_visible()
    check_page(page, "wallet-consents")
    page.get_by_role("link", name="Review the request from insurer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Civic Mutual Insurance asks for your consent"
    )
    expect(page.get_by_text("Quote for your motor insurance")).to_be_visible()
    check_page(page, "wallet-consent-request")
    page.get_by_role("button", name="Give consent").click()
    expect(page.get_by_text("You gave your consent.")).to_be_visible()
    expect(page.locator(".govuk-tag", has_text="Active")).to_be_visible()
    check_page(page, "wallet-consents-given")
    page.get_by_role("link", name="Withdraw your consent to insurer").click()
    check_page(page, "wallet-withdraw")
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.get_by_text("You withdrew your consent.")).to_be_visible()
    expect(page.locator(".govuk-tag", has_text="Active")).to_have_count(0)


def test_report_a_change(page: Page, journey: Journey) -> None:
    """A new email address is checked, shown with what the PID discloses, then signed and sent."""
    journey.hold_pid()
    unlock(page, journey)
    page.get_by_role("link", name="Report a change").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "wallet-change-error")
    page.get_by_label("My email address or phone number").check()
    page.get_by_role("textbox", name="Email address").fill("amara@example.org")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your report")
    check_page(page, "wallet-change-confirm")
    page.get_by_role("button", name="Sign and send").click()
    expect(page.locator(".govuk-panel__title")).to_have_text("Change reported")
    check_page(page, "wallet-change-sent")


def test_the_wallet_warns_then_locks(page: Page, journey: Journey) -> None:
    """Near the end of its time every page warns with a button that extends it (live, with
    JavaScript); past the idle time the wallet locks and says why."""
    unlock(page, journey)
    for _ in range(5):  # in use, never idle, until the lifetime ends in 121 s
        journey.clock.advance(280)
        page.reload()
    journey.clock.advance(279)
    page.get_by_role("link", name="History", exact=True).click()
    warning = page.locator("#civic-session-warning")
    # Not due when the page was made (hidden in its HTML: test_wallet_http), shown live later.
    expect(warning).to_be_visible()
    check_page(page, "wallet-session-warning")
    page.get_by_role("button", name="Keep my wallet unlocked").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    expect(warning).to_be_hidden()
    journey.clock.advance(301)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unlock your wallet")
    expect(page.get_by_text("Your wallet locked itself")).to_be_visible()
    check_page(page, "wallet-locked")
    page.get_by_label("Wallet passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History")  # back where it was


def qr_video(text: str, path: Path, *, scale: int = 6) -> Path:
    """A Y4M video (one still frame, which Chromium loops) showing ``text`` as a QR code: what
    the fake camera films."""
    matrix = segno.make(text, error="m", micro=False).matrix
    border = 4
    modules = len(matrix) + 2 * border
    side = modules * scale + (modules * scale) % 2
    luma = bytearray(b"\xeb" * side * side)  # white
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = ((y + border) * scale + dy) * side + (x + border) * scale
                    luma[start : start + scale] = b"\x10" * scale  # black
    chroma = b"\x80" * ((side // 2) * (side // 2))
    header = f"YUV4MPEG2 W{side} H{side} F5:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + bytes(luma) + chroma + chroma)
    return path


def test_scan_a_request_with_the_camera(
    playwright_driver: Playwright, journey: Journey, tmp_path: Path
) -> None:
    """With JavaScript and a camera, the paste page offers to scan: the QR code read opens the
    consent screen as pasting the link would."""
    journey.hold_pid()
    asked = journey.request()
    video = qr_video(asked["request"], tmp_path / "qr.y4m")
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        context.add_init_script(path=str(AXE))
        context.grant_permissions(["camera"], origin=journey.ui)
        page = context.new_page()
        page.set_default_timeout(20_000)
        unlock(page, journey)
        page.get_by_role("link", name="Share", exact=True).click()
        scan = page.get_by_role("button", name="Scan a QR code with your camera")
        expect(scan).to_be_visible()
        check_page(page, "wallet-present-scan")
        scan.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Corner Shop asks for your information"
        )
    finally:
        browser.close()


def _accesses(journey: Journey) -> None:
    """Two accesses about Amara in the platform's access log: one released, one refused."""
    handle = journey.platform.pairwise_id(ACCESS_LOG_SECTOR, AMARA_SUBJECT)
    now = journey.clock.now()
    released = AccessEntry(
        time=now - 3600,
        requester="insurer",
        provider="dvla",
        service="driving-record",
        purpose="insurance_quote",
        categories=tuple(sorted(DRIVING)),
        outcome="released",
        consent="c-7f3a",
        consent_version=1,
    )
    refused = replace(
        released, time=now - 60, outcome="refused", refusal="consent_withdrawn", consent_version=2
    )
    store = journey.platform.access_log_store
    store.append_accesses([(released, handle)])
    store.append_accesses([(refused, handle)])


def test_see_who_used_your_data(page: Page, journey: Journey) -> None:
    """The access history lists each access, released or refused, under "complete and verified
    as of checkpoint N"."""
    journey.hold_pid()
    _accesses(journey)
    unlock(page, journey)
    page.get_by_role("link", name="Who used your data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who used your data")
    expect(page.get_by_text("Complete and verified as of checkpoint 4")).to_be_visible()
    expect(page.locator(".govuk-tag", has_text="Released")).to_be_visible()
    expect(page.locator(".govuk-tag", has_text="Refused")).to_be_visible()
    check_page(page, "wallet-access-history")
    page.set_viewport_size({"width": 320, "height": 640})  # WCAG 1.4.10: reflows at 320 px
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    check_page(page, "wallet-access-history-narrow")


def test_a_tampered_access_history_is_explained(page: Page, journey: Journey) -> None:
    """A platform that leaves an access out of the history gets an error page that says what
    it means and what to do, and shows no list."""
    journey.hold_pid()
    _accesses(journey)

    def drop_newest(body: bytes) -> bytes:
        history = orjson.loads(body)
        history["entries"] = history["entries"][:-1]
        return orjson.dumps(history)

    journey.tamper["/access/history"] = drop_newest
    unlock(page, journey)
    page.get_by_role("link", name="Who used your data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your access history is incomplete")
    expect(page.get_by_role("heading", name="What you can do")).to_be_visible()
    expect(page.locator(".govuk-tag")).to_have_count(0)
    check_page(page, "wallet-access-history-incomplete")
