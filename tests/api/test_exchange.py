"""The data exchange over HTTP, on SQLite and PostgreSQL: releases only after the access log
holds the access, refusals logged without data, bad inputs refused with stable codes.

Consents are real: asked by the requester and answered by the citizen's PID-bound key through
the consent service (:class:`civicstack.testing.ConsentGiver`)."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from civicstack._crypto import b64url_encode
from civicstack.access import parse_entry, subject_key, subject_tag
from civicstack.demo.world import DEMO_CITIZENS, seed_exchange_world
from civicstack.errors import CivicError
from civicstack.log import NoteVerifier, Receipt, verify_receipt
from civicstack.pairwise import ACCESS_LOG_SECTOR, Subject
from civicstack.services.exchange import AccessRefusedError, FetchRequest, Released
from civicstack.services.verifier import Caller
from civicstack.testing import ConsentGiver, FixedClock

from .conftest import World, make_world

AMARA = Subject(*DEMO_CITIZENS[0])
DRIVING = ["dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"]


class Exchange:
    """A seeded world with the exchange, consents given through the consent service and API
    keys for the requesters."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.platform = world.platform
        self.consents = ConsentGiver(self.platform)
        seed_exchange_world(self.platform)
        self.keys = {
            rp: {"Authorization": f"Bearer {self.platform.verifier.issue_api_key(rp)[1]}"}
            for rp in ("insurer", "council", "gp-newtown", "shop")
        }

    def sid(self, sector: str, subject: Subject = AMARA) -> str:
        """``sector``'s pairwise id of ``subject``."""
        return self.platform.pairwise_id(sector, subject)

    def give(self, **kw: Any) -> str:
        """A consent Amara gives the insurer for her driving record (overridable)."""
        args: dict[str, Any] = {
            "requester": "insurer",
            "provider": "dvla",
            "purpose": "insurance_quote",
            "categories": DRIVING,
        }
        args.update(kw)
        subject = args.pop("subject", AMARA)
        return self.consents.give(subject, **args)

    def fetch(self, consent: str, *, as_: str = "insurer", **kw: Any) -> Any:
        """POST /exchange/fetch as ``as_``."""
        body: dict[str, Any] = {
            "consent": consent,
            "provider": "dvla",
            "service": "driving-record",
            "purpose": "insurance_quote",
            "subject": self.sid(as_),
            "categories": DRIVING,
        }
        body.update(kw)
        return self.world.client.post("/exchange/fetch", json=body, headers=self.keys[as_])

    def log_size(self) -> int:
        """How many accesses the access log holds (each batch of accesses ends with one more
        leaf, the subject map's root; these tests log one access per batch)."""
        return int(self.world.client.get("/access").json()["size"]) // 2


@pytest.fixture
def ex(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Exchange]:
    """The demo world with the exchange, on SQLite then PostgreSQL."""
    w = make_world(database_url, tmp_path, clock)
    with w.client:
        yield Exchange(w)
    w.platform.close()


def _verifier(ex: Exchange) -> NoteVerifier:
    return NoteVerifier.parse(ex.world.client.get("/access").json()["verifier_key"])


def test_a_consented_fetch_is_released_with_a_receipt_of_its_log_entry(ex: Exchange) -> None:
    """The data comes with a tlog-proof whose entry names the access and Amara's tag only."""
    consent = ex.give()
    r = ex.fetch(consent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["data"]) == set(DRIVING)  # only the categories asked, not the conviction
    receipt = Receipt.parse(body["receipt"])
    verified = verify_receipt(receipt, [_verifier(ex)])
    entry = parse_entry(receipt.extra or b"")
    assert (entry.requester, entry.provider, entry.outcome) == ("insurer", "dvla", "released")
    assert entry.consent == consent
    assert entry.categories == tuple(sorted(DRIVING))
    key = subject_key(ex.sid(ACCESS_LOG_SECTOR))
    assert entry.subject is not None
    assert entry.subject.tag == b64url_encode(subject_tag(key, 0))
    assert verified.index == body["log_index"] == 0
    # the entry is in the served log, and the second access is the subject's counter 1
    second = ex.fetch(consent).json()
    nxt = parse_entry(Receipt.parse(second["receipt"]).extra or b"")
    assert nxt.subject is not None
    assert nxt.subject.tag == b64url_encode(subject_tag(key, 1))
    served = ex.world.client.get(f"/access/entries/{second['log_index']}").json()
    assert served["outcome"] == "released"
    assert served["subject"]["tag"] == nxt.subject.tag


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"consent": "consent-999"}, "consent_not_found", 404),
        ({"categories": ["dpv-pd:CriminalConviction"]}, "outside_consent", 403),
        ({"purpose": "identity"}, "overasking", 403),
        ({"categories": ["dpv-pd:Income"]}, "overasking", 403),
        ({"provider": "nobody", "service": "nothing"}, "overasking", 403),
    ],
)
def test_refusals_are_logged_without_data(
    ex: Exchange, change: dict[str, Any], code: str, status: int
) -> None:
    """A refused fetch releases nothing, answers its stable code, and is in the log."""
    consent = ex.give()
    before = ex.log_size()
    change = dict(change)
    r = ex.fetch(change.pop("consent", consent), **change)
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert "data" not in r.json()
    entry = parse_entry(Receipt.parse(r.json()["receipt"]).extra or b"")
    assert (entry.outcome, entry.refusal) == ("refused", code)
    assert entry.subject is not None  # the insurer met Amara through her consent
    assert ex.log_size() == before + 1


