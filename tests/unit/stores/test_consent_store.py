"""The consent store on SQLite and PostgreSQL: its migration, requests within their caps,
answers written once, nonces used once."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from civicstack.consent import ConsentRequest, record_from_request
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.services.consent import RequestCaps
from civicstack.settings import Settings
from civicstack.stores import db
from civicstack.stores.consent import ConsentStore

OUR_TABLES = {
    "consent_requests",
    "consents",
    "consent_versions",
    "consent_subjects",
    "consent_nonces",
}
NOW = 1_767_225_600
CAPS = RequestCaps(per_subject=2, per_requester=100, per_minute=3)


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    built = Platform(
        Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_DATABASE_URL": database_url})
    )
    built.migrate()
    yield built
    built.close()


def _request(request_id: str, subject: str = "A" * 43) -> ConsentRequest:
    return ConsentRequest.create(
        request_id,
        requester="insurer",
        provider="dvla",
        purpose="insurance_quote",
        dpv_purpose="dpv:ServiceProvision",
        categories=["dpv-pd:VehicleUsage"],
        subject=subject,
        once=False,
        valid_days=10,
        now=NOW,
    )


def _code(fn: object) -> str:
    with pytest.raises(CivicError) as err:
        fn()  # type: ignore[operator]
    return err.value.code


def test_migration_matches_the_tables(platform: Platform) -> None:
    """The consent branch creates exactly the tables the code uses."""
    with platform.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in OUR_TABLES)] == []
    assert set(sa.inspect(platform.engine).get_table_names()) >= OUR_TABLES


def test_requests_stay_within_their_caps(platform: Platform) -> None:
    """Per citizen and per minute caps hold; a reused id is a conflict."""
    store = ConsentStore(platform.engine, lambda: bytes(32))
    store.add_request(_request("r1"), caps=CAPS, now=NOW)
    store.add_request(_request("r2"), caps=CAPS, now=NOW)
    assert _code(lambda: store.add_request(_request("r3"), caps=CAPS, now=NOW)) == "rate_limited"
    store.add_request(_request("r4", "B" * 43), caps=CAPS, now=NOW)
    assert _code(lambda: store.add_request(_request("r5", "C" * 43), caps=CAPS, now=NOW)) == (
        "rate_limited"
    )
    assert _code(lambda: store.add_request(_request("r1", "D" * 43), caps=CAPS, now=NOW + 61)) == (
        "conflict"
    )
    assert [r.id for r in store.pending_for([("insurer", "B" * 43)], NOW, limit=10)] == ["r4"]
    assert store.pending_requesters(NOW, limit=10) == ["insurer"]


def test_an_answer_is_written_once(platform: Platform) -> None:
    """The first answer closes the request; a second writes nothing."""
    store = ConsentStore(platform.engine, lambda: bytes(32))
    request = _request("r1")
    store.add_request(request, caps=CAPS, now=NOW)

    def answer(consent_id: str) -> None:
        record = record_from_request(
            request,
            "given",
            consent_id=consent_id,
            provider_subject="P" * 43,
            log_subject="L" * 43,
            holder_jwk={"kty": "EC"},
            signature="s",
            presentation="p",
            now=NOW,
        )
        store.answer(record, now=NOW)

    answer("c1")
    assert _code(lambda: answer("c2")) == "consent_request_closed"
    assert store.latest("c1").state == "given"
    assert _code(lambda: store.latest("c2")) == "consent_not_found"
    assert store.log_subject("dvla", "P" * 43) == "L" * 43
    assert store.log_subject("dvla", "Q" * 43) is None
    store.close()


def test_current_versions_are_read_together(platform: Platform) -> None:
    """``latest_many`` answers the current version of each consent that exists, as ``latest``
    does one by one, and leaves out ids it does not hold; more ids than one read takes."""
    store = ConsentStore(platform.engine, lambda: bytes(32))
    given = []
    for n in range(3):
        request = _request(f"r{n}", chr(ord("A") + n) * 43)
        store.add_request(request, caps=CAPS, now=NOW + 61 * n)
        record = record_from_request(
            request,
            "given",
            consent_id=f"c{n}",
            provider_subject="P" * 43,
            log_subject="L" * 43,
            holder_jwk={"kty": "EC"},
            signature="s",
            presentation="p",
            now=NOW,
        )
        store.answer(record, now=NOW)
        given.append(f"c{n}")
    withdrawn = dataclasses.replace(store.latest("c0"), version=2, state="withdrawn")
    store.add_version(withdrawn, previous=1)
    asked = ["c2", "missing", "c0", *[f"x{n}" for n in range(1200)], "c1"]
    found = store.latest_many(asked)
    assert sorted(found) == given
    assert all(found[c] == store.latest(c) for c in given)
    assert found["c0"].state == "withdrawn"
    assert found["c0"].version == 2
    assert store.latest_many([]) == {}
    store.close()


def test_the_pid_presentation_is_kept_sealed(platform: Platform) -> None:
    """A consent record's PID presentation (it names the citizen) is stored sealed, read back
    whole, and a seal moved to another record does not open."""
    store = ConsentStore(platform.engine, lambda: bytes(range(32)))
    for rid, cid in (("r1", "c1"), ("r2", "c2")):
        request = _request(rid, ("A" if rid == "r1" else "B") * 43)
        store.add_request(request, caps=CAPS, now=NOW)
        store.answer(
            record_from_request(
                request,
                "given",
                consent_id=cid,
                provider_subject="P" * 43,
                log_subject="L" * 43,
                holder_jwk={"kty": "EC"},
                signature="s",
                presentation=f"eyJ-PID-QQ123456C-{cid}~",
                now=NOW,
            ),
            now=NOW,
        )
    assert store.latest("c1").presentation == "eyJ-PID-QQ123456C-c1~"
    versions = sa.table("consent_versions", sa.column("consent_id"), sa.column("record"))
    with platform.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(versions.c.consent_id, versions.c.record)).all())
    assert all("QQ123456C" not in text for text in rows.values())
    assert all('"presentation":"sealed:' in text for text in rows.values())
    sealed_c2 = json.loads(rows["c2"])["presentation"]
    moved = json.loads(rows["c1"])
    moved["presentation"] = sealed_c2
    with platform.engine.begin() as conn:
        conn.execute(
            sa.update(versions)
            .where(versions.c.consent_id == "c1")
            .values(record=json.dumps(moved, separators=(",", ":")))
        )
    assert _code(lambda: store.latest("c1")) == "internal_error"
    store.close()


def test_a_nonce_is_written_down_once_and_purged_after_expiry(platform: Platform) -> None:
    """A used nonce is refused as replayed, by the check and by a second use; rows of expired
    nonces are purged by the next use."""
    store = ConsentStore(platform.engine, lambda: bytes(32))
    store.check_nonce("n1", NOW)
    store.take_nonce("n1", expires_at=NOW + 300, now=NOW)
    assert _code(lambda: store.check_nonce("n1", NOW)) == "replayed"
    assert _code(lambda: store.take_nonce("n1", expires_at=NOW + 300, now=NOW)) == "replayed"
    store.take_nonce("n2", expires_at=NOW + 900, now=NOW + 301)
    nonces = sa.table("consent_nonces", sa.column("nonce"))
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(nonces.c.nonce)).scalars().all() == ["n2"]
