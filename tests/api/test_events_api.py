"""The events service over HTTP, on SQLite and PostgreSQL: subscriptions, signed deliveries
through the embedded engine, consent and pairwise subjects, 410/429/dead letters and replay,
rotation and v1a, and hostile input (oversize, bad URLs, SSRF)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from bench._sink import ThreadedSink
from sqlalchemy import func, select

from civicstack.events import Notice, PublicKey, verify
from civicstack.events.notices import Representation
from civicstack.pairwise import Subject
from civicstack.stores.db import write_transaction
from civicstack.stores.events import events_table, outbox_table
from civicstack.testing import FixedClock
from tests.api.conftest import World, make_world
from tests.api.events_support import deliver_until

ADDRESS = "uk.civicstack.address.changed"
AMARA = Subject("GB", "QQ123456C")


class ConsentOf:
    """A test double of the consent seam: these organisations are covered, thin or full."""

    def __init__(self, covered: dict[str, Representation]) -> None:
        self.covered = covered

    def covers(
        self, organisation: str, subject: Subject, event_type: str, *, now: int
    ) -> Representation | None:
        return self.covered.get(organisation) if subject == AMARA else None


@pytest.fixture
def events_world(database_url: str, tmp_path: Path) -> Iterator[World]:
    """The demo world with private endpoints allowed and a one-retry schedule."""
    w = make_world(
        database_url,
        tmp_path,
        FixedClock(),
        env={"CIVIC_EVENTS_ALLOW_PRIVATE": "1", "CIVIC_EVENTS_RETRY_SCHEDULE": "100ms"},
    )
    w.clock.now = lambda: int(time.time())  # type: ignore[method-assign]  # real time for webhooks
    with w.client:
        yield w
    w.platform.close()


@pytest.fixture
def sink() -> Iterator[ThreadedSink]:
    """A local webhook sink."""
    s = ThreadedSink()
    yield s
    s.close()


def _subscribe(w: World, url: str, org: str = "employer", types: list[str] | None = None) -> Any:
    r = w.client.post(
        "/events/subscriptions",
        json={"organisation": org, "url": url, "types": types or [ADDRESS]},
        headers=w.admin,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _notice(n: int = 1) -> Notice:
    return Notice(
        id=f"evt_{n:026d}",
        type=ADDRESS,
        source="http://testserver/events",
        time=int(time.time()),
        subject=AMARA,
        changed=("address",),
        value={"uprn": "100023336956"},
        fetch="http://testserver/exchange/address?subject={subject}",
    )


def test_subscribe_list_get_delete(events_world: World, sink: ThreadedSink) -> None:
    """A subscription is made (secret once), listed without its secret, and deleted."""
    made = _subscribe(events_world, sink.url + "/a")
    assert made["secret"].startswith("whsec_")
    listed = events_world.client.get("/events/subscriptions", headers=events_world.admin).json()
    assert [s["id"] for s in listed] == [made["id"]]
    assert "secret" not in json.dumps(listed)
    one = events_world.client.get(f"/events/subscriptions/{made['id']}", headers=events_world.admin)
    assert one.json()["organisation"] == "employer"
    r = events_world.client.delete(
        f"/events/subscriptions/{made['id']}", headers=events_world.admin
    )
    assert r.status_code == 204
    gone = events_world.client.get(
        f"/events/subscriptions/{made['id']}", headers=events_world.admin
    )
    assert gone.status_code == 404


def test_an_organisation_sees_only_its_own(events_world: World, sink: ThreadedSink) -> None:
    """A relying party's API key lists and reads only its own subscriptions."""
    made = _subscribe(events_world, sink.url + "/a", org="employer")
    key = events_world.platform.verifier.issue_api_key("shop")[1]
    shop = {"Authorization": f"Bearer {key}"}
    assert events_world.client.get("/events/subscriptions", headers=shop).json() == []
    r = events_world.client.get(f"/events/subscriptions/{made['id']}", headers=shop)
    assert r.status_code == 404
    r = events_world.client.post(
        "/events/subscriptions",
        json={"organisation": "employer", "url": sink.url, "types": [ADDRESS]},
        headers=shop,
    )
    assert r.status_code == 403
    assert events_world.client.get("/events/subscriptions").status_code == 401