def test_a_withdrawn_consent_is_refused_and_logged(ex: Exchange) -> None:
    """After withdrawal the same fetch is consent_not_active, logged against Amara."""
    consent = ex.give()
    assert ex.fetch(consent).status_code == 200
    ex.consents.withdraw(consent)
    r = ex.fetch(consent)
    assert (r.status_code, r.json()["code"]) == (403, "consent_not_active")
    entry = parse_entry(Receipt.parse(r.json()["receipt"]).extra or b"")
    key = subject_key(ex.sid(ACCESS_LOG_SECTOR))
    assert entry.subject is not None
    assert entry.subject.tag == b64url_encode(subject_tag(key, 1))


def test_another_requesters_consent_and_a_suspended_requester_are_refused(ex: Exchange) -> None:
    """The council cannot use the insurer's consent; a suspended insurer is refused, logged."""
    consent = ex.give()
    r = ex.fetch(
        consent,
        as_="council",
        provider="hmrc",
        service="tax-summary",
        purpose="council_tax_reduction",
        categories=["dpv-pd:Income"],
    )
    assert (r.status_code, r.json()["code"]) == (403, "outside_consent")
    ex.platform.authorities.suspend("insurer", reason="under investigation")
    r = ex.fetch(consent)
    assert (r.status_code, r.json()["code"]) == (403, "relying_party_suspended")
    assert parse_entry(Receipt.parse(r.json()["receipt"]).extra or b"").refusal == (
        "relying_party_suspended"
    )


def test_a_once_consent_is_used_up_only_by_a_release(ex: Exchange) -> None:
    """A consent for one access survives a fetch that finds no record (refused, logged), is
    used up by the fetch that releases, and refuses the next one."""
    newcomer = Subject("GB", "ZZ123456A")
    consent = ex.give(subject=newcomer, once=True)
    subject = ex.sid("insurer", newcomer)
    first = ex.fetch(consent, subject=subject)
    assert first.status_code == 404, first.text
    assert first.json()["code"] == "no_record"
    written = ex.world.client.put(
        "/exchange/services/dvla/driving-record/records",
        json={"records": [{"subject": ex.sid("dvla", newcomer), "record": {DRIVING[0]: "B"}}]},
        headers=ex.world.admin,
    )
    assert written.status_code == 200, written.text
    second = ex.fetch(consent, subject=subject)
    assert second.status_code == 200, second.text
    assert second.json()["data"] == {DRIVING[0]: "B"}
    third = ex.fetch(consent, subject=subject)
    assert third.status_code == 403, third.text
    assert third.json()["code"] == "consent_not_active"


def test_fetches_started_in_one_turn_each_get_their_own_citizens_record(ex: Exchange) -> None:
    """Fetches an event loop starts in one turn read their consents together and their records
    together: each gets its own citizen's record, and an unknown consent among them is refused
    (and logged) while the others are released."""
    citizens = [Subject(*c) for c in DEMO_CITIZENS[:3]]
    consents = [ex.give(subject=c) for c in citizens]
    service = ex.platform.exchange

    def request(consent: str, citizen: Subject) -> FetchRequest:
        return FetchRequest(
            consent, "dvla", "driving-record", "insurance_quote",
            ex.sid("insurer", citizen), tuple(sorted(DRIVING)),
        )  # fmt: skip

    async def all_at_once() -> list[Any]:
        asked = [request(c, s) for c, s in zip(consents, citizens, strict=True)]
        asked.insert(1, request("consent-999", citizens[0]))
        return await asyncio.gather(
            *(service.fetch_async(Caller("insurer"), r) for r in asked), return_exceptions=True
        )

    released = asyncio.run(all_at_once())
    refused = released.pop(1)
    assert isinstance(refused, AccessRefusedError)
    assert refused.code == "consent_not_found"
    for got, citizen in zip(released, citizens, strict=True):
        assert isinstance(got, Released), got
        stored = service.services.record("dvla", "driving-record", ex.sid("dvla", citizen))
        assert stored is not None
        assert got.data == {c: v for c, v in json.loads(stored).items() if c in DRIVING}
    assert len({json.dumps(got.data, sort_keys=True) for got in released}) == len(citizens)


