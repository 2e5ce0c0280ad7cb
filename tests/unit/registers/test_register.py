"""Registers in memory: staged batches, records, trails, schema changes and both roots."""

from __future__ import annotations

import pytest

from civicstack.errors import CivicError
from civicstack.registers import (
    Cardinality,
    Datatype,
    Entry,
    Field,
    Item,
    LineError,
    NoRegisters,
    Register,
    Scope,
    root_of,
)
from civicstack.registers.define import stage_definition, stage_new_field

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
FIELDS = [
    Field("colour", Datatype.STRING, Cardinality.ONE, register="colour"),
    Field("name", Datatype.STRING, Cardinality.ONE),
    Field("similar", Datatype.CURIE, Cardinality.MANY, register="colour"),
]


def _colour(*records: dict[str, str | list[str]]) -> Register:
    register = Register()
    batch = register.batch(name="colour")
    stage_definition(batch, "colour", FIELDS, now=NOW, custodian="A. Custodian")
    for n, fields in enumerate(records):
        batch.append_items(Scope.USER, str(fields["colour"]), [Item.of(fields)], now=NOW + n)
    register.commit(batch, NoRegisters())
    return register


def _state(register: Register) -> tuple[object, ...]:
    return (
        register.head(),
        register.entries(),
        dict(register.items()),
        [(r.key, r.items) for r in register.records()],
        dict(register.system_records()),
    )


def test_records_are_latest_entries_and_trails_keep_history() -> None:
    """A record is the key's latest entry; its trail lists every entry for it, oldest first."""
    register = _colour(
        {"colour": "red", "name": "Red"},
        {"colour": "blue", "name": "Blue"},
        {"colour": "red", "name": "Rouge"},
    )
    record = register.record("red")
    assert record is not None
    assert record.item.get("name") == "Rouge"
    assert [e.number for e in register.trail("red")] == [1, 3]
    assert register.record_count == 2
    assert register.record("green") is None
    assert register.trail("green") == ()


def test_entries_are_numbered_per_scope_and_positioned_in_one_log() -> None:
    """User and system entries count from 1 separately; positions run through both."""
    register = _colour({"colour": "red"})
    system, user = register.entries(Scope.SYSTEM), register.entries(Scope.USER)
    assert [e.number for e in system] == list(range(1, 7))
    assert [e.number for e in user] == [1]
    assert [e.position for e in register.entries()] == list(range(7))
    assert register.entry(1) == user[0]
    assert register.entry(2, Scope.SYSTEM).key == "custodian"


def test_roots_cover_the_right_leaves() -> None:
    """The GOV.UK root covers user entries; the log root covers every entry, schema included."""
    register = _colour({"colour": "red"}, {"colour": "blue"})
    user = register.entries(Scope.USER)
    assert register.root_hash() == root_of([e.govuk_leaf() for e in user])
    assert register.log_root() == root_of(register.log_leaves())
    assert register.log_leaves() == [e.log_leaf() for e in register.entries()]
    assert register.root_hash(1) == root_of([user[0].govuk_leaf()])
    assert register.root_hash(0) == root_of([])


def test_a_failed_batch_changes_nothing() -> None:
    """A batch that fails part-way (valid entries, then a bad one) leaves the register as it was."""
    register = _colour({"colour": "red"})
    before = _state(register)
    batch = register.batch()
    batch.append_items(Scope.USER, "blue", [Item.of({"colour": "blue"})], now=NOW)
    with pytest.raises(CivicError) as caught:
        batch.append_items(Scope.USER, "green", [Item.of({"colour": "green", "hue": "x"})], now=NOW)
    assert caught.value.code == "unknown_field"
    assert _state(register) == before
    assert batch.head.user_count == 2  # the batch itself kept its valid entry


def test_a_dangling_link_fails_at_close_and_changes_nothing() -> None:
    """Links resolve when the batch closes; a dangling one fails the whole batch."""
    register = _colour({"colour": "red"})
    before = _state(register)
    batch = register.batch()
    batch.append_items(
        Scope.USER,
        "pink",
        [Item.of({"colour": "pink", "similar": ["colour:red", "teal"]})],
        now=NOW,
    )
    with pytest.raises(CivicError) as caught:
        register.commit(batch, NoRegisters())
    assert caught.value.code == "dangling_link"
    assert "colour:teal" in caught.value.detail
    assert _state(register) == before