def test_test_event_is_delivered_signed(events_world: World, sink: ThreadedSink) -> None:
    """The test event reaches its endpoint as a CloudEvent the official library verifies, and
    the attempt is visible to the organisation."""
    made = _subscribe(events_world, sink.url + "/hook")
    r = events_world.client.post(
        f"/events/subscriptions/{made['id']}/test", headers=events_world.admin
    )
    assert r.status_code == 202
    deliver_until(events_world.platform, lambda: len(sink.received()) == 1)
    got = sink.received()[0]
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/cloudevents+json"
    event = standardwebhooks.Webhook(made["secret"]).verify(got.body, got.headers)
    assert event["type"] == "uk.civicstack.webhook.test"
    attempts = events_world.client.get(
        "/events/attempts", params={"subscription_id": made["id"]}, headers=events_world.admin
    ).json()
    assert len(attempts) == 1
    assert attempts[0]["status"] == 204
    assert attempts[0]["delivery_id"] == got.headers["webhook-id"]


def test_an_endpoint_subscribed_while_the_worker_runs_is_not_taken_for_deleted(
    events_world: World, sink: ThreadedSink
) -> None:
    """A worker that read its subscriptions before an endpoint was subscribed delivers to it
    (it reads them again) rather than marking the delivery disabled."""
    made: dict[str, Any] = {}

    def subscribe_and_test() -> None:
        made.update(_subscribe(events_world, sink.url + "/late"))
        r = events_world.client.post(
            f"/events/subscriptions/{made['id']}/test", headers=events_world.admin
        )
        assert r.status_code == 202

    deliver_until(
        events_world.platform,
        lambda: len(sink.received()) == 1,
        keys_refresh=3600,
        before=subscribe_and_test,
    )
    assert sink.received()[0].path == "/late"
    assert events_world.platform.event_store.state_counts().get("disabled") is None


def test_consent_decides_who_hears_and_by_which_pairwise_id(
    events_world: World, sink: ThreadedSink
) -> None:
    """Only organisations whose consent covers the event hear of it, each by its own pairwise
    id; thin events link to the exchange, full ones carry the value."""
    platform = events_world.platform
    platform.event_consents = ConsentOf({"employer": "thin", "bank": "full"})
    _subscribe(events_world, sink.url + "/employer", org="employer")
    _subscribe(events_world, sink.url + "/bank", org="bank")
    _subscribe(events_world, sink.url + "/shop", org="shop")
    platform.notifications.publish(_notice())
    deliver_until(platform, lambda: len(sink.received()) == 2)
    time.sleep(0.2)
    by_path = {r.path: json.loads(r.body) for r in sink.received()}
    assert set(by_path) == {"/employer", "/bank"}
    employer, bank = by_path["/employer"], by_path["/bank"]
    assert employer["subject"] == platform.pairwise_id("employer", AMARA)
    assert bank["subject"] == platform.pairwise_id("bank", AMARA)
    assert employer["subject"] != bank["subject"]
    assert employer["data"]["href"].endswith(employer["subject"])
    assert "value" not in employer["data"]
    assert bank["data"]["value"] == {"uprn": "100023336956"}


def test_without_consent_nobody_hears(events_world: World, sink: ThreadedSink) -> None:
    """Until consent is wired in, no organisation hears about any citizen."""
    _subscribe(events_world, sink.url + "/employer")
    events_world.platform.notifications.publish(_notice())
    events_world.platform.notifications.fan_out(limit=10, now=time.time())
    assert events_world.platform.event_store.state_counts() == {}


def test_the_outbox_commits_with_the_callers_transaction(events_world: World) -> None:
    """A notice written in a transaction that rolls back leaves no event and no outbox row."""
    store = events_world.platform.event_store

    def fails() -> None:
        with write_transaction(store.engine) as conn:
            store.enqueue_in(conn, _notice(1))
            raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError):
        fails()
    with write_transaction(store.engine) as conn:
        store.enqueue_in(conn, _notice(2))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events_table)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(outbox_table)).scalar() == 1


