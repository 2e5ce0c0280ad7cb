"""The verifier's storage on SQLite and PostgreSQL: single-use requests, the replay guard, keys."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from civicstack.errors import CivicError
from civicstack.openid4vp.verifier_requests import StoredRequest
from civicstack.platform import Platform
from civicstack.stores import db
from civicstack.stores.verifier import VerifierStore

OUR_TABLES = {
    "presentation_requests",
    "presentation_attempts",
    "verifier_replay",
    "verifier_api_keys",
}
NOW = 1_767_225_600


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def _request(
    request_id: str = "r1", *, expires_at: int = NOW + 600, **change: str
) -> StoredRequest:
    return StoredRequest(
        id=request_id,
        relying_party="shop",
        client_id="verifier_attestation:https://x/verifiers/shop",
        purpose="age_check",
        preset="age_over_18",
        dcql_query="{}",
        nonce=change.get("nonce", f"nonce-{request_id}"),
        state=f"state-{request_id}",
        request_object="a.b.c",
        created_at=NOW,
        expires_at=expires_at,
        status="pending",
    )


@pytest.fixture
def store(platform: Platform) -> VerifierStore:
    """The verifier store of a migrated platform."""
    return platform.verifier_store


def test_migration_matches_the_tables(platform: Platform, store: VerifierStore) -> None:
    """The verifier's Alembic branch creates exactly the tables the code uses."""
    with platform.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in OUR_TABLES)] == []
    assert set(sa.inspect(platform.engine).get_table_names()) >= OUR_TABLES


def test_requests_are_stored_and_found(store: VerifierStore) -> None:
    """A request is found by id and by state; ids, nonces and states are unique."""
    store.create(_request())
    assert store.get("r1").status == "pending"
    found = store.by_state("state-r1")
    assert found is not None
    assert found.id == "r1"
    assert store.by_state("nope") is None
    assert _code(lambda: store.get("nope")) == "not_found"
    assert _code(lambda: store.create(_request())) == "conflict"
    assert _code(lambda: store.create(_request("r2", nonce="nonce-r1"))) == "conflict"


def test_a_request_is_answered_once(store: VerifierStore) -> None:
    """The first outcome stands; a second is request_answered; past expiry is expired."""
    store.create(_request())
    store.finish("r1", status="verified", now=NOW + 1, result={"claims": {}, "credentials": {}})
    assert _code(lambda: store.finish("r1", status="failed", now=NOW + 2)) == "request_answered"
    done = store.get("r1")
    assert (done.status, done.answered_at) == ("verified", NOW + 1)
    store.create(_request("r2"))
    assert _code(lambda: store.finish("r2", status="failed", now=NOW + 600)) == "expired"
    assert store.get("r2").status == "pending"
    assert _code(lambda: store.finish("r3", status="failed", now=NOW)) == "not_found"


def test_a_replayed_digest_writes_nothing(store: VerifierStore) -> None:
    """A digest accepted before fails the whole outcome: nothing of it is written."""
    store.remember("d1", relying_party="shop", until=NOW + 600)
    store.create(_request())
    code = _code(
        lambda: store.finish(
            "r1", status="verified", now=NOW, digests=["d2", "d1"], replay_until=NOW + 600
        )
    )
    assert code == "replayed"
    assert store.get("r1").status == "pending"
    assert store.remember_many([("d2", "shop", NOW + 600)]) == {"d2"}  # d2 was rolled back


def test_concurrent_outcomes_one_wins(store: VerifierStore) -> None:
    """Eight threads finishing one request at once: exactly one succeeds."""
    store.create(_request())
    results: list[str] = []

    def attempt(n: int) -> None:
        try:
            store.finish(
                "r1",
                status="verified",
                now=NOW,
                result={"claims": {"n": n}},
                digests=[f"d{n}"],
                replay_until=NOW + 9,
            )
            results.append("ok")
        except CivicError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["request_answered"] * 7


def test_replay_guard(store: VerifierStore) -> None:
    """remember refuses a digest twice; remember_many reports the new ones, once each."""
    store.remember("a", relying_party="shop", until=NOW + 10)
    assert _code(lambda: store.remember("a", relying_party="shop", until=NOW + 10)) == "replayed"
    assert store.remember_many([("a", "shop", 1), ("b", "shop", 1), ("b", "shop", 1)]) == {"b"}
    assert store.remember_many([]) == set()


def test_purge(store: VerifierStore) -> None:
    """Purging drops digests past their use and requests long expired, nothing else."""
    store.remember("old", relying_party="shop", until=NOW - 1)
    store.remember("live", relying_party="shop", until=NOW + 10)
    store.create(_request("gone", expires_at=NOW - 31 * 86_400))
    store.create(_request("kept"))
    assert store.purge(NOW, result_retention=600) == 2
    assert store.remember_many([("old", "shop", NOW + 1)]) == {"old"}
    assert store.remember_many([("live", "shop", NOW + 1)]) == set()
    assert _code(lambda: store.get("gone")) == "not_found"
    assert store.get("kept").status == "pending"


