"""What strangers can make the platform store, over HTTP, on SQLite and PostgreSQL (issue 9,
item 3): a submission rate per client (429 with Retry-After, shared by every worker through the
database), a quota for pending documents (507, nothing written), the retention schedule (the
desk shows expired documents), and one size rule for the allowance and the body cap."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicstack._crypto import json_dumps
from civicstack.api.app import create_app, create_app_from_env, max_body, wrap
from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.demo.story import AMARA
from civicstack.demo.world import seed_demo_world
from civicstack.errors import RetryLaterError
from civicstack.platform import Platform
from civicstack.services.issuer.retention import DAY
from civicstack.settings import Settings
from civicstack.stores.applications import issuance_applications_table
from civicstack.testing import FixedClock

BASE = "http://testserver"
RTW = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "right_to_work": True,
    "share_code": "W12345678",
}
APPLY = "/issuers/home-office/applications"
ADMIN = "/issuers/home-office/admin/applications"


def _pdf(tag: str, size: int = 64) -> bytes:
    head = f"%PDF-1.7 {tag}\n".encode()
    return head + b"0" * max(0, size - len(head))


def _platform(database_url: str, data_dir: Path, clock: FixedClock, **env: str) -> Platform:
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(data_dir),
            "CIVIC_DATABASE_URL": database_url,
            "CIVIC_BASE_URL": BASE,
            **env,
        }
    )
    return Platform(settings, clock=clock)


Make = Callable[..., tuple[Platform, TestClient]]


@pytest.fixture
def make(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Make]:
    """Build the served app (the platform's body cap) over the demo world, with settings."""
    made: list[tuple[Platform, TestClient]] = []

    def build(**env: str) -> tuple[Platform, TestClient]:
        platform = _platform(database_url, tmp_path, clock, **env)
        platform.migrate()
        seed_demo_world(platform)
        app = wrap(create_app(platform), max_body=max_body(platform))
        client = TestClient(app, raise_server_exceptions=False, client=("203.0.113.7", 40000))
        made.append((platform, client))
        return platform, client

    yield build
    for platform, client in made:
        client.close()
        platform.close()


def _apply(client: TestClient, *documents: bytes, **headers: str) -> Any:
    files = [("documents", (f"scan{i}.pdf", d, "application/pdf")) for i, d in enumerate(documents)]
    data = {"vct": RIGHT_TO_WORK_VCT, "claims": json_dumps(RTW).decode()}
    return client.post(APPLY, data=data, files=files or None, headers=headers)


def _admin(platform: Platform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.admin_token}"}


def _files(platform: Platform) -> set[str]:
    root = platform.documents.root / "sha256"
    return {p.name for p in root.glob("*/*")} if root.exists() else set()


# --- the submission rate -----------------------------------------------------------------------


def test_a_client_past_its_burst_gets_429_with_retry_after(make: Make, clock: FixedClock) -> None:
    """Two submissions at once pass, the third is refused with the seconds until the next
    token; another client is unaffected, and the first may submit again once a token came."""
    platform, client = make(CIVIC_APPLICATION_BURST="2", CIVIC_APPLICATIONS_PER_HOUR="60")
    assert _apply(client, _pdf("a")).status_code == 201
    assert _apply(client, _pdf("b")).status_code == 201
    r = _apply(client, _pdf("c"))
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "rate_limited"
    assert r.headers["retry-after"] == "60"
    # a malformed submission spends a token too: the refusal comes before any parsing
    assert client.post(APPLY, content=b"junk").status_code == 429
    with TestClient(client.app, client=("198.51.100.9", 1)) as other:
        assert _apply(other, _pdf("d")).status_code == 201
    clock.advance(59)
    assert _apply(client, _pdf("e")).headers["retry-after"] == "1"
    clock.advance(1)
    assert _apply(client, _pdf("f")).status_code == 201
    pending = client.get(f"{ADMIN}?status=pending", headers=_admin(platform)).json()
    assert len(pending) == 4


def test_every_worker_spends_from_the_same_bucket(
    make: Make, database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Two platforms on one database (two ``civic up`` workers) share a client's bucket; an
    IPv6 client's whole /64 is one client."""
    first, _ = make(CIVIC_APPLICATION_BURST="3", CIVIC_APPLICATIONS_PER_HOUR="1")
    second = _platform(
        database_url,
        tmp_path,
        clock,
        CIVIC_APPLICATION_BURST="3",
        CIVIC_APPLICATIONS_PER_HOUR="1",
    )
    try:
        first.review.admit("2001:db8:1:2::1")
        second.review.admit("2001:db8:1:2::ffff")
        first.review.admit("2001:db8:1:2:aaaa::5")
        with pytest.raises(RetryLaterError) as refused:
            second.review.admit("2001:db8:1:2::1")
        assert refused.value.code == "rate_limited"
        assert refused.value.retry_after == 3600
        second.review.admit("2001:db8:1:3::1")  # another /64, another client
    finally:
        second.close()


def test_full_buckets_are_forgotten_by_a_sweep(make: Make, clock: FixedClock) -> None:
    """A bucket that is full again carries no information: the sweep deletes its row."""
    platform, client = make(CIVIC_APPLICATION_BURST="2", CIVIC_APPLICATIONS_PER_HOUR="60")
    assert _apply(client, _pdf("a")).status_code == 201
    assert platform.review.sweep().buckets == 0  # a token short: kept
    clock.advance(60)
    assert platform.review.sweep().buckets == 1


# --- the quota of pending documents ------------------------------------------------------------


def test_a_submission_over_the_quota_is_refused_and_writes_nothing(make: Make) -> None:
    """With 1000 bytes for pending documents, a second 600-byte application is refused with
    507 storage_full: no file, no application, no offer. Once the first is decided, it fits."""
    platform, client = make(CIVIC_PENDING_DOCUMENTS_QUOTA="1000")
    first = _apply(client, _pdf("first", 600))
    assert first.status_code == 201, first.text
    files = _files(platform)
    with platform.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(issuance_applications_table))
        before = rows.scalar_one()

    r = _apply(client, _pdf("second", 300), _pdf("third", 300))
    assert r.status_code == 507, r.text
    assert r.json()["code"] == "storage_full"
    assert _files(platform) == files
    with platform.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(issuance_applications_table))
        assert rows.scalar_one() == before
    assert len(platform.issuer.offers("home-office")) == 1

    first_id = first.json()["application"]["id"]
    decided = client.post(
        f"{ADMIN}/{first_id}/reject",
        json={"reviewer": "officer 7", "reason": "the scan is unreadable"},
        headers=_admin(platform),
    )
    assert decided.status_code == 200, decided.text
    assert _apply(client, _pdf("second", 300), _pdf("third", 300)).status_code == 201


