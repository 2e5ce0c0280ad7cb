"""The web wallet over plain HTTP: unlocking, the lock, and every refusal of a hostile request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from civicstack.errors import CivicError
from civicstack.testing import FAST_KDF, FixedClock
from civicstack.wallet import Wallet
from civicstack.wallet.transport import Method
from civicstack.web.wallet import WalletUISettings, check_bind, create_wallet_app
from civicstack.web.wallet.session import BODY_BYTES, SESSION_COOKIE, local_path

PORT = 8799
ORIGIN = f"http://127.0.0.1:{PORT}"
PASSPHRASE = "correct horse battery staple"


class NoNetwork:
    """A transport that fails the test if the wallet reaches for the network."""

    def send(self, method: Method, url: str, **_: object) -> tuple[int, bytes]:
        raise AssertionError(f"no request should leave: {method} {url}")


@pytest.fixture
def ui(tmp_path: Path, clock: FixedClock) -> TestClient:
    """The web wallet over a new, empty wallet; the client speaks from the app's own origin."""
    Wallet.create(tmp_path / "wallet", PASSPHRASE, kdf=FAST_KDF, clock=clock)
    settings = WalletUISettings(
        wallet_dir=tmp_path / "wallet", port=PORT, idle=300, lifetime=1800, warn=120
    )
    app = create_wallet_app(settings, clock=clock, transport=NoNetwork)
    return TestClient(app, base_url=ORIGIN, follow_redirects=False)


