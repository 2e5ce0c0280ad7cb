"""A citizen's access history over HTTP (``POST /access/history``), on SQLite and PostgreSQL:
complete when nothing was touched; an entry hidden, deleted or altered in the database, or the
subject map tampered with, is caught by the wallet's check with its own code; hostile requests
are refused with stable codes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from civicstack.access import AccessEntry, map_key, parse_leaf, subject_key, subject_tag
from civicstack.access.history import SubjectHistory, VerifiedHistory, verify_history
from civicstack.demo.world import DEMO_CITIZENS
from civicstack.errors import CivicError
from civicstack.log import NoteVerifier
from civicstack.pairwise import ACCESS_LOG_SECTOR, Subject
from civicstack.stores.exchange import AccessLogStore
from civicstack.testing import FixedClock

from .conftest import make_world
from .test_exchange import AMARA, Exchange

BOLA = Subject(*DEMO_CITIZENS[1])


@pytest.fixture
def ex(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Exchange]:
    """The demo world with three accesses about Amara, one about Bola, one unattributed."""
    w = make_world(database_url, tmp_path, clock)
    with w.client:
        e = Exchange(w)
        consent = e.give()
        for _ in range(3):
            assert e.fetch(consent).status_code == 200
        bola = e.give(subject=BOLA)
        assert e.fetch(bola, subject=e.sid("insurer", BOLA)).status_code == 200
        assert e.fetch(consent, subject="A" * 43).status_code == 403
        yield e
    w.platform.close()


def _answer(ex: Exchange, subject: Subject = AMARA) -> SubjectHistory:
    issued = ex.world.client.post("/access/nonces").json()
    presentation, nonce, _ = ex.consents.proof(subject, audience=issued["aud"])
    r = ex.world.client.post("/access/history", json={"presentation": presentation, "nonce": nonce})
    assert r.status_code == 200, r.text
    return SubjectHistory.from_json(r.json())


def _verify(ex: Exchange, subject: Subject = AMARA) -> VerifiedHistory:
    key = NoteVerifier.parse(ex.world.client.get("/access").json()["verifier_key"])
    return verify_history(_answer(ex, subject), [key])


def _code(ex: Exchange) -> str:
    with pytest.raises(CivicError) as caught:
        _verify(ex)
    return caught.value.code


def _sql(ex: Exchange, statement: str, params: tuple[object, ...]) -> int:
    sql = statement if ex.platform.engine.dialect.name == "sqlite" else statement.replace("?", "%s")
    with ex.platform.engine.begin() as conn:
        return int(conn.exec_driver_sql(sql, params).rowcount)


def _tag(ex: Exchange, counter: int) -> bytes:
    return subject_tag(subject_key(ex.sid(ACCESS_LOG_SECTOR)), counter)


def test_the_history_is_complete_and_names_each_access(ex: Exchange) -> None:
    """Amara's three accesses come back, each proven, and the map proves there are no more."""
    got = _verify(ex)
    assert [e.entry.requester for e in got.entries] == ["insurer"] * 3
    assert {e.entry.outcome for e in got.entries} == {"released"}
    assert all(e.entry.consent for e in got.entries)
    assert got.head.count == 3
    assert got.checkpoint.size == ex.world.client.get("/access").json()["size"]
    assert _verify(ex, BOLA).head.count == 1


def test_a_citizen_with_no_accesses_gets_a_proof_of_none(ex: Exchange) -> None:
    """A citizen never accessed gets an empty history, proven by the map's absence proof."""
    stranger = Subject(*DEMO_CITIZENS[2])
    assert _verify(ex, stranger).entries == ()


@pytest.mark.parametrize("counter", [1, 2])
def test_an_entry_hidden_by_its_index_row_is_caught(ex: Exchange, counter: int) -> None:
    """An entry the platform no longer finds (its tag row deleted: the middle one, or the
    newest that only the map still counts) makes the history incomplete."""
    assert _sql(ex, "DELETE FROM access_tags WHERE tag = ?", (_tag(ex, counter),)) == 1
    assert _code(ex) == "access_history_incomplete"


def test_an_entry_altered_in_the_database_is_caught(ex: Exchange) -> None:
    """An entry whose stored bytes were changed no longer matches the signed tree."""
    index = _answer(ex).entries[1].index
    changed = _sql(
        ex,
        "UPDATE log_leaves SET entry = ? WHERE idx = ?",
        (_answer(ex).entries[1].data.replace(b"insurance_quote", b"insurance_quota"), index),
    )
    assert changed == 1
    assert _code(ex) == "inclusion_proof_invalid"