def test_a_consent_that_cannot_be_read_fails_only_its_own_fetch(ex: Exchange) -> None:
    """A consent record whose sealed presentation does not open (moved from another record)
    fails its own fetch with ``internal_error``; a fetch read in the same turn is released."""
    citizens = [Subject(*c) for c in DEMO_CITIZENS[:2]]
    broken, fine = (ex.give(subject=c) for c in citizens)
    versions = sa.table("consent_versions", sa.column("consent_id"), sa.column("record"))
    with ex.platform.engine.begin() as conn:
        rows = dict(conn.execute(sa.select(versions.c.consent_id, versions.c.record)).all())
        moved = json.loads(rows[broken])
        moved["presentation"] = json.loads(rows[fine])["presentation"]
        conn.execute(
            sa.update(versions)
            .where(versions.c.consent_id == broken)
            .values(record=json.dumps(moved, separators=(",", ":")))
        )
    service = ex.platform.exchange

    async def both() -> list[Any]:
        asked = [
            FetchRequest(
                c,
                "dvla",
                "driving-record",
                "insurance_quote",
                ex.sid("insurer", s),
                tuple(sorted(DRIVING)),
            )
            for c, s in ((broken, citizens[0]), (fine, citizens[1]))
        ]
        return await asyncio.gather(
            *(service.fetch_async(Caller("insurer"), r) for r in asked), return_exceptions=True
        )

    failed, released = asyncio.run(both())
    assert isinstance(failed, CivicError)
    assert failed.code == "internal_error"
    assert isinstance(released, Released), released


def test_an_unknown_citizen_is_logged_without_a_subject(ex: Exchange) -> None:
    """A fetch about someone the platform never met through a consent has no subject mark."""
    stranger = Subject("GB", "QQ999999Z")
    r = ex.fetch("consent-1", subject=ex.sid("insurer", stranger))
    assert r.json()["code"] == "consent_not_found"
    assert parse_entry(Receipt.parse(r.json()["receipt"]).extra or b"").subject is None


