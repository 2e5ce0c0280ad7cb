"""Entry leaves and the compact-range tree head that hashes them (RFC 9162 §2.1.1)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from civicstack.registers import DEFAULT_LIMITS, Entry, Scope, TreeHead, root_of

HASH = "sha-256:" + "ab" * 32


def _mth(leaves: list[bytes]) -> bytes:
    # RFC 9162 §2.1.1, written out recursively as the reference.
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_root_matches_the_rfc_definition_for_small_trees() -> None:
    """The compact range gives MTH for every size from 0 to 130."""
    leaves = [bytes([i % 256]) * (i % 7) for i in range(130)]
    head = TreeHead()
    assert head.root() == _mth([])
    for n, leaf in enumerate(leaves, start=1):
        head = head.extend([leaf])
        assert head.size == n
        assert head.root() == _mth(leaves[:n])


@given(st.lists(st.binary(max_size=40), max_size=80))
def test_root_of_equals_the_rfc_definition(leaves: list[bytes]) -> None:
    """root_of is MTH for any list of leaves."""
    assert root_of(leaves) == _mth(leaves)


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_compact_range_is_logarithmic(leaves: list[bytes]) -> None:
    """The head keeps one node per 1-bit of its size, never more."""
    head = TreeHead().extend(leaves)
    assert len(head.range) == bin(len(leaves)).count("1")


def test_user_leaf_is_govuk_v1_entry_json() -> None:
    """A user entry's leaves are GOV.UK's v1 entry JSON, in EntryView's member order."""
    entry = Entry(Scope.USER, 7, "GB", "2016-04-05T13:23:05Z", (HASH,), position=12)
    expected = (
        '{"index-entry-number":"7","entry-number":"7","entry-timestamp":"2016-04-05T13:23:05Z",'
        f'"key":"GB","item-hash":["{HASH}"]}}'
    ).encode()
    assert entry.govuk_leaf() == expected
    assert entry.log_leaf() == expected


def test_system_leaf_is_tagged() -> None:
    """A system entry's log leaf is its v1 JSON with entry-type last, unlike any user leaf."""
    system = Entry(Scope.SYSTEM, 1, "name", "2016-04-05T13:23:05Z", (HASH,), position=0)
    user = Entry(Scope.USER, 1, "name", "2016-04-05T13:23:05Z", (HASH,), position=1)
    assert system.log_leaf() == system.govuk_leaf()[:-1] + b',"entry-type":"system"}'
    assert system.log_leaf() != user.log_leaf()
    assert system.govuk_leaf() == user.govuk_leaf()


def test_multi_item_entry_lists_every_hash() -> None:
    """An entry naming several items lists them in order in its leaf and its RSF line."""
    other = "sha-256:" + "cd" * 32
    entry = Entry(Scope.USER, 1, "k", "2020-01-01T00:00:00Z", (HASH, other), position=0)
    assert f'"item-hash":["{HASH}","{other}"]'.encode() in entry.govuk_leaf()
    assert entry.rsf().endswith(f"\t{HASH};{other}")


def test_largest_entry_leaf_fits_a_tlog_tiles_entry() -> None:
    """An entry at every cap (key length, item count) still has a leaf under 64 KiB."""
    hashes = tuple(f"sha-256:{n:064x}" for n in range(DEFAULT_LIMITS.max_entry_items))
    entry = Entry(
        Scope.SYSTEM, 10**12, "k" * DEFAULT_LIMITS.max_key_length, "2020-01-01T00:00:00Z", hashes, 0
    )
    assert len(entry.log_leaf()) < 0x10000