def test_an_entry_deleted_from_the_log_is_caught(ex: Exchange) -> None:
    """A leaf row deleted from the log leaves the platform unable to prove its checkpoint."""
    index = _answer(ex).entries[0].index
    assert _sql(ex, "DELETE FROM log_leaves WHERE idx = ?", (index,)) == 1
    # The leaf's bundle cannot be read back whole: nothing of it is served, the map root
    # (the checkpoint's last leaf, in the same bundle) included.
    assert _code(ex) == "map_root_missing"


def test_a_tampered_subject_map_is_caught(ex: Exchange) -> None:
    """A map leaf rewritten (say, to an older head) no longer leads to the committed root."""
    key = map_key(subject_key(ex.sid(ACCESS_LOG_SECTOR)))
    changed = _sql(
        ex, "UPDATE access_map_nodes SET leaf_value = ? WHERE leaf_key = ?", (bytes(32), key)
    )
    assert changed == 1
    assert _code(ex) == "map_proof_invalid"


def test_another_citizens_entries_are_not_served(ex: Exchange) -> None:
    """A tag row pointed at Bola's entry breaks Amara's chain."""
    bola = _answer(ex, BOLA).entries[0].index
    assert _sql(ex, "UPDATE access_tags SET idx = ? WHERE tag = ?", (bola, _tag(ex, 0))) == 1
    assert _code(ex) == "access_history_incomplete"


def test_hostile_requests_are_refused_with_stable_codes(ex: Exchange) -> None:
    """No nonce, an unknown nonce, a presentation for another audience, extra members and an
    oversize body are refused, and nothing is served."""
    client = ex.world.client
    presentation, nonce, _ = ex.consents.proof(AMARA)  # to the consent service, not /access
    cases = [
        ({"presentation": presentation}, 400, None),
        ({"presentation": presentation, "nonce": "nope"}, 400, None),
        ({"presentation": presentation, "nonce": nonce, "extra": 1}, 400, None),
        ({"presentation": "x" * 200_000, "nonce": nonce}, 413, "too_large"),
    ]
    for body, status, code in cases:
        r = client.post("/access/history", json=body)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        if code:
            assert r.json()["code"] == code
    issued = client.post("/access/nonces").json()
    wrong, _, _ = ex.consents.proof(AMARA)
    r = client.post("/access/history", json={"presentation": wrong, "nonce": issued["nonce"]})
    assert r.status_code == 400
    assert r.json()["code"] in {"wrong_audience", "wrong_nonce"}


def test_the_map_root_is_the_last_leaf_of_every_checkpoint(ex: Exchange) -> None:
    """``/access/entries`` serves the map root leaf as such."""
    size = ex.world.client.get("/access").json()["size"]
    last = ex.world.client.get(f"/access/entries/{size - 1}").json()
    assert set(last) == {"index", "v", "subject_map"}


def test_the_store_seals_a_log_written_before_the_map(ex: Exchange, tmp_path: Path) -> None:
    """A log whose last leaf is not a map root (written before the map existed) gets one."""
    store = ex.platform.access_log_store
    assert store.seal_map() is False
    store.logs.append(store.name, [b'{"v":1,"old":true}'], store.signer)
    assert store.seal_map() is True
    assert store.seal_map() is False
    assert _verify(ex).head.count == 3


def test_two_writers_keep_one_map(ex: Exchange, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two access stores on one database (two processes) write in turn, with a batch that
    fails after its rows and map were written: each store's cached map is checked against the
    stored root before it is used, so every citizen's history still verifies."""
    first = ex.platform.access_log_store
    second = AccessLogStore(first.logs, first.signer)
    access = parse_leaf(_answer(ex).entries[0].data)
    assert isinstance(access, AccessEntry)
    access = replace(access, subject=None)  # the store marks it anew
    me = ex.sid(ACCESS_LOG_SECTOR)
    for store in (second, first, second):
        store.append_accesses([(access, me), (access, "someone-else")])
    with monkeypatch.context() as patched:

        def broken(*_: object, **__: object) -> None:
            raise OSError("disk full")

        patched.setattr(first.logs, "_extend", broken)
        with pytest.raises(OSError, match="disk full"):
            first.append_accesses([(access, me)])
    first.append_accesses([(access, me)])
    assert _verify(ex).head.count == 3 + 3 + 1
    second.close()
