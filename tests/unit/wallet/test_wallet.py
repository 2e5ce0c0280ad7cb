"""The holder wallet: credential store, consent before presenting, refusals, history, signing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from civicstack._crypto import PrivateKey, PublicKey
from civicstack.credential_types import PID_VCT, pid_claims, pid_disclosable
from civicstack.credentials import UnsafeSkipStatus, issue_credential, verify_presentation
from civicstack.errors import CivicError
from civicstack.testing import T0, YEAR, FixedClock, World
from civicstack.trust import Authority, Purpose, sign_suspension
from civicstack.wallet import (
    ConsentSummary,
    CredentialQuery,
    Limits,
    PresentationRequest,
    Wallet,
    verify_document,
)

FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
PASS = "correct horse battery staple"
RP = "https://employer.example"
SHOP = "https://shop.example"
NOW = T0 + 3600
PID_SCOPE = {
    PID_VCT: [
        "given_name",
        "family_name",
        "birthdate",
        "nationalities",
        "address",
        "issuing_authority",
        "issuing_country",
        "age_over_13",
        "age_over_16",
        "age_over_18",
        "age_over_21",
        "age_over_65",
    ]
}


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@dataclass
class Consent:
    """A consent prompt that answers as told and remembers what it was shown."""

    answer: bool = True
    seen: list[ConsentSummary] = field(default_factory=list)
    clock: FixedClock | None = None
    think: int = 0

    def __call__(self, summary: ConsentSummary) -> bool:
        self.seen.append(summary)
        if self.clock is not None:
            self.clock.advance(self.think)
        return self.answer


@dataclass
class Setup:
    world: World
    office: Authority
    wallet: Wallet
    clock: FixedClock

    def pid(self, *, exp: int | None = T0 + YEAR, iat: int = T0, **overrides: Any) -> str:
        claims = pid_claims(
            given_name=overrides.pop("given_name", "Erika"),
            family_name="Mustermann",
            birthdate="1984-01-26",
            issuing_authority="Passport Office",
            issuing_country="GB",
            nationalities=["GB", "DE"],
            address={"street_address": "1 High Street", "locality": "Leeds", "postal_code": "LS1"},
            now=T0,
        )
        return issue_credential(
            self.office.key,
            iss=self.office.id,
            vct=PID_VCT,
            claims=claims,
            holder=self.wallet.holder_key,
            disclosable=pid_disclosable(claims),
            iat=iat,
            exp=exp,
        )


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    """A root, an accredited passport office, an employer and a shop, and an empty wallet."""
    world = World()
    office = world.accredit(scope=PID_SCOPE, authority="https://passport.example")
    world.register(
        relying_party=RP,
        purposes=[
            Purpose.create(
                "onboarding",
                "Set up your payroll",
                {PID_VCT: ["given_name", "family_name", "address"]},
            )
        ],
    )
    world.register(
        relying_party=SHOP,
        purposes=[Purpose.create("age_check", "Sell you wine", {PID_VCT: ["age_over_18"]})],
    )
    clock = FixedClock(NOW)
    wallet = Wallet.create(tmp_path / "wallet", PASS, clock=clock, kdf=FAST_KDF)
    return Setup(world, office, wallet, clock)


def _request(rp: str = RP, purpose: str = "onboarding", claims: Any = None) -> PresentationRequest:
    return PresentationRequest.create(
        rp, purpose, claims or {PID_VCT: ["given_name", "family_name"]}, nonce="n-0S6_WzA2Mj"
    )


# --- the credential store --------------------------------------------------------------------


def test_store_list_show_remove(setup: Setup) -> None:
    """A credential is stored with its metadata, listed, shown and removed."""
    stored = setup.wallet.add_credential(setup.pid(), trust=setup.world.registry)
    assert stored.iss == "https://passport.example"
    assert stored.vct == PID_VCT
    assert stored.received_at == NOW
    assert stored.claims["given_name"] == "Erika"
    assert "address.locality" in stored.disclosable
    assert [c.id for c in setup.wallet.credentials()] == [stored.id]
    assert setup.wallet.credential(stored.id) == stored
    setup.wallet.remove_credential(stored.id)
    assert setup.wallet.credentials() == ()
    assert _code(lambda: setup.wallet.credential(stored.id)) == "not_found"


def test_store_survives_reopening(setup: Setup) -> None:
    """Credentials are still there after the wallet is closed and reopened."""
    stored = setup.wallet.add_credential(setup.pid())
    again = Wallet.open(setup.wallet.path, PASS)
    assert again.credentials() == (stored,)
    assert again.holder_key == setup.wallet.holder_key


def test_duplicate_credential(setup: Setup) -> None:
    """The same credential twice is a conflict."""
    token = setup.pid()
    setup.wallet.add_credential(token)
    assert _code(lambda: setup.wallet.add_credential(token)) == "conflict"


def test_credential_of_another_holder_is_refused(setup: Setup) -> None:
    """A credential bound to another key, or to none, cannot be stored."""
    other = issue_credential(
        setup.office.key,
        iss=setup.office.id,
        vct=PID_VCT,
        claims={"given_name": "Mallory"},
        holder=PrivateKey.generate("ES256").public_key,
        iat=T0,
    )
    unbound = issue_credential(
        setup.office.key,
        iss=setup.office.id,
        vct=PID_VCT,
        claims={"given_name": "X"},
        holder=None,
        iat=T0,
    )
    assert _code(lambda: setup.wallet.add_credential(other)) == "invalid_credential"
    assert _code(lambda: setup.wallet.add_credential(unbound)) == "invalid_credential"


def test_untrusted_or_out_of_scope_issuer_is_refused_on_receipt(setup: Setup) -> None:
    """With a trust registry, credentials from unaccredited or out-of-scope issuers are refused."""
    rogue = PrivateKey.generate("EdDSA")
    forged = issue_credential(
        rogue,
        iss="https://passport.example",
        vct=PID_VCT,
        claims={"given_name": "Erika"},
        holder=setup.wallet.holder_key,
        iat=T0,
    )
    assert _code(lambda: setup.wallet.add_credential(forged, trust=setup.world.registry)) == (
        "invalid_signature"
    )
    beyond = issue_credential(
        setup.office.key,
        iss=setup.office.id,
        vct=PID_VCT,
        claims={"given_name": "Erika", "criminal_record": "none"},
        holder=setup.wallet.holder_key,
        iat=T0,
    )
    assert _code(lambda: setup.wallet.add_credential(beyond, trust=setup.world.registry)) == (
        "out_of_scope"
    )
    assert setup.wallet.credentials() == ()


@pytest.mark.parametrize("token", ["", "not an sd-jwt", "a.b.c~", 7, "x" * 300_000])
def test_garbage_credentials(setup: Setup, token: Any) -> None:
    """Garbage is refused with a stable code and nothing is stored."""
    with pytest.raises(CivicError):
        setup.wallet.add_credential(token)
    assert setup.wallet.credentials() == ()


# --- presenting ------------------------------------------------------------------------------


def test_consent_shows_exactly_what_the_verifier_gets(setup: Setup) -> None:
    """The summary names the relying party, registration and purpose, and its claims are
    exactly the claims the verifier obtains from the presentation."""
    stored = setup.wallet.add_credential(setup.pid())
    consent = Consent()
    request = _request()
    result = setup.wallet.present(request, trust=setup.world.registry, consent=consent)
    (summary,) = consent.seen
    assert summary == result.summary
    assert summary.relying_party == RP
    assert summary.relying_party_name == "Acme Employer Ltd"
    assert summary.registrar == "https://gov.example"
    assert (
        summary.registration
        == setup.world.registry.check_request(RP, "onboarding", {PID_VCT: ["given_name"]}, NOW).jti
    )
    assert summary.purpose_description == "Set up your payroll"
    (item,) = summary.items
    assert item.credential == stored.id
    assert {c.path: c.value for c in item.claims} == {
        "given_name": "Erika",
        "family_name": "Mustermann",
    }
    assert {c.path for c in item.metadata} >= {"iss", "vct", "iat", "exp", "cnf"}
    verified = verify_presentation(
        result.tokens[PID_VCT],
        trust=setup.world.registry,
        aud=RP,
        nonce=request.nonce,
        now=NOW,
        status=UnsafeSkipStatus(),
    )
    assert verified.claims == {"given_name": "Erika", "family_name": "Mustermann"}
    assert verified.holder == setup.wallet.holder_key


def test_nested_claim_reveals_only_that_member(setup: Setup) -> None:
    """Asking for address.locality reveals the locality and no other part of the address."""
    setup.wallet.add_credential(setup.pid())
    consent = Consent()
    request = _request(claims={PID_VCT: ["address.locality"]})
    result = setup.wallet.present(request, trust=setup.world.registry, consent=consent)
    assert [(c.path, c.value) for c in consent.seen[0].items[0].claims] == [
        ("address.locality", "Leeds")
    ]
    verified = verify_presentation(
        result.tokens[PID_VCT],
        trust=setup.world.registry,
        aud=RP,
        nonce=request.nonce,
        now=NOW,
        status=UnsafeSkipStatus(),
    )
    assert verified.claims == {"address": {"locality": "Leeds"}}


def test_age_check_reveals_only_the_predicate(setup: Setup) -> None:
    """A shop registered for age_over_18 learns that and nothing else about the holder."""
    setup.wallet.add_credential(setup.pid())
    request = _request(SHOP, "age_check", {PID_VCT: ["age_over_18"]})
    result = setup.wallet.present(request, trust=setup.world.registry, consent=Consent())
    verified = verify_presentation(
        result.tokens[PID_VCT],
        trust=setup.world.registry,
        aud=SHOP,
        nonce=request.nonce,
        now=NOW,
        status=UnsafeSkipStatus(),
    )
    assert verified.claims == {"age_over_18": True}


def test_declining_sends_nothing(setup: Setup) -> None:
    """A declined request raises consent_declined and is remembered as declined."""
    setup.wallet.add_credential(setup.pid())
    consent = Consent(answer=False)
    assert (
        _code(lambda: setup.wallet.present(_request(), trust=setup.world.registry, consent=consent))
        == "consent_declined"
    )
    assert len(consent.seen) == 1
    (record,) = setup.wallet.history()
    assert record.outcome == "declined"
    assert record.items == consent.seen[0].items


@pytest.mark.parametrize(
    ("request_args", "code"),
    [
        ((RP, "onboarding", {PID_VCT: ["given_name", "birthdate"]}), "overasking"),
        ((RP, "marketing", {PID_VCT: ["given_name"]}), "overasking"),
        ((SHOP, "age_check", {PID_VCT: ["age_over_18", "given_name"]}), "overasking"),
        (("https://unknown.example", "x", {PID_VCT: ["given_name"]}), "unregistered_relying_party"),
    ],
)
def test_refused_before_consent(
    setup: Setup, request_args: tuple[str, str, dict[str, list[str]]], code: str
) -> None:
    """Over-asking or unregistered relying parties are refused before the holder is asked."""
    setup.wallet.add_credential(setup.pid())
    consent = Consent()
    request = _request(*request_args)
    assert (
        _code(lambda: setup.wallet.present(request, trust=setup.world.registry, consent=consent))
        == code
    )
    assert consent.seen == []
    (record,) = setup.wallet.history()
    assert record.outcome == "refused"
    assert record.error == code
    assert record.items == ()


def test_suspended_relying_party_is_refused(setup: Setup) -> None:
    """A suspended relying party is refused before consent."""
    setup.wallet.add_credential(setup.pid())
    setup.world.registry.suspend_relying_party(sign_suspension(setup.world.gov, RP, now=NOW - 1))
    consent = Consent()
    assert (
        _code(lambda: setup.wallet.present(_request(), trust=setup.world.registry, consent=consent))
        == "relying_party_suspended"
    )
    assert consent.seen == []


def test_no_matching_credential(setup: Setup) -> None:
    """Without a valid credential of the asked type, nothing is presented."""
    consent = Consent()
    assert (
        _code(lambda: setup.wallet.present(_request(), trust=setup.world.registry, consent=consent))
        == "no_matching_credential"
    )
    setup.wallet.add_credential(setup.pid(exp=NOW))  # expired at NOW
    assert (
        _code(lambda: setup.wallet.present(_request(), trust=setup.world.registry, consent=consent))
        == "no_matching_credential"
    )
    assert consent.seen == []


def test_most_recent_credential_is_chosen(setup: Setup) -> None:
    """With two credentials of the type, the most recently issued one is presented."""
    setup.wallet.add_credential(setup.pid(iat=T0))
    newer = setup.wallet.add_credential(setup.pid(iat=T0 + 60, given_name="Erika Maria"))
    consent = Consent()
    setup.wallet.present(_request(), trust=setup.world.registry, consent=consent)
    assert consent.seen[0].items[0].credential == newer.id
    shown = {c.path: c.value for c in consent.seen[0].items[0].claims}
    assert shown["given_name"] == "Erika Maria"


def test_presentation_is_bound_to_the_moment_it_is_sent(setup: Setup) -> None:
    """When the holder takes time, the key binding is made after consent, same disclosures."""
    setup.wallet.add_credential(setup.pid())
    consent = Consent(clock=setup.clock, think=600)
    request = _request()
    result = setup.wallet.present(request, trust=setup.world.registry, consent=consent)
    verified = verify_presentation(
        result.tokens[PID_VCT],
        trust=setup.world.registry,
        aud=RP,
        nonce=request.nonce,
        now=NOW + 600,
        status=UnsafeSkipStatus(),
    )
    assert verified.claims == {"given_name": "Erika", "family_name": "Mustermann"}
    assert result.record.at == NOW + 600


def test_several_queries(setup: Setup) -> None:
    """A request with two queries gets one presentation per query id."""
    setup.wallet.add_credential(setup.pid())
    request = PresentationRequest.create(
        RP,
        "onboarding",
        [
            CredentialQuery("name", PID_VCT, ("given_name",)),
            CredentialQuery("home", PID_VCT, ("address.postal_code",)),
        ],
        nonce="abc",
    )
    result = setup.wallet.present(request, trust=setup.world.registry, consent=Consent())
    assert set(result.tokens) == {"name", "home"}
    home = verify_presentation(
        result.tokens["home"],
        trust=setup.world.registry,
        aud=RP,
        nonce="abc",
        now=NOW,
        status=UnsafeSkipStatus(),
    )
    assert home.claims == {"address": {"postal_code": "LS1"}}


def test_history_records_who_when_what_why(setup: Setup) -> None:
    """Each presentation is recorded: who, when, which claims (values too), why, aud, nonce."""
    setup.wallet.add_credential(setup.pid())
    setup.wallet.present(_request(), trust=setup.world.registry, consent=Consent())
    setup.clock.advance(60)
    shop = _request(SHOP, "age_check", {PID_VCT: ["age_over_18"]})
    setup.wallet.present(shop, trust=setup.world.registry, consent=Consent())
    history = Wallet.open(setup.wallet.path, PASS).history()
    assert [(r.seq, r.outcome, r.relying_party, r.at) for r in history] == [
        (1, "presented", RP, NOW),
        (2, "presented", SHOP, NOW + 60),
    ]
    assert history[1].purpose == "age_check"
    assert history[1].purpose_description == "Sell you wine"
    assert history[1].aud == SHOP
    assert history[1].nonce == shop.nonce
    assert [(c.path, c.value) for c in history[1].items[0].claims] == [("age_over_18", True)]


def test_sign_document_with_the_holder_key(setup: Setup) -> None:
    """The wallet signs a document; anyone with its public key and the document can check it."""
    signed = setup.wallet.sign_document(b"I agree to the tenancy terms.")
    checked = verify_document(
        signed.signature, b"I agree to the tenancy terms.", setup.wallet.holder_key
    )
    assert checked.signed_at == NOW
    assert checked.kid == setup.wallet.holder_key.thumbprint()


def test_no_public_path_returns_the_private_key(setup: Setup) -> None:
    """No public attribute of a wallet is a private key (the key signs, it is never handed out)."""
    for name in dir(setup.wallet):
        if name.startswith("_"):
            continue
        value = getattr(setup.wallet, name)
        assert not isinstance(value, PrivateKey), name
    assert isinstance(setup.wallet.holder_key, PublicKey)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_key_algorithms(tmp_path: Path, alg: str) -> None:
    """Wallets hold ES256 (default) or EdDSA holder keys."""
    wallet = Wallet.create(
        tmp_path / alg, PASS, alg="EdDSA" if alg == "EdDSA" else "ES256", kdf=FAST_KDF
    )
    assert wallet.holder_key.alg == alg


def test_wrong_passphrase(setup: Setup) -> None:
    """Opening with the wrong passphrase is wrong_passphrase."""
    assert _code(lambda: Wallet.open(setup.wallet.path, "nope")) == "wrong_passphrase"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((RP, "onboarding", {PID_VCT: ["given_name"]}), {"nonce": ""}),
        ((RP, "onboarding", {PID_VCT: ["given_name"]}), {"nonce": "has space"}),
        (("has space", "onboarding", {PID_VCT: ["given_name"]}), {"nonce": "n"}),
        ((RP, "", {PID_VCT: ["given_name"]}), {"nonce": "n"}),
        ((RP, "onboarding", {}), {"nonce": "n"}),
        ((RP, "onboarding", {PID_VCT: []}), {"nonce": "n"}),
        ((RP, "onboarding", {PID_VCT: "given_name"}), {"nonce": "n"}),
        ((RP, "onboarding", {PID_VCT: ["a..b"]}), {"nonce": "n"}),
        (
            (
                RP,
                "onboarding",
                [CredentialQuery("q", PID_VCT, ("a",)), CredentialQuery("q", PID_VCT, ("b",))],
            ),
            {"nonce": "n"},
        ),
        ((RP, "onboarding", {f"urn:t:{i}": ["a"] for i in range(20)}), {"nonce": "n"}),
    ],
)
def test_malformed_requests(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Malformed presentation requests are refused before anything else happens."""
    assert _code(lambda: PresentationRequest.create(*args, **kwargs)) == "malformed"


def test_lowered_wallet_limits_are_enforced(setup: Setup, tmp_path: Path) -> None:
    """An operator's lower caps refuse what the defaults accept, with the same codes."""
    claims = {PID_VCT: ["given_name", "family_name"]}
    assert PresentationRequest.create(RP, "onboarding", claims, nonce="n")
    one_claim = Limits(claims_per_query=1)
    assert _code(
        lambda: PresentationRequest.create(RP, "onboarding", claims, nonce="n", limits=one_claim)
    ) == ("malformed")
    token = setup.pid()
    small = Wallet.open(setup.wallet.path, PASS, limits=Limits(credential_bytes=len(token) - 1))
    assert _code(lambda: small.add_credential(token)) == "too_large"
    tiny = Wallet.open(setup.wallet.path, PASS, limits=Limits(document_bytes=9))
    assert _code(lambda: tiny.sign_document(b"x" * 10)) == "too_large"
