"""The delivery policy: the schedule, 410, 429 with Retry-After, dead letters, the breaker."""

from __future__ import annotations

import random

import pytest

from civicstack.errors import CivicError
from civicstack.events import DEFAULT_SCHEDULE, CircuitBreaker, Outcome, RetrySchedule, decide
from civicstack.events.delivery import JITTER, parse_retry_after

RNG = random.Random(7)


def test_the_default_schedule_is_the_standard_webhooks_one() -> None:
    """5s 5m 30m 2h 5h 10h 10h: eight attempts."""
    assert DEFAULT_SCHEDULE.delays == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert DEFAULT_SCHEDULE.attempts == 8


@pytest.mark.parametrize("text", ["5x", "-5s", "5", "s", "1.5s", " ".join(["1s"] * 51)])
def test_bad_schedules_are_refused(text: str) -> None:
    """Durations are whole numbers with a unit; at most 50 waits."""
    with pytest.raises(CivicError) as caught:
        RetrySchedule.parse(text)
    assert caught.value.code == "invalid_setting"


def test_waits_are_jittered_around_the_schedule() -> None:
    """Each wait lies within the jitter band of its scheduled length."""
    schedule = RetrySchedule.parse("10s 1m 500ms")
    for attempts, base in ((1, 10), (2, 60), (3, 0.5)):
        wait = schedule.wait(attempts, RNG)
        assert wait is not None
        assert base * (1 - JITTER) <= wait <= base * (1 + JITTER)
    assert schedule.wait(4, RNG) is None


def test_success_gone_failure_and_dead_letter() -> None:
    """2xx delivers; 410 disables; 500 retries; after the last attempt: a dead letter."""
    schedule = RetrySchedule.parse("5s")
    assert decide(Outcome(204), attempts_made=1, now=0, schedule=schedule, rng=RNG).verdict == (
        "delivered"
    )
    assert decide(Outcome(410), attempts_made=1, now=0, schedule=schedule, rng=RNG).verdict == (
        "disabled"
    )
    retry = decide(Outcome(500), attempts_made=1, now=100, schedule=schedule, rng=RNG)
    assert retry.verdict == "retry"
    assert retry.next_at is not None
    assert 104 <= retry.next_at <= 106
    assert decide(Outcome(500), attempts_made=2, now=0, schedule=schedule, rng=RNG).verdict == (
        "dead"
    )
    assert decide(Outcome(302), attempts_made=1, now=0, schedule=schedule, rng=RNG).verdict == (
        "retry"
    )
    assert (
        decide(
            Outcome(None, error="reset"), attempts_made=1, now=0, schedule=schedule, rng=RNG
        ).verdict
        == "retry"
    )


def test_429_honours_retry_after() -> None:
    """A 429's Retry-After (seconds or an HTTP date) pushes the next attempt back."""
    schedule = RetrySchedule.parse("1s 1s")
    seconds = decide(Outcome(429, "120"), attempts_made=1, now=0, schedule=schedule, rng=RNG)
    assert seconds.next_at == 120
    dated = decide(
        Outcome(429, "Thu, 01 Jan 1970 00:10:00 GMT"),
        attempts_made=1,
        now=0,
        schedule=schedule,
        rng=RNG,
    )
    assert dated.next_at == 600
    assert parse_retry_after("garbage", 0) is None
    assert parse_retry_after("999999999", 0) == 86_400


def test_the_circuit_breaker_opens_probes_and_closes() -> None:
    """Five failures open it; after the cooldown one probe goes; its success closes it, its
    failure opens it for twice as long."""
    breaker = CircuitBreaker()
    for t in range(5):
        admitted, breaker = breaker.admit(t)
        assert admitted
        breaker = breaker.record(False, t)
    assert breaker.state == "open"
    admitted, breaker = breaker.admit(10)
    assert not admitted
    admitted, breaker = breaker.admit(40)
    assert admitted
    assert breaker.state == "half_open"
    second, breaker = breaker.admit(40)
    assert not second  # only the one probe
    failed = breaker.record(False, 41)
    assert failed.state == "open"
    assert failed.opened_until == 41 + 60
    closed = breaker.record(True, 41)
    assert closed.state == "closed"
    assert closed.failures == 0
