"""DurableLog.append_async and append_many_async on SQLite and PostgreSQL: the appends of a
loop turn committed together off the loop, their indices, a failing batch, cancellation,
close() with appends in flight, several event loops, and a kill -9 mid-stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicstack.errors import CivicError
from civicstack.log import DurableLog, leaf_hash, mth, verify_inclusion

POISON = b"poison"


@pytest.fixture
def log(database_url: str) -> Iterator[DurableLog]:
    """A new log on a fresh database."""
    opened = DurableLog.open(database_url, "async")
    yield opened
    opened.close()
    opened.store.engine.dispose()


def _reopened(database_url: str) -> DurableLog:
    """Another handle on the log (its own connections): sees only what was committed."""
    return DurableLog.open(database_url, "async")


def _close(log: DurableLog) -> None:
    log.close()
    log.store.engine.dispose()


def _poison_the_leaves(log: DurableLog) -> None:
    """Make the database refuse any leaf whose entry is POISON (a trigger on each engine)."""
    with log.store.engine.begin() as conn:
        if log.store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON log_leaves"
                " WHEN NEW.entry = X'706f69736f6e' BEGIN SELECT RAISE(ABORT, 'poison'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " IF NEW.entry = '\\x706f69736f6e'::bytea THEN RAISE EXCEPTION 'poison'; END IF;"
                " RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON log_leaves"
                " FOR EACH ROW EXECUTE FUNCTION poison()"
            )


async def _writers(log: DurableLog, tasks: int, each: int, tag: str) -> dict[int, bytes]:
    """``tasks`` tasks appending ``each`` entries one at a time (every third task two at a
    time, with append_many_async); index -> entry."""
    got: dict[int, bytes] = {}

    async def work(k: int) -> None:
        j = 0
        while j < each:
            if k % 3 == 0 and j + 1 < each:
                pair = [b"%s%d-%d" % (tag.encode(), k, j), b"%s%d-%d" % (tag.encode(), k, j + 1)]
                first, second = await log.append_many_async(pair)
                assert second == first + 1  # atomic: contiguous
                got[first], got[second] = pair
                j += 2
            else:
                entry = b"%s%d-%d" % (tag.encode(), k, j)
                got[await log.append_async(entry)] = entry
                j += 1

    await asyncio.gather(*(work(k) for k in range(tasks)))
    return got


def test_tasks_get_contiguous_unique_indices_every_entry_committed_and_proved(
    log: DurableLog, database_url: str
) -> None:
    """24 tasks appending at once: every index once, 0..n-1; another connection reads every
    entry at its index, and each one's inclusion proof verifies against the root."""
    got = asyncio.run(_writers(log, 24, 12, "t"))
    n = 24 * 12
    assert sorted(got) == list(range(n))
    other = _reopened(database_url)
    assert other.size() == n
    stored = other.entries(0, n)
    assert stored == [got[i] for i in range(n)]
    root = other.root()
    assert root == mth([leaf_hash(e) for e in stored])
    for i in range(n):
        verify_inclusion(leaf_hash(stored[i]), i, n, other.inclusion_proof(i, n), root)
    _close(other)


def test_a_failing_commit_fails_every_append_of_its_batch_and_shows_none(
    log: DurableLog, database_url: str
) -> None:
    """One entry the database refuses, in a turn of 16 appends: all 16 raise internal_error,
    none is visible; an append invalid on its own fails alone, before joining a batch."""
    log.append(b"before")
    _poison_the_leaves(log)

    async def burst(poisoned: bool) -> list[int | BaseException]:
        entries = [b"b%d" % k for k in range(16)]
        if poisoned:
            entries[7] = POISON
        calls = [log.append_async(e) for e in entries]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(burst(poisoned=True))
    assert all(isinstance(r, CivicError) and r.code == "internal_error" for r in results)
    assert len({id(r) for r in results}) == 16  # each task its own exception
    other = _reopened(database_url)
    assert other.size() == 1
    assert other.entries(0, 1) == [b"before"]

    async def with_an_invalid_one() -> list[object]:
        calls = [log.append_async(b"ok%d" % k) for k in range(4)]
        got = await asyncio.gather(log.append_many_async([]), *calls, return_exceptions=True)
        return list(got)

    invalid, *fine = asyncio.run(with_an_invalid_one())
    assert isinstance(invalid, CivicError)
    assert invalid.code == "invalid_request"
    assert fine == [1, 2, 3, 4]  # one batch, in the order the appends were made
    assert asyncio.run(burst(poisoned=False)) == list(range(5, 21))
    assert other.entries(0, 21) == [b"before"] + [b"ok%d" % k for k in range(4)] + [
        b"b%d" % k for k in range(16)
    ]
    _close(other)


