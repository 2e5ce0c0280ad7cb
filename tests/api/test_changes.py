"""Tell us once over HTTP, on SQLite and PostgreSQL: a citizen's signed change checked against
the registers and published with its roll move, consented subscribers told thin or full under
their pairwise ids, registrars' births and deaths, the check at 18, opt-outs, and the hostile
inputs around them (forged signature, wrong typ, unknown and ended addresses, a non-officer
signing for a company, a replayed nonce)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from civicstack._crypto import PrivateKey, sign_jwt
from civicstack.changes import (
    CHANGE_TYP,
    ELECTORAL_SECTOR,
    citizen_claims,
    ero_name,
    officer_entry,
    parse_change,
    registrar_claims,
)
from civicstack.consent import WITHDRAWAL_TYP, ConsentRequest, consent_claims, withdrawal_claims
from civicstack.credential_types import PID_VCT
from civicstack.credentials import present_credential
from civicstack.demo.story import AMARA as AMARA_PID
from civicstack.demo.world import seed_electoral_offices
from civicstack.log import Receipt
from civicstack.pairwise import Subject
from civicstack.registers.canonical import Item
from civicstack.registers.synthetic import FIELDS
from civicstack.testing import FixedClock
from tests.api.conftest import World

AMARA = Subject("GB", "QQ123456C")
CITIZEN_CLAIMS = ["personal_administrative_number", "issuing_country", "age_over_18"]
OLD, NEW, ENDED, COMPANY = "900000000001", "900000000002", "900000000003", "01234567"
OFFICER = officer_entry(AMARA_PID["given_name"], AMARA_PID["family_name"], AMARA_PID["birthdate"])


def seed_registers(world: World) -> None:
    """Two local authorities, three addresses (one ended), a company Amara is an officer of."""
    registers = world.platform.registers
    now = world.clock.now()
    registers.create_metadata_registers(now=now)

    def fields(*names: str) -> list[Any]:
        return [FIELDS[n] if n in FIELDS else _field(n) for n in names]

    registers.create_register(
        "local-authority-eng",
        fields("local-authority-eng", "name"),
        now=now,
        records=[
            ("LDS", [Item.of({"local-authority-eng": "LDS", "name": "Leeds"})]),
            ("YOR", [Item.of({"local-authority-eng": "YOR", "name": "York"})]),
        ],
    )

    def address(uprn: str, authority: str, **more: str) -> tuple[str, list[Item]]:
        return uprn, [
            Item.of(
                {
                    "address": uprn,
                    "street-address": "2 Park Row",
                    "post-town": "Leeds",
                    "postcode": "LS1 5HD",
                    "local-authority-eng": authority,
                    "start-date": "2000-01-01",
                    **more,
                }
            )
        ]

    registers.create_register(
        "address",
        fields(
            "address",
            "street-address",
            "post-town",
            "postcode",
            "local-authority-eng",
            "start-date",
            "end-date",
        ),
        now=now,
        records=[
            address(OLD, "LDS"),
            address(NEW, "YOR"),
            address(ENDED, "YOR", **{"end-date": "2010-01-01"}),
        ],
    )
    registers.create_register(
        "company",
        [*fields("company", "name", "registered-address"), FIELDS["officers"]],
        now=now,
        records=[
            (
                COMPANY,
                [
                    Item.of(
                        {
                            "company": COMPANY,
                            "name": "Okafor Logistics Ltd",
                            "registered-address": OLD,
                            "officers": [OFFICER, "SMITH, Ben (1970-01)"],
                        }
                    )
                ],
            )
        ],
    )
    seed_electoral_offices(world.platform, {"LDS": "Leeds", "YOR": "York"})


def _field(name: str) -> Any:
    from civicstack.registers.datatypes import Datatype
    from civicstack.registers.schema import Cardinality, Field

    return Field(name, Datatype.STRING, Cardinality.ONE, text=name, phase="alpha")


class Wallet:
    """A citizen's wallet reduced to what the services see: a PID and its key."""

    def __init__(self, world: World, claims: dict[str, Any] | None = None) -> None:
        self.world = world
        self.key = PrivateKey.generate()
        self.pid = world.platform.authorities.issue(
            "passport-office",
            vct=PID_VCT,
            claims=claims or AMARA_PID,
            holder=self.key.public_key,
        ).credential

    def proof(self, service: str = "changes", disclose: list[str] | None = None) -> dict[str, str]:
        got = self.world.client.post(f"/{service}/nonces")
        assert got.status_code == 201, got.text
        nonce, aud = got.json()["nonce"], got.json()["aud"]
        presentation = present_credential(
            self.pid,
            disclose=disclose or CITIZEN_CLAIMS,
            holder=self.key,
            aud=aud,
            nonce=nonce,
            now=self.world.clock.now(),
        )
        return {"presentation": presentation, "nonce": nonce, "aud": aud}

    def report(
        self,
        change: dict[str, Any],
        *,
        key: PrivateKey | None = None,
        typ: str = CHANGE_TYP,
        disclose: list[str] | None = None,
        proof: dict[str, str] | None = None,
        claims: dict[str, Any] | None = None,
    ) -> Any:
        proof = proof or self.proof(disclose=disclose)
        payload = claims or {
            "aud": proof["aud"],
            "nonce": proof["nonce"],
            "iat": self.world.clock.now(),
            "change": change,
        }
        signed = sign_jwt(key or self.key, payload, {"typ": typ})
        return self.world.client.post(
            "/changes",
            json={
                "report": signed,
                "presentation": proof["presentation"],
                "nonce": proof["nonce"],
            },
        )

    def consent_to(self, requester: str, purpose: str) -> dict[str, Any]:
        """Invite ``requester`` to ask (its tell-us-once purpose), then give that consent."""
        proof = self.proof("consents", ["personal_administrative_number", "issuing_country"])
        invited = self.world.client.post(
            "/consents/invitations",
            json={
                "presentation": proof["presentation"],
                "nonce": proof["nonce"],
                "requester": requester,
                "provider": "tell-us-once",
                "purpose": purpose,
            },
        )
        assert invited.status_code == 201, invited.text
        request = invited.json()
        proof = self.proof("consents", ["personal_administrative_number", "issuing_country"])
        claims = consent_claims(
            ConsentRequest.from_json(request),
            "given",
            aud=proof["aud"],
            nonce=proof["nonce"],
            iat=self.world.clock.now(),
        )
        answered = self.world.client.post(
            f"/consents/requests/{request['id']}/answer",
            json={
                "presentation": proof["presentation"],
                "nonce": proof["nonce"],
                "consent": sign_jwt(self.key, claims, {"typ": "civicstack-consent+jwt"}),
            },
        )
        assert answered.status_code == 201, answered.text
        record: dict[str, Any] = answered.json()
        return record


