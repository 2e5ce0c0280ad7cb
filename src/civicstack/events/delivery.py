"""The delivery policy: when to try a webhook again, when to stop, when to stop trying at all.

Pure: no clock, no randomness and no I/O of its own (``now`` and ``rng`` are passed in).
Standard Webhooks (``spec/standard-webhooks.md``) §"Deliverability and reliability": retry on
a schedule spanning days with exponential backoff and random jitter; disable an endpoint that
keeps failing. §"Delivery success and failure": ``2xx`` succeeds, anything else (``3xx``
included: redirects are not followed) fails; ``410 Gone`` disables the endpoint; ``429``
throttles; a ``retry-after`` header is taken into account (its two forms: RFC 9110 §10.2.3).
§"Request timeouts": 15-30 s.

The schedule is an operator's setting, ``CIVIC_EVENTS_RETRY_SCHEDULE``: space-separated
durations (``500ms``, ``5s``, ``5m``, ``2h``, ``1d``), each the wait before the next attempt;
the first attempt is immediate, so a schedule of n delays makes n + 1 attempts, after which
the delivery becomes a dead letter (kept for replay). Default: the spec's example schedule
as far as ``10h 10h``: ``5s 5m 30m 2h 5h 10h 10h``.

A :class:`CircuitBreaker` per endpoint stops hammering one that is down: after
``failure_threshold`` failures in a row it opens (deliveries to it wait, without spending
their attempts), after ``cooldown`` it lets one probe through (half-open), and the probe's
outcome closes it or opens it again for twice as long (at most ``max_cooldown``).
"""

from __future__ import annotations

import email.utils
import random
import re
from dataclasses import dataclass, replace
from typing import Final, Literal

from civicstack.errors import InputError

DEFAULT_SCHEDULE_TEXT: Final = "5s 5m 30m 2h 5h 10h 10h"
#: Jitter: each wait is drawn from [1 - JITTER, 1 + JITTER] times its scheduled length.
JITTER: Final = 0.2
#: A ``Retry-After`` longer than this is read as this (a day).
MAX_RETRY_AFTER: Final = 86_400.0
#: §"Request timeouts": 15 to 30 s.
REQUEST_TIMEOUT: Final = 15.0
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"([0-9]{1,7})(ms|s|m|h|d)")
_MAX_DELAYS = 50


def parse_duration(text: str) -> float:
    """``5s``, ``500ms``, ``5m``, ``2h``, ``1d`` as seconds."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise InputError(
            "invalid_setting", f"{text[:20]!r} is not a duration (a number then ms, s, m, h or d)"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class RetrySchedule:
    """The waits between attempts: ``delays[i]`` before attempt ``i + 2``."""

    delays: tuple[float, ...]

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        """A schedule from ``CIVIC_EVENTS_RETRY_SCHEDULE``'s text (space-separated durations;
        empty: no retries)."""
        parts = text.split()
        if len(parts) > _MAX_DELAYS:
            raise InputError("invalid_setting", f"a retry schedule has at most {_MAX_DELAYS} waits")
        return cls(tuple(parse_duration(p) for p in parts))

    @property
    def attempts(self) -> int:
        """How many attempts a delivery gets before it becomes a dead letter."""
        return len(self.delays) + 1

    def wait(self, attempts_made: int, rng: random.Random) -> float | None:
        """The jittered wait after ``attempts_made`` failed attempts; None when none is left."""
        if attempts_made < 1 or attempts_made > len(self.delays):
            return None
        base = self.delays[attempts_made - 1]
        return base * rng.uniform(1 - JITTER, 1 + JITTER)


DEFAULT_SCHEDULE: Final = RetrySchedule.parse(DEFAULT_SCHEDULE_TEXT)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as seconds
    from ``now`` (at most :data:`MAX_RETRY_AFTER`); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit() and len(text) <= 10:
        return min(float(text), MAX_RETRY_AFTER)
    if len(text) > 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, min(when.timestamp() - now, MAX_RETRY_AFTER))


Verdict = Literal["delivered", "retry", "dead", "disabled"]


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status (None: no answer — refused, reset, timed out), its
    ``Retry-After`` header, and a short error for the attempt log."""

    status: int | None
    retry_after: str | None = None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        """§"Delivery success and failure": 200-299 only."""
        return self.status is not None and 200 <= self.status <= 299


@dataclass(frozen=True)
class Decision:
    """What to do after an attempt: done, retry at ``next_at``, dead letter, or disable the
    endpoint (410)."""

    verdict: Verdict
    next_at: float | None = None


def decide(
    outcome: Outcome,
    *,
    attempts_made: int,
    now: float,
    schedule: RetrySchedule,
    rng: random.Random,
) -> Decision:
    """The policy for one finished attempt (``attempts_made`` counts it)."""
    # 1. 2xx: delivered.
    if outcome.succeeded:
        return Decision("delivered")
    # 2. 410 Gone: the receiver wants no more; the endpoint is disabled.
    if outcome.status == 410:
        return Decision("disabled")
    # 3. otherwise a failure: the schedule's next wait, or a dead letter when none is left.
    wait = schedule.wait(attempts_made, rng)
    if wait is None:
        return Decision("dead")
    # 4. 429 (and any answer carrying Retry-After, e.g. 503) waits at least that long.
    asked = parse_retry_after(outcome.retry_after, now)
    if asked is not None and (outcome.status == 429 or outcome.status in (502, 503, 504)):
        wait = max(wait, asked)
    return Decision("retry", now + wait)


BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class CircuitBreaker:
    """One endpoint's circuit breaker (a value: each transition returns a new one)."""

    state: BreakerState = "closed"
    failures: int = 0
    opened_until: float = 0.0
    cooldown: float = 30.0
    failure_threshold: int = 5
    base_cooldown: float = 30.0
    max_cooldown: float = 600.0
    probing: bool = False

    def admit(self, now: float) -> tuple[bool, CircuitBreaker]:
        """May an attempt go now? An open breaker past its cooldown lets one probe through."""
        if self.state == "closed":
            return True, self
        if self.state == "open":
            if now < self.opened_until:
                return False, self
            return True, replace(self, state="half_open", probing=True)
        # half-open: only the one probe is out
        if self.probing:
            return False, self
        return True, replace(self, probing=True)

    def record(self, succeeded: bool, now: float) -> CircuitBreaker:
        """The breaker after an attempt's outcome."""
        if succeeded:
            if self.state == "closed" and not self.failures and self.cooldown == self.base_cooldown:
                return self  # the common case: nothing changes, nothing to copy
            return replace(
                self, state="closed", failures=0, cooldown=self.base_cooldown, probing=False
            )
        if self.state == "half_open":
            cooldown = min(self.cooldown * 2, self.max_cooldown)
            return replace(
                self, state="open", opened_until=now + cooldown, cooldown=cooldown, probing=False
            )
        failures = self.failures + 1
        if failures >= self.failure_threshold:
            return replace(
                self,
                state="open",
                failures=failures,
                opened_until=now + self.cooldown,
                probing=False,
            )
        return replace(self, failures=failures)

    def retry_at(self, now: float) -> float:
        """When a delivery the breaker held back should be tried again."""
        return max(now, self.opened_until) if self.state == "open" else now + 1.0