def test_events_about_one_subject_arrive_in_order(events_world: World, sink: ThreadedSink) -> None:
    """Per subject and endpoint, deliveries arrive in the order the events were published."""
    events_world.platform.event_consents = ConsentOf({"employer": "thin"})
    _subscribe(events_world, sink.url + "/employer")
    for n in range(20):
        events_world.platform.notifications.publish(_notice(n))
    deliver_until(events_world.platform, lambda: len(sink.received()) == 20)
    ids = [json.loads(r.body)["id"] for r in sink.received()]
    assert ids == [f"evt_{n:026d}" for n in range(20)]


def test_gone_disables_the_endpoint(events_world: World, sink: ThreadedSink) -> None:
    """410 Gone disables the endpoint; its subscription says so."""
    made = _subscribe(events_world, sink.url + "/gone/x")
    events_world.client.post(f"/events/subscriptions/{made['id']}/test", headers=events_world.admin)
    store = events_world.platform.event_store
    deliver_until(events_world.platform, lambda: store.state_counts().get("disabled") == 1)
    sub = events_world.client.get(
        f"/events/subscriptions/{made['id']}", headers=events_world.admin
    ).json()
    assert sub["disabled_reason"] == "410 Gone"
    r = events_world.client.post(
        f"/events/subscriptions/{made['id']}/test", headers=events_world.admin
    )
    assert r.status_code == 409


def test_429_waits_for_retry_after(events_world: World, sink: ThreadedSink) -> None:
    """A 429 with Retry-After: 7 schedules the next attempt at least 7 s later."""
    made = _subscribe(events_world, sink.url + "/busy/x")
    events_world.client.post(f"/events/subscriptions/{made['id']}/test", headers=events_world.admin)
    store = events_world.platform.event_store
    before = time.time()
    deliver_until(events_world.platform, lambda: store.state_counts().get("retrying") == 1)
    (delivery,) = store.deliveries(subscription_ids=[made["id"]])
    assert delivery.last_status == 429
    assert delivery.next_at >= before + 7


def test_dead_letters_and_replay(events_world: World, sink: ThreadedSink) -> None:
    """After the last attempt a delivery is a dead letter; replay sends it again."""
    made = _subscribe(events_world, sink.url + "/fail/x")
    events_world.client.post(f"/events/subscriptions/{made['id']}/test", headers=events_world.admin)
    store = events_world.platform.event_store
    deliver_until(events_world.platform, lambda: store.state_counts().get("dead") == 1)
    assert len(sink.received()) == 2  # the schedule "100ms": two attempts
    dead = events_world.client.get(
        "/events/deliveries", params={"state": "dead"}, headers=events_world.admin
    ).json()
    assert [d["id"] for d in dead] == [sink.received()[0].headers["webhook-id"]]
    r = events_world.client.post(
        "/events/replay", json={"subscription_id": made["id"]}, headers=events_world.admin
    )
    assert r.json() == {"replayed": 1}
    deliver_until(events_world.platform, lambda: len(sink.received()) == 4)
    assert {r.headers["webhook-id"] for r in sink.received()} == {dead[0]["id"]}