@pytest.fixture
def tuo(world: World) -> World:
    """The demo world with small registers and the two authorities' registration officers."""
    seed_registers(world)
    return world


def subscribe(world: World, organisation: str, types: list[str]) -> str:
    """A subscription of ``organisation`` (to an address no one listens at; fan-out only)."""
    world.platform.notifications.allow_private = True
    r = world.client.post(
        "/events/subscriptions",
        json={"organisation": organisation, "url": "http://127.0.0.1:9/hook", "types": types},
        headers=world.admin,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def bodies(world: World, subscription: str) -> list[dict[str, Any]]:
    """The CloudEvents planned for one endpoint, oldest first."""
    deliveries = world.platform.event_store.deliveries(subscription_ids=[subscription])
    return [json.loads(d.body) for d in reversed(deliveries)]


def roll(world: World, authority: str) -> list[dict[str, Any]]:
    r = world.client.get(f"/changes/electoral/{authority}/roll", headers=world.admin)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


ADDRESS = "uk.civicstack.address.changed"


def test_a_move_of_house_tells_the_consented_and_registers_the_citizen_to_vote(
    tuo: World,
) -> None:
    """Amara moves from Leeds to York: the report is published with one event; the council
    (full), the GP practice (thin, an exchange link) and York's registration officer are told,
    each under its own pairwise id; the bank, without consent, is not; she moves from Leeds's
    roll to York's; the report's status counts the deliveries."""
    amara = Wallet(tuo)
    council = subscribe(tuo, "council", [ADDRESS])
    gp = subscribe(tuo, "gp-newtown", [ADDRESS])
    bank = subscribe(tuo, "bank", [ADDRESS])
    york = subscribe(tuo, ero_name("YOR"), [ADDRESS])
    leeds = subscribe(tuo, ero_name("LDS"), [ADDRESS])
    amara.consent_to("council", "change_of_address")
    amara.consent_to("gp-newtown", "change_notices")

    first = amara.report({"kind": "address", "uprn": OLD})
    assert first.status_code == 201, first.text
    tuo.platform.notifications.fan_out(limit=100, now=tuo.clock.now())
    assert [e["subject"] for e in roll(tuo, "LDS")] == [
        tuo.platform.pairwise_id(ero_name("LDS"), AMARA)
    ]
    tuo.clock.advance(8 * 86_400)  # past the officers' "recently left" window

    moved = amara.report({"kind": "address", "uprn": NEW})
    assert moved.status_code == 201, moved.text
    status = moved.json()
    assert status["status"] == "published"
    assert status["fanned_out"] is False
    assert status["summary"] == "published, waiting to be sent"
    tuo.platform.notifications.fan_out(limit=100, now=tuo.clock.now())

    (told_council,) = bodies(tuo, council)[-1:]
    assert told_council["subject"] == tuo.platform.pairwise_id("council", AMARA)
    assert told_council["data"]["representation"] == "full"
    assert told_council["data"]["value"]["uprn"] == NEW
    assert told_council["data"]["value"]["address"]["local-authority-eng"] == "YOR"
    told_gp = bodies(tuo, gp)[-1]
    assert told_gp["subject"] == tuo.platform.pairwise_id("gp-newtown", AMARA)
    assert told_gp["data"]["representation"] == "thin"
    assert "value" not in told_gp["data"]
    assert told_gp["data"]["href"] == (
        "http://testserver/exchange/current/tell-us-once/dpv-pd%3APhysicalAddress/"
        + told_gp["subject"]
    )
    assert bodies(tuo, bank) == []
    told_york = bodies(tuo, york)
    assert [e["subject"] for e in told_york] == [tuo.platform.pairwise_id(ero_name("YOR"), AMARA)]
    assert told_york[0]["data"]["value"]["uprn"] == NEW
    assert len(bodies(tuo, leeds)) == 2  # the first report, and the move away (recent leaver)

    assert roll(tuo, "LDS") == []
    (elector,) = roll(tuo, "YOR")
    assert elector["uprn"] == NEW
    assert elector["subject"] == tuo.platform.pairwise_id(ero_name("YOR"), AMARA)

    followed = tuo.client.get(f"/changes/{status['id']}").json()
    assert followed["fanned_out"] is True
    assert followed["endpoints"] == 4
    assert followed["delivered"] == 0
    assert followed["summary"] == "published, delivered to 0 of 4"


def _as(world: World, organisation: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.platform.verifier.issue_api_key(organisation)[1]}"}


def test_a_thin_events_link_fetches_the_new_value_under_consent_logged(tuo: World) -> None:
    """The GP practice follows its thin event's link with its own API key and gets Amara's new
    address, released under her consent with a receipt and logged against her; after she
    withdraws, the same link is refused (logged); an organisation she gave no consent to is
    refused (logged, no consent named); one not registered for the category is refused as
    overasking; a bad subject is a 422, never a 500."""
    amara = Wallet(tuo)
    gp = subscribe(tuo, "gp-newtown", [ADDRESS])
    given = amara.consent_to("gp-newtown", "change_notices")
    assert amara.report({"kind": "address", "uprn": NEW}).status_code == 201
    tuo.platform.notifications.fan_out(limit=100, now=tuo.clock.now())
    href = bodies(tuo, gp)[-1]["data"]["href"]
    path = href.removeprefix("http://testserver")

    got = tuo.client.get(path, headers=_as(tuo, "gp-newtown"))
    assert got.status_code == 200, got.text
    released = got.json()
    assert released["outcome"] == "released"
    assert (released["provider"], released["service"]) == ("tell-us-once", "notices")
    value = released["data"]["dpv-pd:PhysicalAddress"]
    assert value["uprn"] == NEW
    assert value["address"]["local-authority-eng"] == "YOR"
    assert released["receipt"].startswith("c2sp.org/tlog-proof")
    entry = tuo.client.get(f"/access/entries/{released['log_index']}").json()
    assert (entry["requester"], entry["purpose"], entry["consent"]) == (
        "gp-newtown",
        "change_notices",
        given["id"],
    )
    assert entry["subject"] is not None

    bank = tuo.client.get(
        f"/exchange/current/tell-us-once/dpv-pd%3APhysicalAddress/"
        f"{tuo.platform.pairwise_id('council', AMARA)}",
        headers=_as(tuo, "council"),
    )
    assert bank.status_code == 404, bank.text
    assert bank.json()["code"] == "consent_not_found"
    refused_at = Receipt.parse(bank.json()["receipt"]).index
    logged = tuo.client.get(f"/access/entries/{refused_at}").json()
    assert (logged["requester"], logged["outcome"], logged["consent"]) == (
        "council",
        "refused",
        None,
    )

    unregistered = tuo.client.get(
        path.replace("dpv-pd%3APhysicalAddress", "dpv-pd%3ALifeHistory"),
        headers=_as(tuo, "gp-newtown"),
    )
    assert unregistered.status_code == 403
    assert unregistered.json()["code"] == "overasking"

    for bad in ("not a pairwise id", "x" * 100):
        r = tuo.client.get(
            "/exchange/current/tell-us-once/dpv-pd%3APhysicalAddress/" + bad,
            headers=_as(tuo, "gp-newtown"),
        )
        assert r.status_code in (400, 422), r.text
    assert tuo.client.get(path).status_code == 401

    stored = tuo.platform.consents.store.latest(given["id"])
    withdrawal = sign_jwt(
        amara.key,
        withdrawal_claims(stored, aud=tuo.platform.consents.audience, iat=tuo.clock.now()),
        {"typ": WITHDRAWAL_TYP},
    )
    out = tuo.client.post(
        f"/consents/records/{given['id']}/withdraw", json={"withdrawal": withdrawal}
    )
    assert out.status_code == 200, out.text
    refused = tuo.client.get(path, headers=_as(tuo, "gp-newtown"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "consent_not_active"
    assert "receipt" in refused.json()


def test_a_suspended_organisation_following_its_link_is_refused_and_logged(tuo: World) -> None:
    """A GP practice suspended after it was told follows the thin event's link: refused as
    ``relying_party_suspended``, with the receipt of the log entry that records the attempt
    against the purpose it was registered for; reinstated, it fetches again."""
    amara = Wallet(tuo)
    gp = subscribe(tuo, "gp-newtown", [ADDRESS])
    given = amara.consent_to("gp-newtown", "change_notices")
    assert amara.report({"kind": "address", "uprn": NEW}).status_code == 201
    tuo.platform.notifications.fan_out(limit=100, now=tuo.clock.now())
    path = bodies(tuo, gp)[-1]["data"]["href"].removeprefix("http://testserver")
    tuo.platform.authorities.suspend("gp-newtown", reason="under investigation")

    refused = tuo.client.get(path, headers=_as(tuo, "gp-newtown"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "relying_party_suspended"
    at = Receipt.parse(refused.json()["receipt"]).index
    logged = tuo.client.get(f"/access/entries/{at}").json()
    assert (logged["requester"], logged["purpose"], logged["outcome"]) == (
        "gp-newtown",
        "change_notices",
        "refused",
    )
    assert (logged["refusal"], logged["consent"]) == ("relying_party_suspended", given["id"])
    assert logged["subject"] is not None

    tuo.clock.advance(1)
    tuo.platform.authorities.suspend("gp-newtown", reason="cleared", suspended=False)
    again = tuo.client.get(path, headers=_as(tuo, "gp-newtown"))
    assert again.status_code == 200, again.text


def test_the_report_and_its_event_commit_together(tuo: World) -> None:
    """A report refused by the registers leaves no report, no event and no roll entry."""
    amara = Wallet(tuo)
    before = tuo.platform.event_store.outbox_size()
    r = amara.report({"kind": "address", "uprn": "999999999999"})
    assert r.status_code == 400
    assert r.json()["code"] == "unknown_address"
    assert tuo.platform.event_store.outbox_size() == before
    ok = amara.report({"kind": "address", "uprn": OLD})
    assert ok.status_code == 201
    assert tuo.platform.event_store.outbox_size() == before + 1
    # the PID presentation kept with the report (it names her) is sealed at rest
    reports = sa.table("change_reports", sa.column("id"), sa.column("presentation"))
    with tuo.platform.engine.connect() as conn:
        kept = conn.execute(
            sa.select(reports.c.presentation).where(reports.c.id == ok.json()["id"])
        ).scalar_one()
    assert kept.startswith("sealed:")
    assert tuo.platform.change_store.report(ok.json()["id"]).presentation.count("~") >= 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"kind": "address", "uprn": "999999999999"}, "unknown_address"),
        ({"kind": "address", "uprn": ENDED}, "address_ended"),
        ({"kind": "address", "uprn": "12ab"}, "invalid_change"),
        ({"kind": "address", "uprn": OLD, "extra": "x"}, "invalid_change"),
        ({"kind": "birth", "country": "GB", "number": "X1", "given_name": "A",
          "family_name": "B", "birthdate": "2020-01-01", "uprn": OLD}, "invalid_change"),
        ({"kind": "teleport"}, "invalid_change"),
        ({"kind": "registered-office", "company": "99999999", "uprn": NEW}, "unknown_company"),
    ],
)  # fmt: skip
def test_bad_changes_are_refused_with_their_code(
    tuo: World, change: dict[str, Any], code: str
) -> None:
    """Unknown or ended addresses, malformed fields, a registrar's kind, an unknown company."""
    r = Wallet(tuo).report(change)
    assert r.status_code in (400, 403), r.text
    assert r.json()["code"] == code


def test_forged_wrong_typ_replayed_and_misbound_reports_are_refused(tuo: World) -> None:
    """A signature by another key, another typ, a replayed nonce, another nonce in the payload."""
    amara = Wallet(tuo)
    change = {"kind": "address", "uprn": OLD}
    forged = amara.report(change, key=PrivateKey.generate())
    assert forged.json()["code"] == "invalid_signature"
    typed = amara.report(change, typ="civicstack-consent+jwt")
    assert typed.json()["code"] == "invalid_change"
    proof = amara.proof()
    assert amara.report(change, proof=proof).status_code == 201
    replayed = amara.report(change, proof=proof)
    assert replayed.status_code == 409
    assert replayed.json()["code"] == "replayed"
    other = amara.proof()
    misbound = amara.report(
        change,
        proof=other,
        claims={"aud": other["aud"], "nonce": "n" * 20, "iat": tuo.clock.now(), "change": change},
    )
    assert misbound.json()["code"] == "invalid_change"
    late = amara.proof()
    stale = amara.report(
        change,
        proof=late,
        claims={"aud": late["aud"], "nonce": late["nonce"], "iat": tuo.clock.now() - 3600,
                "change": change},
    )  # fmt: skip
    assert stale.json()["code"] == "invalid_change"
    not_json = tuo.client.post("/changes", json={"report": "x" * 10, "nonce": "n"})
    assert not_json.status_code == 400


def test_only_an_officer_reports_a_company_move(tuo: World) -> None:
    """Amara (an officer) moves her company's registered office; Ben Smith, who is not the
    one the register names (another birth date), is refused; an undisclosed name is refused."""
    officer = ["personal_administrative_number", "issuing_country", "given_name",
               "family_name", "birthdate"]  # fmt: skip
    change = {"kind": "registered-office", "company": COMPANY, "uprn": NEW}
    ok = Wallet(tuo).report(change, disclose=officer)
    assert ok.status_code == 201, ok.text
    someone = {
        **AMARA_PID,
        "given_name": "Ben",
        "family_name": "Smith",
        "birthdate": "1971-01-01",
        "personal_administrative_number": "QQ000001A",
    }
    refused = Wallet(tuo, someone).report(change, disclose=officer)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_an_officer"
    hidden = Wallet(tuo).report(change)
    assert hidden.json()["code"] == "not_an_officer"


def test_a_registered_birth_joins_the_roll_at_18_and_a_death_leaves_it(tuo: World) -> None:
    """The registrar registers a birth (admin acting for it); the check at 18 places the
    child on their home authority's roll on the birthday, not before; a death removes them;
    a replayed registrar report and a wallet-signed birth are refused."""
    child = {"kind": "birth", "country": "GB", "number": "QQ777777B", "given_name": "Ada",
             "family_name": "Okafor", "birthdate": "2008-03-01", "uprn": OLD}  # fmt: skip
    r = tuo.client.post(
        "/changes/registrations",
        json={"registrar": "registrar", "change": child},
        headers=tuo.admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["event"]["type"] == "uk.civicstack.birth.registered"
    assert tuo.client.post("/changes/registrations", json={"registrar": "registrar",
                           "change": child}).status_code == 401  # fmt: skip
    eighteen = 1_204_329_600 + 18 * 365 * 86_400  # roughly; the store uses the exact date
    electoral = tuo.platform.electoral
    assert electoral.coming_of_age(now=eighteen - 10 * 86_400) == 0
    assert roll(tuo, "LDS") == []
    from civicstack.changes import adult_at

    assert electoral.coming_of_age(now=adult_at("2008-03-01")) == 1
    assert [e["subject"] for e in roll(tuo, "LDS")] == [
        tuo.platform.pairwise_id(ero_name("LDS"), Subject("GB", "QQ777777B"))
    ]
    assert electoral.coming_of_age(now=adult_at("2008-03-01") + 1) == 0

    death = {"kind": "death", "country": "GB", "number": "QQ777777B", "date": "2024-01-01"}
    gone = tuo.client.post(
        "/changes/registrations",
        json={"registrar": "registrar", "change": death},
        headers=tuo.admin,
    )
    assert gone.status_code == 201, gone.text
    assert roll(tuo, "LDS") == []


def test_a_registrar_report_is_checked_against_its_accreditation(tuo: World) -> None:
    """A registrar's own JWS verifies and is used once (``replayed``); one signed by an
    authority not accredited for births is ``out_of_scope``; an unknown issuer is untrusted."""
    platform = tuo.platform
    now = tuo.clock.now()
    change = parse_change({"kind": "death", "country": "GB", "number": "QQ1", "date": "2024-01-01"})
    registrar = platform.authorities.signer("registrar", now=now)
    claims = registrar_claims(change, iss=registrar.id, jti="jti-1", iat=now)
    header = {"typ": CHANGE_TYP, "kid": registrar.key.public_key.thumbprint()}
    signed = sign_jwt(registrar.key, claims, header)
    assert tuo.client.post("/changes", json={"report": signed}).status_code == 201
    again = tuo.client.post("/changes", json={"report": signed})
    assert again.status_code == 409
    assert again.json()["code"] == "replayed"
    home = platform.authorities.signer("home-office", now=now)
    claims = registrar_claims(change, iss=home.id, jti="jti-2", iat=now)
    forged = sign_jwt(
        home.key, claims, {"typ": CHANGE_TYP, "kid": home.key.public_key.thumbprint()}
    )
    out = tuo.client.post("/changes", json={"report": forged})
    assert out.json()["code"] == "out_of_scope"
    claims = registrar_claims(change, iss="https://nowhere.example", jti="j", iat=now)
    nobody = sign_jwt(PrivateKey.generate(), claims, {"typ": CHANGE_TYP})
    assert tuo.client.post("/changes", json={"report": nobody}).json()["code"] == "untrusted_issuer"


def test_an_opt_out_is_kept_and_honoured(tuo: World) -> None:
    """Opting out takes Amara off the roll at once and keeps her off when she moves; her
    registration officer is no longer told; opting back in puts her back."""
    amara = Wallet(tuo)
    assert amara.report({"kind": "address", "uprn": OLD}).status_code == 201
    assert len(roll(tuo, "LDS")) == 1
    proof = amara.proof()
    out = tuo.client.post(
        "/changes/electoral/opt-out",
        json={"presentation": proof["presentation"], "nonce": proof["nonce"]},
    )
    assert out.status_code == 200
    assert out.json()["opted_out"] is True
    assert roll(tuo, "LDS") == []
    tuo.clock.advance(8 * 86_400)
    assert amara.report({"kind": "address", "uprn": NEW}).status_code == 201
    assert roll(tuo, "YOR") == []
    assert (
        tuo.platform.electoral.covers(ero_name("YOR"), AMARA, ADDRESS, now=tuo.clock.now()) is None
    )
    proof = amara.proof()
    back = tuo.client.post(
        "/changes/electoral/opt-in",
        json={"presentation": proof["presentation"], "nonce": proof["nonce"]},
    )
    assert back.status_code == 200, back.text
    assert back.json()["registered"] is True
    assert back.json()["authority"] == "LDS"


def test_a_roll_cursor_beyond_its_column_is_refused_not_a_server_error(tuo: World) -> None:
    """Regression (schemathesis, PostgreSQL): ``after`` past the 32-bit sequence was a 500."""
    top = tuo.client.get(f"/changes/electoral/YOR/roll?after={2**31 - 1}", headers=tuo.admin)
    assert top.status_code == 200, top.text
    assert top.json() == []
    over = tuo.client.get(f"/changes/electoral/YOR/roll?after={2**31}", headers=tuo.admin)
    assert over.status_code == 400, over.text
    assert over.json()["code"] == "invalid_request"


def test_the_roll_is_the_officers_and_the_admins_alone(tuo: World) -> None:
    """No token: 401; another relying party's API key: 403; an unknown report: 404."""
    assert tuo.client.get("/changes/electoral/LDS/roll").status_code == 401
    _, bank = tuo.platform.verifier.issue_api_key("bank")
    r = tuo.client.get("/changes/electoral/LDS/roll", headers={"Authorization": f"Bearer {bank}"})
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    _, officer = tuo.platform.verifier.issue_api_key(ero_name("LDS"))
    own = tuo.client.get(
        "/changes/electoral/LDS/roll", headers={"Authorization": f"Bearer {officer}"}
    )
    assert own.status_code == 200
    assert own.json() == []
    assert tuo.client.get("/changes/abcdef").json()["code"] == "change_not_found"
    assert json.loads(tuo.client.get("/changes/kinds").text)["address"]["category"] == (
        "dpv-pd:PhysicalAddress"
    )


def test_elector_handles_are_the_roll_sector(tuo: World, clock: FixedClock) -> None:
    """The roll finds a citizen by the reserved sector's id, never by an organisation's."""
    amara = Wallet(tuo)
    assert amara.report({"kind": "address", "uprn": OLD}).status_code == 201
    elector = tuo.platform.pairwise_id(ELECTORAL_SECTOR, AMARA)
    entry = tuo.platform.change_store.current_entry(elector)
    assert entry is not None
    assert entry.authority == "LDS"
    _ = citizen_claims
