"""The access log's write path (the log store's group-commit writer): several writers on one
database, failed batches, and receipts whose proofs come from the writer's memory."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from civicstack._crypto import PrivateKey
from civicstack.access import AccessEntry, parse_leaf, subject_key, subject_tag
from civicstack.access.history import verify_history
from civicstack.log import NoteSigner, verify_receipt
from civicstack.services.exchange import AccessLog
from civicstack.stores.db import create_engine, upgrade
from civicstack.stores.exchange import AccessLogStore
from civicstack.stores.log import LogStore
from tests.accesses import insurer_access

SIGNER = NoteSigner("test.civicstack.example/access", PrivateKey.generate("EdDSA"))


@pytest.fixture
def engines(database_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one migrated database: two processes' connections."""
    one, two = create_engine(database_url), create_engine(database_url)
    upgrade(one)
    yield one, two
    one.dispose()
    two.dispose()


def _store(engine: Engine) -> AccessLogStore:
    store = AccessLogStore(LogStore(engine), SIGNER)
    store.ensure()
    return store


def _close(*stores: AccessLogStore) -> None:
    for store in stores:
        store.close()
        store.logs.close()


def _state(store: AccessLogStore) -> tuple[object, ...]:
    """Every row a batch writes: log size and checkpoint, heads, tags, map nodes."""
    with store.logs.engine.connect() as conn:
        return (
            store.logs.head(store.name).size,
            conn.exec_driver_sql("SELECT checkpoint FROM log_logs").all(),
            sorted(conn.exec_driver_sql("SELECT * FROM access_subjects").all()),
            sorted(conn.exec_driver_sql("SELECT * FROM access_tags").all()),
            sorted(conn.exec_driver_sql("SELECT id, hash FROM access_map_nodes").all()),
            conn.exec_driver_sql("SELECT count(*) FROM log_leaves").scalar_one(),
        )


def test_two_writers_on_one_database_keep_every_chain_and_the_map(
    engines: tuple[Engine, Engine],
) -> None:
    """Two stores with their own connections append at once from four threads: indices are
    unique, every citizen's history (chain, tags, map proof) verifies complete."""
    stores = (_store(engines[0]), _store(engines[1]))
    citizens = [f"citizen-{n}" for n in range(5)]
    errors: list[BaseException] = []

    def write(store: AccessLogStore, seed: int) -> None:
        try:
            for k in range(12):
                n = seed * 100 + k
                store.append_accesses(
                    [
                        (insurer_access(n), citizens[n % 5]),
                        (insurer_access(n + 50), citizens[(n + 1) % 5]),
                    ]
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(stores[t % 2], t)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = 0
    for citizen in citizens:
        history = verify_history(stores[0].subject_history(citizen), [SIGNER.verifier])
        total += len(history.entries)
    assert total == 4 * 12 * 2
    assert stores[0].logs.head(stores[0].name).size == 4 * 12 * 3
    _close(*stores)


def test_a_failed_batch_leaves_nothing_and_the_next_one_is_whole(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that fails after writing its heads, tags and map (before the entries) leaves
    every table as it was; the same writer's next batch (and another writer's) verify."""
    first, second = _store(engines[0]), _store(engines[1])
    first.append_accesses([(insurer_access(1), "alice"), (insurer_access(2), "bob")])
    before = _state(first)
    with monkeypatch.context() as patched:

        def broken(*_: object, **__: object) -> None:
            raise OSError("disk full")

        patched.setattr(first.logs, "_extend", broken)
        with pytest.raises(OSError, match="disk full"):
            first.append_accesses([(insurer_access(3), "alice"), (insurer_access(4), "carol")])
    assert _state(first) == before
    first.append_accesses([(insurer_access(5), "alice"), (insurer_access(6), "carol")])
    second.append_accesses([(insurer_access(7), "alice")])
    first.append_accesses([(insurer_access(8), "alice")])
    counts = {
        who: len(verify_history(first.subject_history(who), [SIGNER.verifier]).entries)
        for who in ("alice", "bob", "carol")
    }
    assert counts == {"alice": 4, "bob": 1, "carol": 1}
    _close(first, second)


def test_a_statement_the_database_refuses_rolls_the_whole_batch_back(
    engines: tuple[Engine, Engine],
) -> None:
    """On PostgreSQL the batch's writes go in a pipeline, whose errors arrive later (with the
    next read or the commit): a write the database refuses still fails the batch, leaves every
    table as it was, and the next batch is whole."""
    store = _store(engines[0])
    store.append_accesses([(insurer_access(1), "alice")])
    before = _state(store)
    with engines[0].begin() as conn:  # the tag alice's next access will have: taken
        tag = subject_tag(subject_key("alice"), 1)
        conn.exec_driver_sql(
            store._reads.sql("INSERT INTO access_tags (tag, idx) VALUES (?, ?)"), (tag, 999)
        )
    taken = _state(store)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own integrity error
        store.append_accesses([(insurer_access(2), "bob"), (insurer_access(3), "alice")])
    assert _state(store) == taken
    with engines[0].begin() as conn:
        conn.exec_driver_sql(store._reads.sql("DELETE FROM access_tags WHERE idx = ?"), (999,))
    assert _state(store) == before
    store.append_accesses([(insurer_access(4), "alice"), (insurer_access(5), "bob")])
    counts = {
        who: len(verify_history(store.subject_history(who), [SIGNER.verifier]).entries)
        for who in ("alice", "bob")
    }
    assert counts == {"alice": 2, "bob": 1}
    _close(store)


def test_receipts_prove_inclusion_across_bundles_and_other_writers(
    engines: tuple[Engine, Engine],
) -> None:
    """Receipts, whose proofs the writer makes from memory, verify against their checkpoint and
    equal the proofs read from the tiles, over bundle boundaries and after another writer's
    batches."""
    first, second = _store(engines[0]), _store(engines[1])
    writers = (AccessLog(first), AccessLog(second))
    recorded = []
    for n in range(300):
        writer = writers[0] if n % 37 else writers[1]
        batch = [(insurer_access(n * 10 + k), f"c-{(n + k) % 7}") for k in range(n % 3 + 1)]
        recorded += [writer.record(e, s) for e, s in batch]
    for got in recorded:
        assert got.receipt is not None
        assert got.receipt.extra == got.entry
        verify_receipt(got.receipt, [SIGNER.verifier])
        size = int(got.receipt.checkpoint.split("\n")[1])
        assert list(got.receipt.proof) == first.inclusion_proof(got.index, size)
        assert isinstance(parse_leaf(got.entry), AccessEntry)
    for w in writers:
        w.close()
    _close(first, second)