def test_api_keys(store: VerifierStore) -> None:
    """Keys are kept by hash, listed per relying party, revoked once."""
    store.add_key("k1", "shop", "h1", now=NOW)
    store.add_key("k2", "bank", "h2", now=NOW)
    key = store.key("k1")
    assert key is not None
    assert (key.relying_party, key.secret_hash, key.revoked_at) == ("shop", "h1", None)
    assert [k.id for k in store.keys("shop")] == ["k1"]
    store.revoke_key("k1", now=NOW + 5)
    revoked = store.key("k1")
    assert revoked is not None
    assert revoked.revoked_at == NOW + 5
    assert _code(lambda: store.revoke_key("k1", now=NOW)) == "not_found"
    assert store.key("nope") is None


def test_attempts_are_counted_until_the_request_ends(store: VerifierStore) -> None:
    """A failed answer is counted and kept while the request is pending; once answered or
    expired it is request_answered or expired, and nothing is written."""
    store.create(_request())
    store.record_attempt("r1", now=NOW, error_code="consent_declined", detail="access_denied")
    store.finish("r1", status="verified", now=NOW + 1, result={"claims": {}})
    code = _code(lambda: store.record_attempt("r1", now=NOW + 2, error_code="x", detail=""))
    assert code == "request_answered"
    store.create(_request("r2"))
    assert _code(lambda: store.record_attempt("r2", now=NOW + 600, error_code="x", detail="")) == (
        "expired"
    )
    assert _code(lambda: store.record_attempt("r3", now=NOW, error_code="x", detail="")) == (
        "not_found"
    )
    done = store.get("r1")
    assert (done.attempt_count, [a.code for a in done.attempts]) == (1, ["consent_declined"])
    assert store.get("r2").attempt_count == 0


def test_attempts_racing_an_answer(store: VerifierStore) -> None:
    """Attempts and valid answers at once: one answer wins, every attempt before it is counted
    with its own number, none after it."""
    store.create(_request())
    results: list[str] = []

    def answer(n: int) -> None:
        try:
            if n % 2:
                store.record_attempt("r1", now=NOW, error_code=f"e{n}", detail="")
            else:
                store.finish("r1", status="verified", now=NOW, result={"n": n}, digests=[f"d{n}"])
            results.append("ok")
        except CivicError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=answer, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = store.get("r1")
    assert row.status == "verified"
    assert row.attempt_count == len(row.attempts) == results.count("ok") - 1
    assert sorted(a.code for a in row.attempts) == sorted({a.code for a in row.attempts})
    assert set(results) <= {"ok", "request_answered"}


def test_a_result_is_taken_once(store: VerifierStore) -> None:
    """Eight readers take one result at once: exactly one gets it, the others result_fetched;
    it is sealed, not in clear, until then."""
    store.create(_request())
    store.finish("r1", status="verified", now=NOW, result={"claims": {"given_name": "Amara"}})
    with store.engine.connect() as conn:
        blob = conn.execute(sa.text("SELECT result_sealed FROM presentation_requests")).scalar()
    assert b"Amara" not in bytes(blob)
    results: list[object] = []

    def take() -> None:
        try:
            results.append(store.take_result("r1", now=NOW + 1, retention=600))
        except CivicError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)) == sorted(
        [str({"claims": {"given_name": "Amara"}})] + ["result_fetched"] * 7
    )
    assert store.get("r1").result_fetched_at == NOW + 1


def test_a_sealed_result_is_bound_to_its_request(store: VerifierStore) -> None:
    """A sealed result moved to another request's row does not open there."""
    store.create(_request())
    store.create(_request("r2"))
    store.finish("r1", status="verified", now=NOW, result={"claims": {"a": 1}})
    store.finish("r2", status="verified", now=NOW, result={"claims": {"b": 2}})
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE presentation_requests SET result_sealed = "
                "(SELECT result_sealed FROM presentation_requests WHERE id = 'r1') "
                "WHERE id = 'r2'"
            )
        )
    assert _code(lambda: store.take_result("r2", now=NOW, retention=600)) == "internal_error"


def test_purge_clears_unread_results(store: VerifierStore) -> None:
    """Purging deletes results unread past their retention and keeps their request."""
    store.create(_request("old"))
    store.create(_request("new"))
    store.finish("old", status="verified", now=NOW, result={"claims": {}})
    store.finish("new", status="verified", now=NOW + 10, result={"claims": {}})
    assert store.purge(NOW + 600, result_retention=600) == 1
    assert (store.get("old").result_kept, store.get("new").result_kept) == (False, True)
    assert _code(lambda: store.take_result("old", now=NOW + 600, retention=600)) == (
        "result_purged"
    )
    assert store.take_result("new", now=NOW + 600, retention=600) == {"claims": {}}
