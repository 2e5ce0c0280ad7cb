"""The issue-2 story in one process: a root, accredited authorities, registered relying parties,
a citizen's wallet; presentations verified against the published trust registry; revocation
and suspension refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.credential_types import (
    PID_VCT,
    RIGHT_TO_WORK_VCT,
    pid_claims,
    pid_disclosable,
    right_to_work_claims,
)
from civicstack.credentials import UnsafeSkipStatus, issue_credential, verify_presentation
from civicstack.errors import CivicError
from civicstack.testing import FixedClock
from civicstack.trust import (
    Authority,
    Purpose,
    RootAuthority,
    TrustRegistry,
    sign_accreditation,
    sign_registration,
    sign_revocation,
    sign_suspension,
)
from civicstack.wallet import ConsentSummary, CredentialQuery, PresentationRequest, Wallet

pytestmark = pytest.mark.slow

T0 = 1_767_225_600
YEAR = 365 * 86_400
FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
GOV = "https://gov.example"
EMPLOYER = "https://employer.example"
SHOP = "https://shop.example"
PID_NAMES = [
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
RTW_NAMES = ["given_name", "family_name", "right_to_work", "share_code", "valid_until"]


def _accredit(
    by: Authority, authority: str, scope: dict[str, list[str]], **rights: bool
) -> tuple[Authority, str]:
    key = PrivateKey.generate("ES256")
    token = sign_accreditation(
        by,
        authority=authority,
        name=authority.removeprefix("https://"),
        keys=[key.public_key],
        scope=scope,
        now=T0,
        exp=T0 + YEAR,
        **rights,
    )
    return Authority(authority, key), token


def test_the_whole_story(tmp_path: Path) -> None:
    """Root -> passport agency -> regional office issues a PID; home office issues right to
    work; a registrar registers an employer and a shop; the wallet presents with consent; the
    relying parties verify against the published registry; revocation and suspension bite."""
    clock = FixedClock(T0 + 3600)
    root_key = PrivateKey.generate("EdDSA")
    root = RootAuthority.create(GOV, "Government", [root_key.public_key])
    gov = Authority(GOV, root_key)
    registry = TrustRegistry([root])

    # The root accredits a passport agency, which accredits a regional office (depth 2), and
    # the home office; a registrar accredited to register relying parties.
    agency, token = _accredit(
        gov, "https://passports.example", {PID_VCT: PID_NAMES}, may_accredit=True
    )
    agency = Authority(agency.id, agency.key, registry.add_accreditation(token))
    regional, token = _accredit(agency, "https://leeds.passports.example", {PID_VCT: PID_NAMES})
    regional_acc = registry.add_accreditation(token)
    regional = Authority(regional.id, regional.key, regional_acc)
    home_office, token = _accredit(
        gov, "https://home-office.example", {RIGHT_TO_WORK_VCT: RTW_NAMES}
    )
    registry.add_accreditation(token)
    registrar, token = _accredit(gov, "https://registrar.example", {}, may_register=True)
    registrar = Authority(registrar.id, registrar.key, registry.add_accreditation(token))
    for rp, purpose in (
        (
            EMPLOYER,
            Purpose.create(
                "right_to_work",
                "Check you may work for us",
                {
                    RIGHT_TO_WORK_VCT: ["right_to_work", "valid_until"],
                    PID_VCT: ["given_name", "family_name"],
                },
            ),
        ),
        (SHOP, Purpose.create("age_check", "Sell you alcohol", {PID_VCT: ["age_over_18"]})),
    ):
        registry.register_relying_party(
            sign_registration(
                registrar,
                relying_party=rp,
                name=rp.removeprefix("https://"),
                keys=[PrivateKey.generate("EdDSA").public_key],
                purposes=[purpose],
                now=T0,
                exp=T0 + YEAR,
            )
        )

    # The citizen's wallet receives a PID and a right-to-work credential, checking each issuer.
    wallet = Wallet.create(tmp_path / "wallet", "s3cret passphrase", clock=clock, kdf=FAST_KDF)
    claims = pid_claims(
        given_name="Amara",
        family_name="Okafor",
        birthdate="1990-05-17",
        issuing_authority="Leeds Passport Office",
        issuing_country="GB",
        nationalities=["GB"],
        address={"street_address": "2 Park Row", "locality": "Leeds", "postal_code": "LS1 5HD"},
        now=T0,
    )
    pid = issue_credential(
        regional.key,
        iss=regional.id,
        vct=PID_VCT,
        claims=claims,
        holder=wallet.holder_key,
        disclosable=pid_disclosable(claims),
        iat=T0,
        exp=T0 + YEAR,
    )
    rtw = issue_credential(
        home_office.key,
        iss=home_office.id,
        vct=RIGHT_TO_WORK_VCT,
        claims=right_to_work_claims(
            given_name="Amara",
            family_name="Okafor",
            right_to_work=True,
            share_code="W4X 9KL 2PQ",
            valid_until="2030-01-01",
        ),
        holder=wallet.holder_key,
        iat=T0,
    )
    wallet.add_credential(pid, trust=registry)
    wallet.add_credential(rtw, trust=registry)

    # Relying parties verify against the registry as published (re-verified from JSON).
    published = TrustRegistry.from_json(registry.to_json(), [root])
    shown: list[ConsentSummary] = []

    def consent(summary: ConsentSummary) -> bool:
        shown.append(summary)
        return True

    request = PresentationRequest.create(
        EMPLOYER,
        "right_to_work",
        [
            CredentialQuery("rtw", RIGHT_TO_WORK_VCT, ("right_to_work", "valid_until")),
            CredentialQuery("name", PID_VCT, ("given_name", "family_name")),
        ],
        nonce="employer-nonce-1",
    )
    result = wallet.present(request, trust=published, consent=consent)
    rtw_seen = verify_presentation(
        result.tokens["rtw"],
        trust=published,
        aud=EMPLOYER,
        nonce="employer-nonce-1",
        now=clock.now(),
        status=UnsafeSkipStatus(),
    )
    name_seen = verify_presentation(
        result.tokens["name"],
        trust=published,
        aud=EMPLOYER,
        nonce="employer-nonce-1",
        now=clock.now(),
        status=UnsafeSkipStatus(),
    )
    assert rtw_seen.claims["right_to_work"] is True
    assert name_seen.claims == {"given_name": "Amara", "family_name": "Okafor"}
    assert shown[0].relying_party_name == "employer.example"
    assert shown[0].registrar == "https://registrar.example"

    shop_request = PresentationRequest.create(
        SHOP, "age_check", {PID_VCT: ["age_over_18"]}, nonce="shop-1"
    )
    shop_result = wallet.present(shop_request, trust=published, consent=consent)
    shop_seen = verify_presentation(
        shop_result.tokens[PID_VCT],
        trust=published,
        aud=SHOP,
        nonce="shop-1",
        now=clock.now(),
        status=UnsafeSkipStatus(),
    )
    assert shop_seen.claims == {"age_over_18": True}

    # The agency revokes the regional office: its PIDs stop verifying; the home office's do not.
    clock.advance(60)
    registry.revoke(sign_revocation(agency, regional_acc, now=clock.now(), reason="office closed"))
    again = wallet.present(
        PresentationRequest.create(SHOP, "age_check", {PID_VCT: ["age_over_18"]}, nonce="shop-2"),
        trust=registry,
        consent=consent,
    )
    with pytest.raises(CivicError) as err:
        verify_presentation(
            again.tokens[PID_VCT],
            trust=registry,
            aud=SHOP,
            nonce="shop-2",
            now=clock.now(),
            status=UnsafeSkipStatus(),
        )
    assert err.value.code == "accreditation_revoked"
    verify_presentation(
        result.tokens["rtw"],
        trust=registry,
        aud=EMPLOYER,
        nonce="employer-nonce-1",
        now=clock.now(),
        status=UnsafeSkipStatus(),
    )

    # The registrar suspends the shop: the wallet refuses it before asking the holder.
    registry.suspend_relying_party(
        sign_suspension(registrar, SHOP, now=clock.now(), reason="sold to minors")
    )
    asked = len(shown)
    with pytest.raises(CivicError) as err:
        wallet.present(
            PresentationRequest.create(
                SHOP, "age_check", {PID_VCT: ["age_over_18"]}, nonce="shop-3"
            ),
            trust=registry,
            consent=consent,
        )
    assert err.value.code == "relying_party_suspended"
    assert len(shown) == asked

    # The history tells the story.
    assert [(r.relying_party, r.outcome) for r in wallet.history()] == [
        (EMPLOYER, "presented"),
        (SHOP, "presented"),
        (SHOP, "presented"),
        (SHOP, "refused"),
    ]
