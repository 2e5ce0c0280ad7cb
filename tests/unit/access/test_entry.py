"""Access-log entries: one canonical form, strict parsing, caps; subject marks unlinkable
without the key and chained with it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack._crypto import b64url_encode, merkle_leaf_hash
from civicstack.access import (
    AccessEntry,
    ChainHead,
    chained,
    check_categories,
    mark,
    parse_entry,
    subject_key,
    subject_link,
    subject_tag,
)
from civicstack.errors import InputError

BASE = AccessEntry(
    time=1_767_225_600,
    requester="insurer",
    provider="dvla",
    service="driving-record",
    purpose="insurance_quote",
    categories=("dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"),
    outcome="released",
    consent="consent-1",
    consent_version=2,
)


def test_an_entry_round_trips_through_its_canonical_bytes() -> None:
    """Chained, written and read back, an entry is equal to itself."""
    data, head = chained(BASE, "handle", ChainHead())
    assert parse_entry(data) == parse_entry(data)
    assert parse_entry(data).to_bytes() == data
    assert head.count == 1
    assert head.last == merkle_leaf_hash(data)


@pytest.mark.parametrize(
    "data",
    [
        b"{}",
        b"[]",
        b"not json",
        b'{"v":2}',
        b" " + chained(BASE, "h", ChainHead())[0],
        chained(BASE, "h", ChainHead())[0].replace(b'"time":', b'"time" :'),
        b"x" * 5000,
    ],
)
def test_anything_but_the_canonical_form_is_malformed(data: bytes) -> None:
    """Whitespace, another version, other shapes and oversize bytes are refused."""
    with pytest.raises(InputError) as err:
        parse_entry(data)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    "change",
    [
        {"requester": "a b"},
        {"categories": ("b:X", "a:Y")},
        {"categories": ()},
        {"outcome": "maybe"},
        {"outcome": "refused", "refusal": None},
        {"consent": None},
        {"time": -1},
        {"consent_version": True},
    ],
)
def test_bad_fields_are_refused(change: dict[str, object]) -> None:
    """Each field is checked when an entry is made."""
    with pytest.raises(InputError):
        replace(BASE, **change)


@pytest.mark.parametrize("consent", ["-Ab3_x", "_9zQ-k", "Wk_2-7"])
def test_any_consent_id_the_consent_service_issues_is_a_valid_field(consent: str) -> None:
    """Consent ids are ``token_urlsafe``: they may start with ``-`` or ``_`` (a fetch under
    such a consent was refused as ``invalid_request`` once, about 1 in 32 of them)."""
    data, _ = chained(replace(BASE, consent=consent), "h", ChainHead())
    assert parse_entry(data).consent == consent


def test_a_released_entry_needs_a_subject() -> None:
    """Data never leaves about nobody: a released access without a subject is refused."""
    with pytest.raises(InputError):
        chained(BASE, None, ChainHead())


def test_categories_are_capped_and_distinct() -> None:
    """At most 16 distinct CURIEs, returned sorted."""
    assert check_categories(["b:X", "a:Y"]) == ("a:Y", "b:X")
    for bad in (["a:X", "a:X"], [f"a:X{n}" for n in range(17)], ["nocolon"], "a:X", [1]):
        with pytest.raises(InputError):
            check_categories(bad)


def test_marks_chain_the_subjects_entries() -> None:
    """The n-th entry's tag is HMAC(K, n) and its link commits to the previous leaf hash;
    another subject's tags share nothing with them."""
    first, head = chained(BASE, "alice", ChainHead())
    second, head2 = chained(BASE, "alice", head)
    key = subject_key("alice")
    a, b = parse_entry(first).subject, parse_entry(second).subject
    assert a is not None
    assert b is not None
    assert a.tag == b64url_encode(subject_tag(key, 0))
    assert b.tag == b64url_encode(subject_tag(key, 1))
    assert b.link == b64url_encode(subject_link(key, 1, merkle_leaf_hash(first)))
    assert head2.count == 2
    other = parse_entry(chained(BASE, "bob", ChainHead())[0]).subject
    assert other is not None
    assert other.tag not in (a.tag, b.tag)


@given(st.integers(min_value=0, max_value=2**40), st.text(min_size=1, max_size=64))
def test_tags_differ_by_counter(counter: int, handle: str) -> None:
    """A subject's tags for two counters never collide."""
    key = subject_key(handle)
    assert subject_tag(key, counter) != subject_tag(key, counter + 1)


@given(
    handle=st.text(min_size=1, max_size=128),
    count=st.integers(0, (1 << 63) - 1),
    last=st.binary(min_size=32, max_size=32),
)
def test_a_chained_entry_is_the_entry_with_its_mark(handle: str, count: int, last: bytes) -> None:
    """The chained bytes (with or without the key passed in) are those of the entry with its
    subject mark put in and checked, and the new head is their leaf hash."""
    head = ChainHead(count, last)
    expected = replace(BASE, subject=mark(handle, head)).to_bytes()
    for key in (None, subject_key(handle)):
        data, after = chained(BASE, handle, head, key)
        assert data == expected
        assert after == ChainHead(count + 1, merkle_leaf_hash(expected))