@pytest.mark.parametrize("first", ["-", "_"])
def test_a_consent_id_may_start_with_a_dash_or_underscore(
    ex: Exchange, first: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consent service's ids are token_urlsafe: the exchange takes every one of them."""
    monkeypatch.setattr(
        "civicstack.services.consent.service._random_id",
        lambda: first + secrets.token_urlsafe(15),
    )
    consent = ex.give()
    assert consent.startswith(first)
    r = ex.fetch(consent)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("body", "headers", "code", "status"),
    [
        (b"{", None, "malformed", 400),
        (b'{"consent": "x"}', None, "invalid_request", 400),
        (b"x" * 5000, None, "too_large", 413),
        (None, {}, "unauthorized", 401),
        (None, {"Authorization": "Bearer cvk.0000000000000000.nope"}, "unauthorized", 401),
        (None, "admin", "forbidden", 403),
    ],
)
def test_bad_fetch_requests_are_refused_unlogged(
    ex: Exchange, body: bytes | None, headers: Any, code: str, status: int
) -> None:
    """Unauthenticated or unreadable requests are refused before anything is logged."""
    good = {
        "consent": "consent-1",
        "provider": "dvla",
        "service": "driving-record",
        "purpose": "insurance_quote",
        "subject": ex.sid("insurer"),
        "categories": DRIVING,
    }
    sent = body if body is not None else json.dumps(good).encode()
    hdrs = (
        ex.world.admin
        if headers == "admin"
        else (ex.keys["insurer"] if headers is None else headers)
    )
    r = ex.world.client.post(
        "/exchange/fetch", content=sent, headers={**hdrs, "Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert ex.log_size() == 0


def test_a_failing_log_write_releases_nothing(ex: Exchange) -> None:
    """When the access log cannot be written the fetch is 503 and carries no data."""
    consent = ex.give()
    assert ex.fetch(consent).status_code == 200
    store = ex.platform.access_log_store
    broken = store.append_accesses

    def fail(accesses: Any) -> Any:
        raise OSError("disk full")

    store.append_accesses = fail  # type: ignore[method-assign]
    try:
        r = ex.fetch(consent)
    finally:
        store.append_accesses = broken  # type: ignore[method-assign]
    assert (r.status_code, r.json()["code"]) == (503, "access_log_unavailable")
    assert "data" not in r.json()
    assert "receipt" not in r.json()
    assert ex.log_size() == 1


def test_a_failing_database_write_releases_nothing(ex: Exchange) -> None:
    """A real failure inside the log's transaction (the subjects' table gone) rolls back the
    whole batch: 503, no data, the log unchanged."""
    consent = ex.give()
    with ex.platform.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE access_subjects RENAME TO access_subjects_gone")
    try:
        r = ex.fetch(consent)
    finally:
        with ex.platform.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE access_subjects_gone RENAME TO access_subjects")
    assert (r.status_code, r.json()["code"]) == (503, "access_log_unavailable")
    assert "data" not in r.json()
    assert ex.log_size() == 0
    assert ex.fetch(consent).status_code == 200


def test_providers_publish_and_write_hosted_records(ex: Exchange) -> None:
    """A provider publishes with its own key and writes records; others' keys are refused."""
    c = ex.world.client
    gp = ex.keys["gp-newtown"]
    body = {
        "name": "vaccinations",
        "title": "Vaccinations",
        "categories": ["dpv-pd:HealthRecord"],
        "kind": "hosted",
    }
    assert c.post("/exchange/services", json=body, headers=gp).status_code == 201
    listed = {(s["provider"], s["name"]) for s in c.get("/exchange/services").json()}
    assert ("gp-newtown", "vaccinations") in listed
    assert ("dvla", "driving-record") in listed
    records = {"records": [{"subject": ex.sid("gp-newtown"), "record": {"dpv-pd:HealthRecord": 1}}]}
    url = "/exchange/services/gp-newtown/vaccinations/records"
    assert c.put(url, json=records, headers=gp).json() == {"written": 1}
    r = c.put(url, json=records, headers=ex.keys["insurer"])
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    bad = {"records": [{"subject": ex.sid("gp-newtown"), "record": {"dpv-pd:Income": 1}}]}
    assert c.put(url, json=bad, headers=gp).json()["code"] == "category_not_offered"
    r = c.put("/exchange/services/gp-newtown/nothing/records", json=records, headers=gp)
    assert r.json()["code"] == "unknown_data_service"
    r = c.post("/exchange/services", json={**body, "kind": "remote"}, headers=gp)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_request")


class _Provider(BaseHTTPRequestHandler):
    """A remote data service: answers by the mode in its URL's path."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        asked = json.loads(self.rfile.read(length))
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/fail":
            self.send_response(500)
            self.end_headers()
            return
        if self.path == "/big":
            data = b'{"dpv-pd:VehicleLicense": "' + b"x" * 70_000 + b'"}'
        elif self.path == "/garbage":
            data = b"not json"
        else:
            data = json.dumps(
                {c: {"remote": True, "subject": asked["subject"]} for c in asked["categories"]}
            ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def provider_url() -> Iterator[str]:
    """A real HTTP server on the loopback interface."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_remote_data_service_is_asked_over_http(ex: Exchange, provider_url: str) -> None:
    """A remote service gets the provider's pairwise id; failures, slowness and oversize
    answers release nothing and are logged as provider_unavailable."""
    c = ex.world.client
    publish = {
        "provider": "dvla",
        "name": "driving-record",
        "title": "DVLA (remote)",
        "categories": DRIVING,
        "kind": "remote",
        "url": f"{provider_url}/ok",
    }
    assert c.post("/exchange/services", json=publish, headers=ex.world.admin).status_code == 201
    consent = ex.give()
    time.sleep(1.1)  # the exchange caches a service definition for a second
    r = ex.fetch(consent)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["dpv-pd:VehicleLicense"] == {"remote": True, "subject": ex.sid("dvla")}
    for mode in ("fail", "big", "garbage", "slow"):
        c.post(
            "/exchange/services",
            json={**publish, "url": f"{provider_url}/{mode}"},
            headers=ex.world.admin,
        )
        time.sleep(1.1)
        before = ex.log_size()
        r = ex.fetch(consent)
        assert (r.status_code, r.json()["code"]) == (502, "provider_unavailable"), mode
        assert "data" not in r.json()
        assert ex.log_size() == before + 1
