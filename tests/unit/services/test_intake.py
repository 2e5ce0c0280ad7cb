"""The pure rules bounding uploads: the submission rate, the quota, the retention schedule,
their settings, and the one size rule of an application (issue 9, item 3)."""

from __future__ import annotations

import pytest

from civicstack.errors import CivicError, InputError, RetryLaterError
from civicstack.openid4vci.applications import DEFAULT_APPLICATION_LIMITS, ApplicationLimits
from civicstack.services.issuer.intake import DocumentQuota, SubmissionRate, client_key
from civicstack.services.issuer.retention import DAY, RetentionSchedule
from civicstack.settings import Settings

T = 1_000_000


def test_a_bucket_gives_its_burst_then_one_token_an_interval() -> None:
    """Burst 3 at 60 an hour: three at once, then refused for 60 s, then one more."""
    rate = SubmissionRate(burst=3, per_hour=60)
    arrival = None
    for _ in range(3):
        arrival = rate.admit(arrival, T)
    with pytest.raises(RetryLaterError) as refused:
        rate.admit(arrival, T)
    assert (refused.value.code, refused.value.retry_after, refused.value.status) == (
        "rate_limited",
        60,
        429,
    )
    with pytest.raises(RetryLaterError) as refused:
        rate.admit(arrival, T + 59)
    assert refused.value.retry_after == 1
    arrival = rate.admit(arrival, T + 60)
    with pytest.raises(RetryLaterError):
        rate.admit(arrival, T + 60)


def test_an_idle_bucket_refills_to_its_burst_and_no_further() -> None:
    """After a long pause a client has its burst again, never more."""
    rate = SubmissionRate(burst=2, per_hour=3600)
    arrival = rate.admit(rate.admit(None, T), T)
    arrival = rate.admit(rate.admit(arrival, T + 10_000), T + 10_000)
    with pytest.raises(RetryLaterError):
        rate.admit(arrival, T + 10_000)


def test_the_default_rate_is_documented() -> None:
    """A burst of 10, then 120 an hour (one every 30 s)."""
    assert (SubmissionRate().burst, SubmissionRate().per_hour) == (10, 120)
    assert SubmissionRate().interval == 30


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        ("x" * 100, "x" * 64),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_clients_are_remote_addresses_and_ipv6_hosts_by_their_64(
    address: str | None, key: str
) -> None:
    assert client_key(address) == key


def test_the_quota_refuses_what_would_go_over_it() -> None:
    quota = DocumentQuota(max_bytes=1000)
    quota.check(400, 600)
    with pytest.raises(CivicError) as refused:
        quota.check(401, 600)
    assert (refused.value.code, refused.value.status) == ("storage_full", 507)


def test_the_retention_schedule_counts_days_back_from_now() -> None:
    schedule = RetentionSchedule()
    assert (schedule.decided_days, schedule.abandoned_days) == (30, 90)
    assert schedule.decided_before(T) == T - 30 * DAY
    assert schedule.submitted_before(T) == T - 90 * DAY
    with pytest.raises(InputError):
        RetentionSchedule(abandoned_days=0)


def test_the_settings_read_the_intake_variables_and_refuse_bad_ones() -> None:
    env = {
        "CIVIC_DATA_DIR": "/tmp/x",
        "CIVIC_APPLICATION_BURST": "4",
        "CIVIC_APPLICATIONS_PER_HOUR": "30",
        "CIVIC_PENDING_DOCUMENTS_QUOTA": "1048576",
        "CIVIC_RETENTION_DECIDED_DAYS": "0",
        "CIVIC_RETENTION_ABANDONED_DAYS": "14",
        "CIVIC_SWEEP_INTERVAL": "60",
    }
    s = Settings.from_env(env)
    assert (s.application_burst, s.applications_per_hour, s.pending_documents_quota) == (
        4,
        30,
        1048576,
    )
    assert (s.retention_decided_days, s.retention_abandoned_days, s.sweep_interval) == (0, 14, 60)
    assert Settings.from_env({"CIVIC_DATA_DIR": "/tmp/x"}).application_burst is None
    for name, bad in [
        ("CIVIC_APPLICATION_BURST", "0"),
        ("CIVIC_APPLICATIONS_PER_HOUR", "-1"),
        ("CIVIC_PENDING_DOCUMENTS_QUOTA", "1e9"),
        ("CIVIC_SWEEP_INTERVAL", "٣"),
    ]:
        with pytest.raises(InputError) as refused:
            Settings.from_env({**env, name: bad})
        assert name in refused.value.detail


def test_one_size_rule_derives_the_body_cap_from_the_allowance() -> None:
    """The body cap is the documents' allowance plus the two text fields plus one part header
    a part: whatever the limits, an application within them fits under the cap."""
    limits = DEFAULT_APPLICATION_LIMITS
    assert limits.allowance == 4 * 4 * 1024 * 1024
    assert limits.max_body == limits.allowance + 2 * 64 * 1024 + 6 * 1024
    small = ApplicationLimits(documents=2, document_bytes=1000, field_bytes=100)
    assert small.max_body == 2000 + 200 + 4 * 1024