# --- the retention schedule --------------------------------------------------------------------


def test_documents_expire_on_the_schedule_and_the_desk_shows_it(
    make: Make, clock: FixedClock
) -> None:
    """Decided 30 days ago: the files go; pending 90 days: the files go; fresh pending: kept.
    The applications keep their documents' hashes and say when the files were deleted; a
    download answers 410. Bytes an application still keeps are never deleted."""
    platform, client = make(CIVIC_RETENTION_DECIDED_DAYS="30", CIVIC_RETENTION_ABANDONED_DAYS="90")
    admin = _admin(platform)
    shared = _pdf("shared")

    def submit(*documents: bytes) -> dict[str, Any]:
        r = _apply(client, *documents)
        assert r.status_code == 201, r.text
        return dict(r.json()["application"])

    abandoned = submit(_pdf("abandoned"))
    clock.advance(60 * DAY)
    decided = submit(_pdf("decided"), shared)
    r = client.post(f"{ADMIN}/{decided['id']}/approve", json={"reviewer": "o"}, headers=admin)
    assert r.status_code == 200, r.text
    clock.advance(29 * DAY)
    fresh = submit(shared)

    assert platform.review.sweep().expired == 0  # nothing is due yet
    clock.advance(DAY + 1)  # the decision is 30 days old, the abandoned application 90
    assert platform.review.sweep().expired == 2  # the decided scan and the abandoned one
    expired_at = clock.now()

    on_disk = _files(platform)
    for app, gone in ((abandoned, True), (decided, True), (fresh, False)):
        shown = client.get(f"{ADMIN}/{app['id']}", headers=admin).json()
        assert [d["sha256"] for d in shown["documents"]] == [d["sha256"] for d in app["documents"]]
        assert shown["documents_expired_at"] == (expired_at if gone else None)
        first = app["documents"][0]["sha256"]
        download = client.get(f"{ADMIN}/{app['id']}/documents/{first}", headers=admin)
        if gone:
            assert first not in on_disk
            assert download.status_code == 410
            assert download.json()["code"] == "documents_expired"
        else:
            assert download.status_code == 200
            assert download.content == shared
    # the decided application's copy of the shared scan is expired; the fresh one keeps it
    assert decided["documents"][1]["sha256"] in on_disk
    listed = client.get(f"{ADMIN}?status=pending", headers=admin).json()
    assert {a["id"]: a["documents_expired_at"] for a in listed} == {
        abandoned["id"]: expired_at,
        fresh["id"]: None,
    }
    assert platform.review.sweep().expired == 0  # once only


