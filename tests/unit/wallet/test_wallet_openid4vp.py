"""The wallet's side of OpenID4VP: it refuses what it cannot trust before the holder is asked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from civicstack._crypto import PrivateKey
from civicstack.credential_types import PID_VCT
from civicstack.demo.world import seed_demo_world
from civicstack.errors import CivicError
from civicstack.openid4vp import (
    authorization_request_uri,
    client_id_for,
    query_for,
    sign_request_object,
    sign_verifier_attestation,
)
from civicstack.platform import Platform
from civicstack.services.verifier import Caller
from civicstack.settings import Settings
from civicstack.testing import FixedClock
from civicstack.trust import RootAuthority, TrustRegistry
from civicstack.wallet import Wallet
from civicstack.wallet import openid4vp as protocol
from civicstack.wallet.transport import Method

BASE = "http://civic.test"
SHOP = f"{BASE}/verifiers/shop"
FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
AMARA = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "issuing_country": "GB",
}


class Direct:
    """A transport straight into the platform's verifier; records what was posted."""

    def __init__(self, platform: Platform, objects: dict[str, str] | None = None) -> None:
        self.platform = platform
        self.objects = objects or {}
        self.posted: list[Mapping[str, str]] = []

    def send(
        self,
        method: Method,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        json: Any = None,
        truncate: bool = False,
    ) -> tuple[int, bytes]:
        if method == "GET":
            if url in self.objects:
                return 200, self.objects[url].encode()
            return 200, self.platform.verifier.request_object(url.rsplit("/", 1)[1]).encode()
        assert form is not None
        self.posted.append(form)
        try:
            self.platform.verifier.respond(form)
        except CivicError as exc:
            return 400, exc.code.encode()
        return 200, b'{"status":"verified"}'


@pytest.fixture
def platform(tmp_path: Path, clock: FixedClock) -> Iterator[Platform]:
    """The demo world on SQLite."""
    p = Platform(
        Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_BASE_URL": BASE}), clock=clock
    )
    p.migrate()
    seed_demo_world(p)
    yield p
    p.close()


@pytest.fixture
def wallet(platform: Platform, tmp_path: Path, clock: FixedClock) -> Wallet:
    """A wallet holding Amara's PID."""
    w = Wallet.create(tmp_path / "wallet", "a passphrase", kdf=FAST_KDF, clock=clock)
    issued = platform.authorities.issue(
        "passport-office", vct=PID_VCT, claims=AMARA, holder=w.holder_key
    )
    w.add_credential(issued.credential, trust=platform.trust_registry())
    return w


def _code(fn: Any) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def _asked(_: object) -> bool:
    raise AssertionError("the holder must not be asked")


def test_a_request_from_an_untrusted_root_is_refused(platform: Platform, wallet: Wallet) -> None:
    """A wallet trusting another root cannot authenticate the attestation: a root of the same
    name with other keys, or another root, is untrusted_issuer."""
    created = platform.verifier.create_request(Caller(None), preset="age_over_18")
    transport = Direct(platform)
    for root_id in (f"{BASE}/trust/root", "https://other.example/root"):
        other = RootAuthority.create(root_id, "Impostor", [PrivateKey.generate("EdDSA").public_key])
        registry = TrustRegistry([other])
        assert (
            _code(
                lambda r=registry: protocol.receive(
                    created.request, transport=transport, registry=r, now=wallet.now()
                )
            )
            == "untrusted_issuer"
        )
    assert transport.posted == []


def test_suspended_relying_party_is_refused(platform: Platform, wallet: Wallet) -> None:
    """A relying party suspended after making its request is refused by the wallet."""
    created = platform.verifier.create_request(Caller(None), preset="age_over_18")
    transport = Direct(
        platform, {created.request_uri: platform.verifier.request_object(created.id)}
    )
    platform.authorities.suspend("shop", reason="test")
    registry = platform.trust_registry()
    code = _code(
        lambda: protocol.receive(
            created.request, transport=transport, registry=registry, now=wallet.now()
        )
    )
    assert code == "relying_party_suspended"


def _crafted(
    platform: Platform,
    *,
    query: Any,
    key: PrivateKey | None = None,
    kb_algs: list[str] | None = None,
) -> tuple[str, str]:
    """A request object for the shop, signed as the platform would but asking ``query``."""
    _, root_key = platform.authorities.store.signing_key("root")
    _, shop_key = platform.authorities.store.signing_key("shop")
    signer = key or shop_key
    now = platform.clock.now()
    attestation = sign_verifier_attestation(
        root_key,
        iss=f"{BASE}/trust/root",
        sub=SHOP,
        key=signer.public_key,
        now=now,
        exp=now + 600,
        redirect_uris=[f"{BASE}/verifier/responses"],
    )
    token = sign_request_object(
        signer,
        attestation=attestation,
        client_id=client_id_for(SHOP),
        response_uri=f"{BASE}/verifier/responses",
        nonce="crafted-nonce-0123456789",
        state="crafted-state",
        dcql=query,
        now=now,
        exp=now + 600,
        purpose="age_check",
    )
    if kb_algs is not None:
        from civicstack._crypto import b64url_decode, json_loads_strict, sign_jwt

        h, p, _ = token.split(".")
        claims = json_loads_strict(b64url_decode(p))
        claims["client_metadata"] = {
            "vp_formats_supported": {"dc+sd-jwt": {"kb-jwt_alg_values": kb_algs}}
        }
        header = {k: v for k, v in json_loads_strict(b64url_decode(h)).items() if k != "alg"}
        token = sign_jwt(signer, claims, header)
    uri = f"{BASE}/crafted"
    return authorization_request_uri(client_id_for(SHOP), uri), token


