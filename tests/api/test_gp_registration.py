"""GP switching over HTTP, on SQLite and PostgreSQL: a practice chosen from the gp-practice
register takes over the record under the patient's consent (logged, with a receipt), relatives
are asked through their own inboxes, and only a relative who consented has anything shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from civicstack.access import parse_entry
from civicstack.demo.world import (
    DEMO_CITIZENS,
    GP_PROVIDER,
    GP_REQUESTER,
    seed_exchange_world,
    seed_gp_practices,
)
from civicstack.log import NoteVerifier, Receipt, verify_receipt
from civicstack.pairwise import Subject
from civicstack.registers.canonical import Item
from civicstack.registers.synthetic import SyntheticSizes
from civicstack.services.gp_registration import FAMILY_CATEGORY, RECORD_CATEGORIES
from civicstack.services.registers.seed import seed_registers
from civicstack.testing import ConsentGiver, FixedClock

from .conftest import World, make_world

AMARA, MOTHER, BROTHER = (Subject(*c) for c in DEMO_CITIZENS)
SMALL = SyntheticSizes(addresses=50, companies=20, labour_providers=10, gp_practices=40)


class Switch:
    """The demo world with a small gp-practice register, the practices tied to it, keys."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.platform = p = world.platform
        seed_registers(p.registers, archive=None, now=world.clock.now(), sizes=SMALL)
        seed_exchange_world(p)
        self.codes = seed_gp_practices(p)
        self.giver = ConsentGiver(p)
        self.gp = {"Authorization": f"Bearer {p.verifier.issue_api_key(GP_REQUESTER)[1]}"}

    def consent(self) -> str:
        """Amara's consent for the new practice to take over her record from the old one."""
        return self.giver.give(
            AMARA,
            requester=GP_REQUESTER,
            provider=GP_PROVIDER,
            purpose="patient_registration",
            categories=RECORD_CATEGORIES,
        )

    def body(self, **change: Any) -> dict[str, Any]:
        """A registration of Amara naming her mother and brother (at the old practice)."""
        relatives = [
            {
                "issuing_country": s.country,
                "personal_administrative_number": s.number,
                "relationship": rel,
                "practice": self.codes[GP_PROVIDER],
            }
            for s, rel in ((MOTHER, "mother"), (BROTHER, "brother"))
        ]
        body: dict[str, Any] = {
            "practice": self.codes[GP_REQUESTER],
            "previous_practice": self.codes[GP_PROVIDER],
            "subject": self.platform.pairwise_id(GP_REQUESTER, AMARA),
            "consent": change.pop("consent", None) or self.consent(),
            "relatives": relatives,
        }
        body.update(change)
        return body

    def register(self, **change: Any) -> Any:
        """POST /gp/registrations as the new practice."""
        return self.world.client.post(
            "/gp/registrations", json=self.body(**change), headers=self.gp
        )

    def set_practice(self, code: str, **fields: str) -> None:
        """A new version of a practice's register record (through the register's own log)."""
        head = self.platform.registers.head("gp-practice")
        (row,) = self.platform.registers.records(head, where=[("gp-practice", code)], limit=1)
        item = Item.of({**row.record().item.fields, **fields})
        self.platform.registers.append("gp-practice", [(code, [item])], now=self.world.clock.now())


@pytest.fixture
def sw(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Switch]:
    """The switching world, on SQLite then PostgreSQL."""
    w = make_world(database_url, tmp_path, clock)
    with w.client:
        yield Switch(w)
    w.platform.close()


def test_practices_are_register_keys_open_and_accepting(sw: Switch) -> None:
    """Both demo practices are gp-practice keys, open and accepting new patients."""
    listed = sw.world.client.get("/gp/practices").json()
    assert {p["organisation"]: p["ods_code"] for p in listed} == sw.codes
    assert all(p["open"] and p["accepting_new_patients"] for p in listed)