def test_an_application_refused_by_the_checks_keeps_no_files(make: Make) -> None:
    """Refused before any officer looks (an unknown UPRN): its documents' hashes are kept,
    their bytes are not, so refused submissions cannot fill the disk past the quota."""
    platform, client = make(CIVIC_PENDING_DOCUMENTS_QUOTA="100")
    claims = {**AMARA, "address": {"locality": "Leeds", "country": "GB", "uprn": "not-a-uprn"}}
    data = {"vct": PID_VCT, "claims": json_dumps(claims).decode()}
    files = [("documents", ("scan.pdf", _pdf("refused", 600), "application/pdf"))]
    r = client.post("/issuers/passport-office/applications", data=data, files=files)
    assert r.status_code == 201, r.text
    application = r.json()["application"]
    assert application["status"] == "rejected"
    assert application["documents_expired_at"] is not None
    assert _files(platform) == set()


# --- one size rule -----------------------------------------------------------------------------


def test_the_largest_allowed_application_passes_the_served_body_cap(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FixedClock
) -> None:
    """As ``civic up``'s workers serve it: four documents of the full 4 MiB are accepted (the
    old 10 MB body cap refused them); a byte more is refused."""
    platform = _platform(database_url, tmp_path, clock)
    platform.migrate()
    seed_demo_world(platform)
    limits = platform.application_limits
    platform.close()
    for name, value in {
        "CIVIC_DATA_DIR": str(tmp_path),
        "CIVIC_DATABASE_URL": database_url,
        "CIVIC_BASE_URL": BASE,
    }.items():
        monkeypatch.setenv(name, value)
    served = create_app_from_env()
    claims = json_dumps({**RTW, "share_code": "W" + "1" * 8}).decode()
    documents = [_pdf(str(i), limits.document_bytes) for i in range(limits.documents)]
    files = [
        ("documents", (f"{'n' * 200}{i}.pdf", d, "application/pdf"))
        for i, d in enumerate(documents)
    ]
    with TestClient(served, raise_server_exceptions=False) as client:
        r = client.post(APPLY, data={"vct": RIGHT_TO_WORK_VCT, "claims": claims}, files=files)
        assert r.status_code == 201, r.text[:300]
        assert sum(d["size"] for d in r.json()["application"]["documents"]) == limits.allowance
        over = [*files[:-1], ("documents", ("x.pdf", documents[-1] + b"0", "application/pdf"))]
        r = client.post(APPLY, data={"vct": RIGHT_TO_WORK_VCT, "claims": claims}, files=over)
        assert r.status_code == 413, r.text[:300]
        assert r.json()["code"] == "too_large"
    inner: Any = served
    while not isinstance(inner, FastAPI):  # the platform the factory built, to close it
        inner = inner.app
    inner.state.platform.close()