def test_rotation_and_v1a(events_world: World, sink: ThreadedSink) -> None:
    """After a rotation both secrets sign; with a v1a key the published whpk_ key verifies."""
    made = _subscribe(events_world, sink.url + "/a")
    sid = made["id"]
    new = events_world.client.post(
        f"/events/subscriptions/{sid}/rotate-secret", headers=events_world.admin
    ).json()["secret"]
    public = events_world.client.post(
        f"/events/subscriptions/{sid}/signing-key", headers=events_world.admin
    ).json()["public_key"]
    listed = events_world.client.get(f"/events/subscriptions/{sid}", headers=events_world.admin)
    assert listed.json()["metadata"]["v1a_public_key"] == public
    events_world.client.post(f"/events/subscriptions/{sid}/test", headers=events_world.admin)
    deliver_until(events_world.platform, lambda: len(sink.received()) == 1)
    got = sink.received()[0]
    versions = [s.split(",")[0] for s in got.headers["webhook-signature"].split(" ")]
    assert versions == ["v1", "v1", "v1a"]
    for secret in (made["secret"], new):
        standardwebhooks.Webhook(secret).verify(got.body, got.headers)
    verify(got.body, got.headers, now=int(time.time()), public_keys=[PublicKey.parse(public)])


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://127.0.0.1/x", "invalid_request"),
        ("file:///etc/passwd", "invalid_request"),
        ("http://169.254.169.254/latest/meta-data", "forbidden"),
        ("http://[fe80::1]/x", "forbidden"),
        ("http://0.0.0.0/x", "forbidden"),
        ("http://user:pw@127.0.0.1/x", "invalid_request"),
        ("http://127.0.0.1/x#frag", "invalid_request"),
        ("http://no-such-host.invalid/x", "invalid_request"),
        ("http://127.0.0.1/" + "a" * 3000, "invalid_request"),
    ],
)
def test_bad_urls_are_refused(events_world: World, url: str, code: str) -> None:
    """Non-http(s), link-local and metadata addresses, credentials, fragments and unresolvable
    hosts are refused with a coded problem, and nothing is stored."""
    r = events_world.client.post(
        "/events/subscriptions",
        json={"organisation": "employer", "url": url, "types": [ADDRESS]},
        headers=events_world.admin,
    )
    assert r.status_code in (400, 403, 413), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if len(url) < 2048:
        assert r.json()["code"] == code
    assert events_world.platform.event_store.subscriptions() == []


def test_private_addresses_need_the_operator_setting(database_url: str, tmp_path: Path) -> None:
    """Without CIVIC_EVENTS_ALLOW_PRIVATE, loopback and RFC 1918 endpoints are refused."""
    w = make_world(database_url, tmp_path, FixedClock())
    with w.client:
        for url in ("http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://[::1]/x"):
            r = w.client.post(
                "/events/subscriptions",
                json={"organisation": "employer", "url": url, "types": [ADDRESS]},
                headers=w.admin,
            )
            assert r.status_code == 403, r.text
            assert r.json()["code"] == "forbidden"
    w.platform.close()


@pytest.mark.parametrize(
    "body",
    [
        {"organisation": "employer", "url": "http://127.0.0.1/x", "types": ["no.such.type"]},
        {"organisation": "employer", "url": "http://127.0.0.1/x", "types": []},
        {"organisation": "nobody", "url": "http://127.0.0.1/x", "types": [ADDRESS]},
        {"organisation": "employer", "url": "http://127.0.0.1/x", "types": [ADDRESS], "x": 1},
        {"organisation": "employer", "url": 5, "types": [ADDRESS]},
    ],
)
def test_bad_bodies_are_refused(events_world: World, body: dict[str, Any]) -> None:
    """Unknown types, no types, unknown organisations, extra members: a 4xx problem."""
    r = events_world.client.post("/events/subscriptions", json=body, headers=events_world.admin)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_oversize_bodies_are_refused(events_world: World) -> None:
    """Bodies past 16 KiB are 413 too_large."""
    big = {"organisation": "employer", "url": "http://127.0.0.1/x", "types": [ADDRESS] * 2000}
    r = events_world.client.post("/events/subscriptions", json=big, headers=events_world.admin)
    assert r.status_code == 413
    assert r.json()["code"] == "too_large"


def test_bad_v1a_keys_are_refused(events_world: World, sink: ThreadedSink) -> None:
    """An operator's whsk_ key must be 32 (or 64 consistent) bytes of base64."""
    sid = _subscribe(events_world, sink.url + "/a")["id"]
    for key in ("whsk_AAAA", "nope", "whsk_" + base64.b64encode(b"x" * 64).decode()):
        r = events_world.client.post(
            f"/events/subscriptions/{sid}/signing-key",
            json={"private_key": key},
            headers=events_world.admin,
        )
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid_key"