def test_a_switch_moves_the_record_and_shares_only_a_consenting_relatives_history(
    sw: Switch,
) -> None:
    """The record comes with a receipt that verifies; the mother gives, the brother refuses:
    only the mother's family history is shared."""
    r = sw.register()
    assert r.status_code == 201, r.text
    reg = r.json()
    assert set(reg["record"]) == set(RECORD_CATEGORIES)
    verifier = NoteVerifier.parse(sw.world.client.get("/access").json()["verifier_key"])
    receipt = Receipt.parse(reg["receipt"])
    verify_receipt(receipt, [verifier])
    entry = parse_entry(receipt.extra or b"")
    assert (entry.requester, entry.provider, entry.outcome) == (
        GP_REQUESTER,
        GP_PROVIDER,
        "released",
    )
    asked = {a["relationship"]: a["consent_request"] for a in reg["relatives"]}
    # each relative finds the request in their own inbox and answers it with their own key
    for who, rel, decision in ((MOTHER, "mother", "given"), (BROTHER, "brother", "refused")):
        request = sw.platform.consent_store.request(asked[rel])
        assert request.subject == sw.platform.pairwise_id(GP_REQUESTER, who)
        assert request.categories == (FAMILY_CATEGORY,)
        sw.giver.answer(who, request, decision)
    answered = sw.world.client.post(f"/gp/registrations/{reg['id']}/family-history", headers=sw.gp)
    assert answered.status_code == 200, answered.text
    by = {s["relationship"]: s for s in answered.json()}
    assert by["mother"]["state"] == "given"
    assert set(by["mother"]["data"]) == {FAMILY_CATEGORY}
    verify_receipt(Receipt.parse(by["mother"]["receipt"]), [verifier])
    assert by["brother"] == {
        "relationship": "brother",
        "state": "refused",
        "data": None,
        "receipt": None,
        "refusal": None,
    }
    # the mother's consent was for once: asking again is refused by the exchange, logged
    again = sw.world.client.post(
        f"/gp/registrations/{reg['id']}/family-history", headers=sw.gp
    ).json()
    assert {s["relationship"]: s["refusal"] for s in again}["mother"] == "consent_not_active"
    got = sw.world.client.get(f"/gp/registrations/{reg['id']}", headers=sw.gp)
    assert got.status_code == 200
    assert got.json()["log_index"] == reg["log_index"]


def test_a_closed_or_full_or_unknown_practice_is_refused(sw: Switch) -> None:
    """Only an open practice accepting new patients, known to the register, can be chosen."""
    consent = sw.consent()
    r = sw.register(consent=consent, practice="ZZZ999")
    assert (r.status_code, r.json()["code"]) == (404, "practice_unknown")
    sw.set_practice(sw.codes[GP_REQUESTER], **{"accepting-new-patients": "false"})
    r = sw.register(consent=consent)
    assert (r.status_code, r.json()["code"]) == (409, "practice_not_accepting")
    sw.set_practice(
        sw.codes[GP_REQUESTER], **{"accepting-new-patients": "true", "end-date": "2026-01-01"}
    )
    r = sw.register(consent=consent)
    assert (r.status_code, r.json()["code"]) == (409, "practice_closed")


def test_without_the_patients_consent_nothing_moves(sw: Switch) -> None:
    """An unknown or withdrawn consent is refused by the exchange (logged), no registration."""
    before = sw.world.client.get("/access").json()["size"]
    r = sw.register(consent="no-such-consent")
    assert (r.status_code, r.json()["code"]) == (404, "consent_not_found")
    assert "receipt" in r.json()
    consent = sw.consent()
    sw.giver.withdraw(consent)
    r = sw.register(consent=consent)
    assert (r.status_code, r.json()["code"]) == (403, "consent_not_active")
    # Two refusals logged, each batch ending with the subject map's root.
    assert sw.world.client.get("/access").json()["size"] == before + 4
    assert sw.platform.consent_store.pending_requesters(sw.world.clock.now(), limit=10) == []


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"subject": "!" * 43}, "invalid_request", 400),
        ({"practice": "lower"}, "invalid_request", 400),
        ({"relatives": [{"relationship": "mother"}]}, "invalid_request", 400),
        ({"unknown": 1}, "invalid_request", 400),
    ],
)
def test_bad_registrations_are_refused(
    sw: Switch, change: dict[str, Any], code: str, status: int
) -> None:
    """Malformed registrations answer stable codes, nothing logged."""
    before = sw.world.client.get("/access").json()["size"]
    r = sw.register(consent="c-1", **change)
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert sw.world.client.get("/access").json()["size"] == before


def test_another_organisation_cannot_register_as_the_practice(sw: Switch) -> None:
    """The insurer's key cannot act as the chosen practice; an unknown relative is no_record."""
    insurer = {"Authorization": f"Bearer {sw.platform.verifier.issue_api_key('insurer')[1]}"}
    r = sw.world.client.post("/gp/registrations", json=sw.body(), headers=insurer)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    stranger = {
        "issuing_country": "GB",
        "personal_administrative_number": "ZZ999999Z",
        "relationship": "father",
        "practice": sw.codes[GP_PROVIDER],
    }
    r = sw.register(relatives=[stranger])
    assert (r.status_code, r.json()["code"]) == (404, "no_record")