def test_self_links_may_point_forward_within_a_batch() -> None:
    """A link to a record appended later in the same batch resolves."""
    register = _colour(
        {"colour": "red", "similar": ["colour:pink"]}, {"colour": "pink", "similar": ["red"]}
    )
    assert register.record_count == 2


def test_tolerated_dangling_links_are_reported() -> None:
    """With the unsafe flag a dangling link is reported instead of failing."""
    register = _colour({"colour": "red"})
    batch = register.batch()
    batch.append_items(Scope.USER, "pink", [Item.of({"colour": "pink", "similar": ["x"]})], now=NOW)
    changes = register.commit(batch, NoRegisters(), unsafe_allow_dangling_links=True)
    (dangling,) = changes.dangling_links
    assert (dangling.register, dangling.entry_number, dangling.field) == ("colour", 2, "similar")
    assert dangling.target.key == "x"


def test_concurrent_batches_conflict() -> None:
    """A batch staged before another was applied cannot be applied."""
    register = _colour({"colour": "red"})
    first, second = register.batch(), register.batch()
    first.append_items(Scope.USER, "blue", [Item.of({"colour": "blue"})], now=NOW)
    second.append_items(Scope.USER, "green", [Item.of({"colour": "green"})], now=NOW)
    register.commit(first, NoRegisters())
    with pytest.raises(CivicError) as caught:
        register.commit(second, NoRegisters())
    assert caught.value.code == "conflict"
    assert register.record("green") is None


def test_adding_a_field_is_an_entry_in_the_log() -> None:
    """RFC 0001: a field added later is usable after its system entries, not before."""
    register = _colour({"colour": "red"})
    log_root = register.log_root()
    hex_field = Field("hex", Datatype.STRING, Cardinality.ONE)
    early = register.batch()
    with pytest.raises(CivicError) as caught:
        early.append_items(Scope.USER, "red", [Item.of({"colour": "red", "hex": "f00"})], now=NOW)
    assert caught.value.code == "unknown_field"
    batch = register.batch()
    definition = stage_new_field(batch, hex_field, now=NOW)
    batch.append_items(Scope.USER, "red", [Item.of({"colour": "red", "hex": "f00"})], now=NOW)
    register.commit(batch, NoRegisters())
    assert definition.fields == ("colour", "name", "similar", "hex")
    assert register.schema.fields["hex"] == hex_field
    assert register.log_root() != log_root
    keys = [e.key for e in register.entries()[-3:]]
    assert keys == ["field:hex", "register:colour", "red"]


def test_a_field_cannot_be_added_twice() -> None:
    """Adding an existing field is refused."""
    batch = _colour().batch()
    with pytest.raises(CivicError) as caught:
        stage_new_field(batch, FIELDS[1], now=NOW)
    assert caught.value.code == "invalid_schema"


@pytest.mark.parametrize(
    ("name", "fields", "why"),
    [
        ("colour", FIELDS[1:], "needs a field"),
        ("Colour", FIELDS, "not a name"),
        ("colour", [*FIELDS, FIELDS[1]], "twice"),
    ],
)
def test_bad_definitions_are_refused(name: str, fields: list[Field], why: str) -> None:
    """A definition without its primary-key field, with a bad name or a repeated field fails."""
    batch = Register().batch()
    with pytest.raises(CivicError) as caught:
        stage_definition(batch, name, fields, now=NOW)
    assert caught.value.code == "invalid_schema"
    assert why in caught.value.detail


def test_orphan_items_are_dropped_and_reported() -> None:
    """An added item no entry names is not stored; the changeset names it."""
    register = _colour({"colour": "red"})
    batch = register.batch()
    stray = Item.of({"colour": "stray"})
    batch.add_item(stray)
    batch.append_items(Scope.USER, "blue", [Item.of({"colour": "blue"})], now=NOW)
    changes = register.commit(batch, NoRegisters())
    assert changes.orphan_items == (stray.hash,)
    assert register.item(stray.hash) is None


