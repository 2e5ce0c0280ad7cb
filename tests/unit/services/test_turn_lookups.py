"""Point reads gathered per event-loop turn
(:class:`civicstack.services.turn_batches.TurnLookups`)."""

from __future__ import annotations

import asyncio

import pytest

from civicstack.services.turn_batches import TurnLookups


def test_the_reads_of_one_turn_are_one_lookup_and_each_gets_its_value() -> None:
    """Keys asked in one turn are looked up once (a key asked twice, once); a key the lookup
    leaves out is None; the next turn makes another lookup."""
    asked: list[list[str]] = []

    def lookup(keys: list[str]) -> dict[str, int]:
        asked.append(keys)
        return {k: len(k) for k in keys if k != "absent"}

    reads = TurnLookups(lookup)

    async def main() -> tuple[list[int | None], int | None]:
        first = await asyncio.gather(*(reads.get(k) for k in ("a", "bb", "absent", "bb")))
        later = await reads.get("ccc")
        return first, later

    first, later = asyncio.run(main())
    assert first == [1, 2, None, 2]
    assert later == 3
    assert asked == [["a", "bb", "absent"], ["ccc"]]


def test_a_failed_lookup_fails_every_read_of_its_turn_only() -> None:
    """Every read of the turn whose lookup raised gets the error; the next turn reads again."""
    calls = 0

    def lookup(keys: list[str]) -> dict[str, str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database gone")
        return {k: k.upper() for k in keys}

    reads = TurnLookups(lookup)

    async def main() -> tuple[list[object], str | None]:
        failed = await asyncio.gather(reads.get("x"), reads.get("y"), return_exceptions=True)
        return failed, await reads.get("z")

    failed, after = asyncio.run(main())
    assert [type(f) for f in failed] == [OSError, OSError]
    assert after == "Z"


def test_each_event_loop_has_its_own_turns() -> None:
    """Two loops (two ``asyncio.run``) never share a batch or a pending future."""
    reads = TurnLookups(lambda keys: {k: k for k in keys})
    assert asyncio.run(reads.get("one")) == "one"
    assert asyncio.run(reads.get("two")) == "two"


def test_a_cancelled_read_does_not_stop_the_others() -> None:
    """A request cancelled while its read waits leaves the others of its turn answered."""
    reads = TurnLookups(lambda keys: {k: k * 2 for k in keys})

    async def main() -> list[object]:
        tasks = [asyncio.ensure_future(reads.get(k)) for k in ("p", "q")]
        await asyncio.sleep(0)  # both reads are waiting now
        tasks[0].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    got = asyncio.run(main())
    assert isinstance(got[0], asyncio.CancelledError)
    assert got[1] == "qq"


@pytest.mark.parametrize("keys", [[], ["only"]])
def test_small_turns(keys: list[str]) -> None:
    """A turn of one read works; no read, no lookup."""
    asked: list[list[str]] = []
    reads = TurnLookups(lambda ks: asked.append(ks) or {k: k for k in ks})

    async def main() -> list[str | None]:
        return list(await asyncio.gather(*(reads.get(k) for k in keys)))

    assert asyncio.run(main()) == keys
    assert asked == ([keys] if keys else [])