def test_cancelling_an_awaiting_task_does_not_withdraw_its_append(log: DurableLog) -> None:
    """Cancelled before its turn ends or while its batch commits, an append is committed
    anyway, once; a task cancelled before it calls append_async appends nothing."""

    async def main() -> dict[int, bytes]:
        never = asyncio.create_task(log.append_async(b"never"))
        never.cancel()  # before its first step: append_async is never called
        entries = [b"c%d" % k for k in range(16)]
        calls = [asyncio.create_task(log.append_async(e)) for e in entries]
        await asyncio.sleep(0)  # every task has called append_async: the turn's batch
        for task in calls[:4]:
            task.cancel()  # before the end of the turn that gathered them
        await asyncio.sleep(0)  # the turn ended: the batch went to the writer thread
        for task in calls[4:8]:
            task.cancel()  # while the batch commits
        done = await asyncio.gather(never, *calls, return_exceptions=True)
        assert isinstance(done[0], asyncio.CancelledError)
        assert all(isinstance(r, asyncio.CancelledError) for r in done[1:9])
        indices = [i for i in done[9:] if isinstance(i, int)]
        return dict(zip(indices, entries[8:], strict=True))

    answered = asyncio.run(main())
    assert log.size() == 16
    stored = log.entries(0, 16)
    assert sorted(stored) == sorted(b"c%d" % k for k in range(16))  # each once
    assert all(stored[i] == e for i, e in answered.items())
    assert log.append(b"after") == 16


def test_close_commits_the_appends_in_flight_and_refuses_later_ones(
    log: DurableLog, database_url: str
) -> None:
    """close() on the loop, with one batch committing and the next still gathering: both are
    committed and answered; appends after close raise log_closed."""

    async def main() -> tuple[list[int], CivicError]:
        first = [asyncio.create_task(log.append_async(b"f%d" % k)) for k in range(8)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the first batch is with the writer thread
        second = [asyncio.create_task(log.append_async(b"s%d" % k)) for k in range(8)]
        await asyncio.sleep(0)  # the second batch is gathering: its turn has not ended
        log.close()
        other = _reopened(database_url)  # close() returned: both batches are committed
        assert other.size() == 16
        _close(other)
        got = await asyncio.gather(*first, *second)
        with pytest.raises(CivicError) as refused:
            await log.append_async(b"late")
        return got, refused.value

    got, refused = asyncio.run(main())
    assert sorted(got) == list(range(16))
    assert refused.code == "log_closed"
    other = _reopened(database_url)
    assert sorted(other.entries(0, other.size())) == sorted(
        [b"f%d" % k for k in range(8)] + [b"s%d" % k for k in range(8)]
    )
    _close(other)


def test_event_loops_one_after_another_and_at_once_share_one_log(log: DurableLog) -> None:
    """asyncio.run twice, then two loops in two threads with a thread calling append: one
    log, every index once."""
    got = asyncio.run(_writers(log, 8, 5, "a"))
    got.update(asyncio.run(_writers(log, 8, 5, "b")))
    results: list[dict[int, bytes]] = []

    def loop_thread(tag: str) -> None:
        results.append(asyncio.run(_writers(log, 8, 10, tag)))

    def sync_thread() -> None:
        results.append({log.append(b"sync%d" % j): b"sync%d" % j for j in range(40)})

    threads = [
        threading.Thread(target=loop_thread, args=("c",)),
        threading.Thread(target=loop_thread, args=("d",)),
        threading.Thread(target=sync_thread),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for part in results:
        assert not set(part) & set(got)
        got.update(part)
    assert sorted(got) == list(range(80 + 160 + 40))
    assert log.entries(0, len(got)) == [got[i] for i in range(len(got))]


def test_an_append_stranded_on_a_closed_loop_is_committed_by_the_next_turn_or_close(
    log: DurableLog, database_url: str
) -> None:
    """A loop stopped and closed before the end of the turn in which an append was made never
    hands it over; the next loop's batch takes it along, and close() takes what is left."""

    def strand(entry: bytes) -> None:
        loop = asyncio.new_event_loop()

        async def go() -> None:
            loop.stop()  # the loop ends with this turn, before the turn's batch is handed over
            await log.append_async(entry)

        loop.call_soon(lambda: loop.create_task(go()) and None)
        loop.run_forever()
        loop.close()

    strand(b"stranded-1")
    assert log.size() == 0
    assert asyncio.run(_writers(log, 1, 1, "next")) != {}
    assert sorted(log.entries(0, log.size())) == [b"next0-0", b"stranded-1"]
    strand(b"stranded-2")
    log.close()
    other = _reopened(database_url)
    assert other.entries(0, other.size())[-1] == b"stranded-2"
    _close(other)


KILLED = """
import asyncio, sys
from civicstack.log import DurableLog
log = DurableLog.open(sys.argv[1], "async")

async def work(k):
    n = 0
    while True:
        i = await log.append_async(b"k%d-%d" % (k, n))
        print(i, k, n, flush=True)  # acknowledged: append_async returned
        n += 1

async def main():
    await asyncio.gather(*(work(k) for k in range(8)))

asyncio.run(main())
"""


def test_async_appends_acknowledged_before_a_kill_9_are_all_there(
    log: DurableLog, database_url: str, tmp_path: Path
) -> None:
    """Eight tasks appending until SIGKILL: every append that returned is in the log at its
    index, and the log is contiguous (across a full tile)."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen(
        [sys.executable, str(script), database_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked: dict[int, bytes] = {}

    def take(line: str) -> None:
        i, k, n = map(int, line.split())
        acked[i] = b"k%d-%d" % (k, n)

    for line in proc.stdout:
        take(line)
        if len(acked) == 300:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    for line in filter(None, proc.stdout.read().split("\n")):
        take(line)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    again = _reopened(database_url)
    size = again.size()
    assert size >= len(acked)
    assert max(acked) < size
    stored = again.entries(0, size)
    assert all(stored[i] == e for i, e in acked.items())
    assert again.root() == mth([leaf_hash(e) for e in stored])
    assert again.append(b"after") == size
    _close(again)