def test_entry_checks() -> None:
    """Entries need valid keys, real timestamps, known and distinct items."""
    register = _colour({"colour": "red"})
    red = register.record("red")
    assert red is not None
    good = red.entry.item_hashes[0]
    cases = [
        (Scope.USER, "a b", "2020-01-01T00:00:00Z", [good], "invalid_entry"),
        (Scope.USER, "red", "2020-13-01T00:00:00Z", [good], "invalid_entry"),
        (Scope.USER, "red", "2020-01-01T00:00:00Z", [], "invalid_entry"),
        (Scope.USER, "red", "2020-01-01T00:00:00Z", [good, good], "invalid_entry"),
        (Scope.USER, "red", "2020-01-01T00:00:00Z", ["sha-256:00"], "invalid_entry"),
        (Scope.USER, "red", "2020-01-01T00:00:00Z", ["sha-256:" + "0" * 64], "hash_mismatch"),
        (Scope.SYSTEM, "field:x", "2020-01-01T00:00:00Z", [good], "invalid_schema"),
        (Scope.SYSTEM, "name", "2020-01-01T00:00:00Z", [good], "invalid_schema"),
    ]
    for scope, key, timestamp, hashes, code in cases:
        with pytest.raises(CivicError) as caught:
            register.batch().append(scope, key, timestamp, hashes, line=9)
        assert isinstance(caught.value, LineError)
        assert (caught.value.code, caught.value.line) == (code, 9), (key, hashes)


def test_unknown_system_keys_are_kept_uninterpreted() -> None:
    """A system key the model does not know (GOV.UK's archive has some) is stored as metadata."""
    register = _colour()
    batch = register.batch()
    note = Item.of({"note": "anything"})
    batch.append_items(Scope.SYSTEM, "legacy-note", [note], now=NOW)
    register.commit(batch, NoRegisters())
    assert register.metadata("legacy-note") == note
    record = register.system_record("legacy-note")
    assert record is not None
    assert record.entry.scope is Scope.SYSTEM


def test_wrong_register_name_is_refused() -> None:
    """A batch for one register refuses another register's name entry."""
    batch = Register().batch(name="colour")
    with pytest.raises(CivicError) as caught:
        batch.append_items(Scope.SYSTEM, "name", [Item.of({"name": "shade"})], now=NOW)
    assert caught.value.code == "invalid_schema"
    with pytest.raises(CivicError):
        _colour().batch(name="shade")


def test_entry_lookup_out_of_range() -> None:
    """Asking for an entry beyond the log is not_found."""
    register = _colour({"colour": "red"})
    with pytest.raises(CivicError) as caught:
        register.entry(2)
    assert caught.value.code == "not_found"
    with pytest.raises(CivicError):
        register.root_hash(5)


def test_entry_json_names_scope_and_position() -> None:
    """An entry's JSON form is GOV.UK's entry resource plus its scope and log index."""
    entry = _colour({"colour": "red"}).entry(1)
    assert isinstance(entry, Entry)
    assert entry.to_json() == {
        "index-entry-number": "1",
        "entry-number": "1",
        "entry-timestamp": "2026-01-01T00:00:00Z",
        "key": "red",
        "item-hash": list(entry.item_hashes),
        "entry-type": "user",
        "log-index": 6,
    }


def test_dangling_link_message_names_the_whole_target() -> None:
    """Without a line number the message still names the full target, colon and all."""
    register = _colour({"colour": "red"})
    batch = register.batch()
    item = Item.of({"colour": "pink", "similar": ["colour: red", "teal"]})
    batch.append_items(Scope.USER, "pink", [item], now=NOW)
    with pytest.raises(CivicError) as caught:
        register.commit(batch, NoRegisters())
    assert not isinstance(caught.value, LineError)
    assert caught.value.detail == (
        "colour entry 2 field 'similar' links to 'colour: red', which does not exist (and 1 more)"
    )