def test_overasking_is_refused_before_consent(platform: Platform, wallet: Wallet) -> None:
    """A request authenticated by the shop's own key but asking for its birthdate is refused
    before the holder is asked, and the refusal is in the history; nothing is sent."""
    uri, token = _crafted(
        platform, query=query_for([("pid", PID_VCT, ("age_over_18", "birthdate"))])
    )
    transport = Direct(platform, {f"{BASE}/crafted": token})
    registry = platform.trust_registry()
    received = protocol.receive(uri, transport=transport, registry=registry, now=wallet.now())
    code = _code(
        lambda: protocol.answer(
            wallet, received, registry=registry, consent=_asked, transport=transport
        )
    )
    assert code == "overasking"
    assert transport.posted == []
    assert wallet.history()[-1].outcome == "refused"
    assert wallet.history()[-1].error == "overasking"


def test_a_key_outside_the_registration_is_refused(platform: Platform, wallet: Wallet) -> None:
    """An attestation binding the shop to a key its registration does not list is refused."""
    uri, token = _crafted(
        platform,
        query=query_for([("pid", PID_VCT, ("age_over_18",))]),
        key=PrivateKey.generate("ES256"),
    )
    transport = Direct(platform, {f"{BASE}/crafted": token})
    code = _code(
        lambda: protocol.receive(
            uri, transport=transport, registry=platform.trust_registry(), now=wallet.now()
        )
    )
    assert code == "unregistered_relying_party"


def test_unsupported_formats_are_refused(platform: Platform, wallet: Wallet) -> None:
    """A verifier not accepting the holder's key algorithm gets vp_formats_not_supported."""
    uri, token = _crafted(
        platform, query=query_for([("pid", PID_VCT, ("age_over_18",))]), kb_algs=["EdDSA"]
    )
    transport = Direct(platform, {f"{BASE}/crafted": token})
    registry = platform.trust_registry()
    received = protocol.receive(uri, transport=transport, registry=registry, now=wallet.now())
    with pytest.raises(CivicError) as err:
        protocol.presentation_request(wallet, received)
    assert err.value.code == "unsupported"
    assert getattr(err.value, "oauth_error", None) == "vp_formats_not_supported"


def test_nothing_to_present(platform: Platform, wallet: Wallet) -> None:
    """Without a matching credential the wallet says so and sends nothing."""
    created = platform.verifier.create_request(Caller(None), preset="right_to_work")
    transport = Direct(platform)
    registry = platform.trust_registry()
    received = protocol.receive(
        created.request, transport=transport, registry=registry, now=wallet.now()
    )
    code = _code(
        lambda: protocol.answer(
            wallet, received, registry=registry, consent=_asked, transport=transport
        )
    )
    assert code == "no_matching_credential"
    assert transport.posted == []


def test_answer_and_describe(platform: Platform, wallet: Wallet) -> None:
    """A good request is described for display, answered after consent, and verified."""
    created = platform.verifier.create_request(Caller(None), preset="age_over_18")
    transport = Direct(platform)
    registry = platform.trust_registry()
    received = protocol.receive(
        created.request, transport=transport, registry=registry, now=wallet.now()
    )
    described = protocol.describe(received)
    assert (described["name"], described["purpose"]) == ("Corner Shop", "age_check")
    answer = protocol.answer(
        wallet, received, registry=registry, consent=lambda s: True, transport=transport
    )
    assert answer.status == 200
    assert platform.verifier.result(Caller(None), created.id).claims == {"age_over_18": True}


def test_preview_shows_what_answer_would_send_and_does_nothing(
    platform: Platform, wallet: Wallet
) -> None:
    """A preview is the consent screen's summary with nothing sent, recorded or marked; the
    answer that follows sends exactly it."""
    created = platform.verifier.create_request(Caller(None), preset="age_over_18")
    transport = Direct(platform)
    registry = platform.trust_registry()
    received = protocol.receive(
        created.request, transport=transport, registry=registry, now=wallet.now()
    )
    shown = protocol.preview(wallet, received, registry=registry)
    assert [(c.path, c.value) for c in shown.items[0].claims] == [("age_over_18", True)]
    assert transport.posted == []
    assert wallet.history() == ()
    assert all(not copy.presented_to for c in wallet.credentials() for copy in c.copies)
    answered = protocol.answer(
        wallet, received, registry=registry, consent=lambda s: s == shown, transport=transport
    )
    assert answered.presentation.summary == shown
    assert wallet.history()[-1].outcome == "presented"


def test_preview_refuses_overasking_and_records_it(platform: Platform, wallet: Wallet) -> None:
    """An over-asking request is refused by the preview itself, before any screen, and the
    refusal is in the history."""
    uri, token = _crafted(
        platform, query=query_for([("pid", PID_VCT, ("age_over_18", "birthdate"))])
    )
    transport = Direct(platform, {f"{BASE}/crafted": token})
    registry = platform.trust_registry()
    received = protocol.receive(uri, transport=transport, registry=registry, now=wallet.now())
    assert _code(lambda: protocol.preview(wallet, received, registry=registry)) == "overasking"
    assert transport.posted == []
    assert [(r.outcome, r.error) for r in wallet.history()] == [("refused", "overasking")]