def _unlock_token(client: TestClient) -> str:
    page = client.get("/unlock")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def unlock(client: TestClient, passphrase: str = PASSPHRASE) -> str:
    """Unlock through the form; the session's CSRF token read from the next page."""
    token = _unlock_token(client)
    r = client.post(
        "/unlock",
        data={"csrf": token, "passphrase": passphrase, "next": ""},
        headers={"Origin": ORIGIN},
    )
    assert r.status_code == 303, r.text
    page = client.get("/credentials")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_unlock_sets_a_strict_httponly_random_session(ui: TestClient) -> None:
    """The right passphrase opens a session in an HttpOnly SameSite=Strict cookie, new each time."""
    token = _unlock_token(ui)
    r = ui.post(
        "/unlock", data={"csrf": token, "passphrase": PASSPHRASE}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/credentials"
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    first = ui.cookies[SESSION_COOKIE]
    assert len(first) >= 43
    page = ui.get("/credentials")
    assert page.status_code == 200
    assert "Your wallet holds no credentials yet." in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    ui.cookies.clear()
    unlock(ui)
    assert ui.cookies[SESSION_COOKIE] != first


def test_locked_pages_go_to_unlock_and_come_back(ui: TestClient) -> None:
    """Without a session every page redirects to the unlock form, which returns there after."""
    r = ui.get("/present")
    assert r.status_code == 303
    assert r.headers["location"] == "/unlock?next=%2Fpresent"
    page = ui.get("/unlock?next=/present")
    assert 'name="next" value="/present"' in page.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", ""])
def test_unlock_never_redirects_off_the_app(ui: TestClient, target: str) -> None:
    """A `next` that is not a path on this app is replaced by the credentials page."""
    token = _unlock_token(ui)
    r = ui.post(
        "/unlock",
        data={"csrf": token, "passphrase": PASSPHRASE, "next": target},
        headers={"Origin": ORIGIN},
    )
    assert r.headers["location"] == "/credentials"


def test_wrong_passphrases_are_refused_then_slowed(ui: TestClient, clock: FixedClock) -> None:
    """A wrong passphrase is a form error; five in a row make the form wait a minute."""
    for _ in range(5):
        token = _unlock_token(ui)
        r = ui.post(
            "/unlock", data={"csrf": token, "passphrase": "wrong"}, headers={"Origin": ORIGIN}
        )
        assert r.status_code == 400
        assert "The passphrase is not right" in r.text
        assert SESSION_COOKIE not in ui.cookies
    token = _unlock_token(ui)
    r = ui.post(
        "/unlock", data={"csrf": token, "passphrase": PASSPHRASE}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 429
    clock.advance(61)
    unlock(ui)


@pytest.mark.parametrize(
    "origin",
    [None, "null", "http://localhost:8799", "http://127.0.0.1:8000", "https://127.0.0.1:8799"],
)
def test_a_post_from_another_origin_does_nothing(ui: TestClient, origin: str | None) -> None:
    """A POST without this app's Origin is refused (403) even with the right token."""
    csrf = unlock(ui)
    headers = {} if origin is None else {"Origin": origin}
    r = ui.post("/lock", data={"csrf": csrf}, headers=headers)
    assert r.status_code == 403
    assert ui.get("/credentials").status_code == 200  # still unlocked


def test_a_post_without_the_sessions_token_does_nothing(ui: TestClient) -> None:
    """The right Origin with a missing or wrong CSRF token is refused (403)."""
    unlock(ui)
    for data in ({}, {"csrf": "x" * 43}):
        r = ui.post("/lock", data=data, headers={"Origin": ORIGIN})
        assert r.status_code == 403
    assert ui.get("/credentials").status_code == 200


def test_unlock_form_needs_its_own_token(ui: TestClient) -> None:
    """The unlock form is a double submit: a token not matching its cookie is refused."""
    _unlock_token(ui)
    r = ui.post(
        "/unlock", data={"csrf": "forged", "passphrase": PASSPHRASE}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 403
    assert SESSION_COOKIE not in ui.cookies


@pytest.mark.parametrize("host", ["localhost:8799", "evil.example", "127.0.0.1:8000", "127.0.0.1"])
def test_another_host_is_refused(ui: TestClient, host: str) -> None:
    """A request naming another Host (DNS rebinding) is refused before any page."""
    r = ui.get("/unlock", headers={"Host": host})
    assert r.status_code == 403


def test_hostile_forms_are_refused(ui: TestClient) -> None:
    """Oversized bodies, control characters, files and repeated fields are refused."""
    csrf = unlock(ui)
    headers = {"Origin": ORIGIN}
    big = ui.post("/present", data={"csrf": csrf, "link": "x" * BODY_BYTES}, headers=headers)
    assert big.status_code == 413
    control = ui.post("/present", data={"csrf": csrf, "link": "a\x00b"}, headers=headers)
    assert control.status_code == 400
    repeated = ui.post(
        "/present", content=f"csrf={csrf}&link=a&link=b", headers={
            **headers, "Content-Type": "application/x-www-form-urlencoded"}
    )  # fmt: skip
    assert repeated.status_code == 400
    upload = ui.post(
        "/present", data={"csrf": csrf}, files={"link": ("a.txt", b"x")}, headers=headers
    )
    assert upload.status_code == 400
    field = ui.post("/present", data={"csrf": csrf, "link": "y" * 9000}, headers=headers)
    assert field.status_code == 400


@pytest.mark.parametrize(
    ("path", "link", "code"),
    [
        ("/present", "openid4vp://?client_id=x", "invalid_request"),
        ("/present", "https://example.org/?request_uri=x", "invalid_request"),
        ("/receive", "openid-credential-offer://?credential_offer=%7B", "invalid_offer"),
        ("/receive", "not a link", "invalid_offer"),
    ],
)
def test_malformed_links_are_refused_before_any_network(
    ui: TestClient, path: str, link: str, code: str
) -> None:
    """A malformed request or offer link is a form error naming its code; nothing is fetched."""
    csrf = unlock(ui)
    r = ui.post(path, data={"csrf": csrf, "link": link}, headers={"Origin": ORIGIN})
    assert r.status_code == 400
    assert "There is a problem" in r.text


def test_the_wallet_locks_when_idle(ui: TestClient, clock: FixedClock) -> None:
    """After the idle time without a request the session is gone: the next page asks to unlock."""
    unlock(ui)
    clock.advance(299)
    assert ui.get("/credentials").status_code == 200
    clock.advance(300)
    r = ui.get("/credentials")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/unlock")


def test_the_lifetime_warning_comes_first_and_extends(ui: TestClient, clock: FixedClock) -> None:
    """Near the end of its lifetime every page warns with an extend button; extending resets it;
    past the lifetime it locks even while in use."""
    csrf = unlock(ui)
    for _ in range(6):  # in use all along: never idle
        clock.advance(280)
        page = ui.get("/credentials")
    assert page.status_code == 200
    assert 'id="civic-session-warning" class="civic-session-warning">' in page.text
    assert "Keep my wallet unlocked" in page.text
    r = ui.post(
        "/session/extend",
        data={"csrf": csrf, "return_to": "/history"},
        headers={"Origin": ORIGIN},
    )
    assert r.headers["location"] == "/history"
    page = ui.get("/credentials")
    assert 'id="civic-session-warning" class="civic-session-warning" hidden>' in page.text
    for _ in range(7):
        clock.advance(280)
        last = ui.get("/credentials")
    assert last.status_code == 303


def test_locking_ends_the_session(ui: TestClient) -> None:
    """The lock button ends the session; the old cookie opens nothing."""
    csrf = unlock(ui)
    cookie = ui.cookies[SESSION_COOKIE]
    r = ui.post("/lock", data={"csrf": csrf}, headers={"Origin": ORIGIN})
    assert r.headers["location"] == "/unlock?locked=you"
    ui.cookies.set(SESSION_COOKIE, cookie)
    assert ui.get("/credentials").status_code == 303


@pytest.mark.parametrize("host", ["0.0.0.0", "::1", "localhost", "127.0.0.2", "192.168.1.2", ""])
def test_only_loopback_127_0_0_1_is_a_bind_address(host: str) -> None:
    """`civic wallet ui` refuses to listen anywhere but 127.0.0.1."""
    with pytest.raises(CivicError) as caught:
        check_bind(host)
    assert caught.value.code == "invalid_request"
    assert check_bind("127.0.0.1") == "127.0.0.1"


@given(st.text(max_size=64))
def test_local_path_never_leaves_the_app(value: str) -> None:
    """Whatever `next` or `return_to` says, the redirect target is a path on this app."""
    target = local_path(value)
    assert target.startswith("/")
    assert not target.startswith("//")
    assert "\\" not in target
    assert target.isprintable()


def test_a_session_holds_a_bounded_amount_of_work() -> None:
    """Each kind of pending work is capped: the oldest handle is dropped, the newest kept."""
    from civicstack.web.wallet.session import HELD_PER_KIND, hold

    store: dict[str, int] = {}
    handles = [hold(store, i) for i in range(HELD_PER_KIND + 3)]
    assert len(store) == HELD_PER_KIND
    assert handles[0] not in store
    assert store[handles[-1]] == HELD_PER_KIND + 2
    assert len(set(handles)) == len(handles)
