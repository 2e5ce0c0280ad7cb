"""The access log's writer in a process of its own (``CIVIC_ACCESS_LOG_WRITER=process``, what
``civic up`` runs): the same receipts and chains as the thread, event loops and blocking callers
together, a writer that dies, and closing."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from civicstack.access import AccessEntry, parse_leaf
from civicstack.access.history import verify_history
from civicstack.errors import CivicError, InputError
from civicstack.log import verify_receipt
from civicstack.platform import Platform
from civicstack.services.exchange import AccessLogProcess, Recorded
from civicstack.services.exchange.access_log import serve_access_log
from civicstack.settings import Settings
from civicstack.testing import FixedClock
from tests.accesses import insurer_access
from tests.unit.stores.conftest import make_platform


@pytest.fixture
def served(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Platform]:
    """A platform whose access log is written by a child process."""
    p = make_platform(database_url, tmp_path, clock, CIVIC_ACCESS_LOG_WRITER="process")
    yield p
    p.close()


def _writer(platform: Platform) -> AccessLogProcess:
    recorder = platform.exchange.access_log
    assert isinstance(recorder, AccessLogProcess)
    return recorder


def _check(platform: Platform, recorded: list[Recorded]) -> None:
    """Every receipt verifies under the platform's access-log key and carries its entry."""
    verifier = platform.access_log_signer.verifier
    for got in recorded:
        assert got.receipt is not None
        assert got.receipt.extra == got.entry
        assert verify_receipt(got.receipt, [verifier]).index == got.index
        assert isinstance(parse_leaf(got.entry), AccessEntry)


def test_loops_and_blocking_callers_get_verifiable_receipts_and_whole_chains(
    served: Platform,
) -> None:
    """Forty accesses from one event loop and twenty from four threads at once: distinct
    indices, receipts that verify, and each citizen's history complete in the platform's
    store (the child wrote the chains, tags and map the parent reads)."""
    writer = _writer(served)
    citizens = [f"citizen-{n}" for n in range(3)]
    got: list[Recorded] = []
    errors: list[BaseException] = []

    def blocking(seed: int) -> None:
        try:
            for k in range(5):
                n = 1000 + seed * 10 + k
                got.append(writer.record(insurer_access(n), citizens[n % 3]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    async def on_a_loop() -> list[Recorded]:
        return await asyncio.gather(
            *(writer.record_async(insurer_access(n), citizens[n % 3]) for n in range(40))
        )

    threads = [threading.Thread(target=blocking, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    got += asyncio.run(on_a_loop())
    for t in threads:
        t.join()
    assert errors == []
    assert len(got) == 60
    assert len({r.index for r in got}) == 60
    _check(served, got)
    verifier = served.access_log_signer.verifier
    store = served.access_log_store
    counts = [len(verify_history(store.subject_history(c), [verifier]).entries) for c in citizens]
    assert counts == [20, 20, 20]
    assert writer.pid is not None
    assert writer.pid != os.getpid()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_answers_larger_than_the_pipe_takes_at_once_arrive_whole(
    served: Platform, loop: str
) -> None:
    """500 accesses at once from one loop: the answers (receipts with their checkpoint) come
    in messages far larger than one read of the non-blocking pipe, and every one is settled."""
    writer = _writer(served)

    async def many() -> list[Recorded]:
        return await asyncio.gather(
            *(writer.record_async(insurer_access(n), f"citizen-{n % 7}") for n in range(500))
        )

    if loop == "uvloop":
        import uvloop

        got = uvloop.run(many())
    else:
        got = asyncio.run(many())
    assert len({r.index for r in got}) == 500
    _check(served, got[::50])


def test_a_second_event_loop_is_answered_after_the_first_is_gone(served: Platform) -> None:
    """The answers are read by the loop that records; when that loop has finished (one
    asyncio.run after another), the next loop takes over reading them."""
    writer = _writer(served)
    first = asyncio.run(writer.record_async(insurer_access(1), "alice"))
    second = asyncio.run(writer.record_async(insurer_access(2), "alice"))
    assert second.index > first.index
    _check(served, [first, second])


def test_a_writer_that_dies_fails_what_waits_in_it_and_the_next_access_starts_another(
    served: Platform,
) -> None:
    """An access waiting in a writer that is killed gets ``access_log_unavailable`` (so no
    data is released); the next access starts a new writer, which continues the same log."""
    writer = _writer(served)
    before = writer.record(insurer_access(1), "alice")
    pid = writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the access below waits in a writer that cannot answer

    async def waiting_then_killed() -> None:
        pending = asyncio.ensure_future(writer.record_async(insurer_access(2), "alice"))
        await asyncio.sleep(0.2)
        assert not pending.done()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(CivicError) as refused:
            await asyncio.wait_for(pending, 30)
        assert refused.value.code == "access_log_unavailable"

    asyncio.run(waiting_then_killed())
    deadline = time.monotonic() + 30
    while writer.pid is not None and time.monotonic() < deadline:  # the loss is seen
        time.sleep(0.05)
    after = writer.record(insurer_access(3), "alice")
    assert writer.pid not in (None, pid)
    assert after.index > before.index
    _check(served, [before, after])
    history = verify_history(
        served.access_log_store.subject_history("alice"), [served.access_log_signer.verifier]
    )
    assert len(history.entries) in (2, 3)  # the killed batch is all or nothing


def test_closing_stops_the_writer_and_refuses_what_comes_after(served: Platform) -> None:
    writer = _writer(served)
    writer.record(insurer_access(1), "alice")
    pid = writer.pid
    assert pid is not None
    writer.close()
    assert writer.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the child has exited
    with pytest.raises(CivicError) as closed:
        writer.record(insurer_access(2), "alice")
    assert closed.value.code == "access_log_unavailable"


def test_the_writer_setting_is_thread_or_process(tmp_path: Path) -> None:
    settings = Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)})
    assert settings.access_log_writer == "thread"
    with pytest.raises(InputError) as bad:
        Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_ACCESS_LOG_WRITER": "fork"})
    assert bad.value.code == "invalid_setting"


def test_a_crowd_arriving_at_once_is_committed_in_halves_in_order(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Ten accesses in one message: the writer commits the older half first (so the API can
    answer it while the rest commits), then halves of what is left; every access is answered
    once, in the order sent, with a receipt in its own batch's checkpoint; then it stops."""
    platform = make_platform(database_url, tmp_path, clock)
    parent, child = multiprocessing.Pipe()
    jobs = [(n, insurer_access(n), f"citizen-{n % 3}") for n in range(10)]
    parent.send(jobs)
    parent.send(None)
    serve_access_log(child, platform.access_log_store)  # here: the answers fit in the pipe
    answers = []
    with suppress(EOFError):  # the writer closed its end after the last answer
        while True:
            answers.append(parent.recv())
    assert [len(a) for a in answers] == [5, 3, 2]
    got = [pair for answer in answers for pair in answer]
    assert [job for job, _ in got] == list(range(10))
    recorded = [outcome for _, outcome in got if isinstance(outcome, Recorded)]
    assert len(recorded) == len(got)
    _check(platform, recorded)
    checkpoints = [{r.receipt.checkpoint for _, r in answer} for answer in answers]
    assert [len(c) for c in checkpoints] == [1, 1, 1]
    platform.close()
