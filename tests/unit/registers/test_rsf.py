"""RSF parsing details, patches, incremental export and random round trips."""

from __future__ import annotations

import io
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack.errors import CODES, CivicError
from civicstack.registers import (
    AddItem,
    AppendEntry,
    AssertRootHash,
    Cardinality,
    Datatype,
    Field,
    Item,
    Limits,
    LineError,
    NoRegisters,
    Register,
    Scope,
    export_rsf,
    import_rsf,
    parse_rsf,
)
from civicstack.registers.define import stage_definition, stage_new_field

NOW = 1_767_225_600
EMPTY = "assert-root-hash\tsha-256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _register(records: int = 3) -> Register:
    register = Register()
    batch = register.batch()
    fields = [
        Field("thing", Datatype.STRING, Cardinality.ONE, register="thing"),
        Field("size", Datatype.INTEGER, Cardinality.ONE),
    ]
    stage_definition(batch, "thing", fields, now=NOW)
    for n in range(records):
        item = Item.of({"thing": f"t{n}", "size": str(n)})
        batch.append_items(Scope.USER, f"t{n}", [item], now=NOW + n)
    register.commit(batch, NoRegisters())
    return register


def _rsf(register: Register, start: int = 0) -> bytes:
    return "".join(export_rsf(register, start=start)).encode("utf-8")


def test_commands_parse_to_their_values() -> None:
    """Each command parses to its typed form and serialises back to the same line."""
    item = Item.of({"a": "b"})
    lines = [
        EMPTY,
        "add-item\t" + item.text(),
        f"append-entry\tuser\tk\t2020-01-01T00:00:00Z\t{item.hash}",
    ]
    commands = list(parse_rsf(("\n".join(lines) + "\n").encode()))
    assert isinstance(commands[0], AssertRootHash)
    assert isinstance(commands[1], AddItem)
    assert commands[1].item == item
    assert commands[2] == AppendEntry(Scope.USER, "k", "2020-01-01T00:00:00Z", (item.hash,), 3)
    assert [c.rsf() for c in commands] == lines


@pytest.mark.parametrize("ending", [b"", b"\n"])
def test_final_newline_is_optional(ending: bytes) -> None:
    """A file may end with or without a newline."""
    register = _register()
    data = _rsf(register).rstrip(b"\n") + ending
    assert import_rsf(data, links=NoRegisters()).register.root_hash() == register.root_hash()


def test_crlf_line_endings_are_accepted() -> None:
    """CRLF (the RFC's ABNF) and LF give the same register."""
    register = _register()
    data = _rsf(register).replace(b"\n", b"\r\n")
    assert import_rsf(data, links=NoRegisters()).register.log_root() == register.log_root()


def test_streams_and_line_iterables_are_accepted() -> None:
    """A binary stream or an iterable of lines imports like the whole bytes."""
    register = _register()
    data = _rsf(register)
    from_stream = import_rsf(io.BytesIO(data), links=NoRegisters()).register
    from_lines = import_rsf(data.splitlines(keepends=True), links=NoRegisters()).register
    assert from_stream.log_root() == from_lines.log_root() == register.log_root()


@pytest.mark.parametrize(
    ("limits", "line"),
    [
        (Limits(max_rsf_bytes=100), None),
        (Limits(max_rsf_line_bytes=100), 3),
        (Limits(max_rsf_lines=5), 6),
    ],
)
def test_caps_give_too_large(limits: Limits, line: int | None) -> None:
    """Input over a cap fails with too_large (at the offending line, when there is one)."""
    data = _rsf(_register())
    with pytest.raises(CivicError) as caught:
        import_rsf(data, links=NoRegisters(), limits=limits)
    assert caught.value.code == "too_large"
    assert getattr(caught.value, "line", None) == line


def test_stream_cap_stops_reading_a_huge_line() -> None:
    """A stream is read a bounded line at a time: one endless line fails as too_large."""
    stream = io.BytesIO(b"add-item\t" + b"x" * 10_000)
    with pytest.raises(CivicError) as caught:
        list(parse_rsf(stream, limits=Limits(max_rsf_line_bytes=1000)))
    assert caught.value.code == "too_large"


def test_a_bad_patch_changes_nothing() -> None:
    """A patch with valid entries then a bad line leaves the register exactly as it was."""
    register = _register()
    before = (register.head(), register.entries(), dict(register.items()))
    good = Item.of({"thing": "t9", "size": "9"})
    patch = "\n".join(
        [
            f"assert-root-hash\tsha-256:{register.root_hash().hex()}",
            "add-item\t" + good.text(),
            f"append-entry\tuser\tt9\t2020-01-01T00:00:00Z\t{good.hash}",
            'add-item\t{"size":"01","thing":"t10"}',
            "append-entry\tuser\tt10\t2020-01-01T00:00:00Z\tsha-256:" + "0" * 64,
        ]
    ).encode()
    with pytest.raises(LineError) as caught:
        import_rsf(patch, links=NoRegisters(), into=register)
    assert (caught.value.code, caught.value.line) == ("hash_mismatch", 5)
    assert (register.head(), register.entries(), dict(register.items())) == before


def test_incremental_export_applies_as_a_patch() -> None:
    """Exporting from position k and importing into a copy of the first k entries catches up."""
    register = _register(5)
    partial = import_rsf(_first_entries(_rsf(register), 7), links=NoRegisters()).register
    assert partial.size == 7
    patch = _rsf(register, start=7)
    assert patch.startswith(f"assert-root-hash\tsha-256:{partial.root_hash().hex()}\n".encode())
    import_rsf(patch, links=NoRegisters(), into=partial)
    assert partial.log_root() == register.log_root()
    assert partial.log_leaves() == register.log_leaves()


def _first_entries(rsf: bytes, count: int) -> bytes:
    kept: list[bytes] = []
    for line in rsf.split(b"\n"):
        if line.startswith(b"append-entry"):
            if count == 0:
                break
            count -= 1
        kept.append(line)
    return b"\n".join(kept)


def test_export_start_out_of_range() -> None:
    """An export cannot start past the end of the log."""
    with pytest.raises(CivicError) as caught:
        list(export_rsf(_register(), start=99))
    assert caught.value.code == "not_found"


def test_import_needs_a_named_register() -> None:
    """A file with no name entry does not make a register."""
    with pytest.raises(CivicError) as caught:
        import_rsf(EMPTY.encode(), links=NoRegisters())
    assert caught.value.code == "invalid_schema"


def test_import_checks_the_expected_name() -> None:
    """import_rsf(name=...) refuses a file for another register."""
    with pytest.raises(CivicError) as caught:
        import_rsf(_rsf(_register()), links=NoRegisters(), name="other")
    assert caught.value.code == "invalid_schema"


def test_export_ends_with_the_root() -> None:
    """An export's first line asserts the empty root and its last the current root."""
    register = _register()
    lines = _rsf(register).decode().splitlines()
    assert lines[0] == EMPTY
    assert lines[-1] == f"assert-root-hash\tsha-256:{register.root_hash().hex()}"


# -- random registers round-trip --------------------------------------------------------------

VALUES = {
    Datatype.STRING: st.text(min_size=1, max_size=20).filter(str.strip),
    Datatype.TEXT: st.text(min_size=1, max_size=60).filter(str.strip),
    Datatype.INTEGER: st.integers().map(str),
    Datatype.DATETIME: st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ").zfill(20)),
    Datatype.URL: st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9/]{0,12}", fullmatch=True),
    Datatype.NAME: st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
    Datatype.HASH: st.binary(min_size=32, max_size=32).map(lambda b: "sha-256:" + b.hex()),
    Datatype.BOOLEAN: st.sampled_from(["true", "false"]),
    Datatype.PERIOD: st.sampled_from(["P1Y", "PT5M", "2001/2002", "2001-01-01/P3M"]),
    Datatype.POINT: st.sampled_from(["[-0.1275, 51.5072]", "POINT (30 10)"]),
}
KEYS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6)


@st.composite
def registers(draw: st.DrawFn) -> Register:
    """A random valid register: random fields, records, updates and a field added midway."""
    names = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True).filter(lambda n: n != "thing"),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    fields = [Field("thing", Datatype.STRING, Cardinality.ONE, register="thing")]
    for name in names:
        fields.append(
            Field(
                name, draw(st.sampled_from(list(VALUES))), draw(st.sampled_from(list(Cardinality)))
            )
        )
    late, fields = fields[-1], fields[:-1]
    register = Register()
    batch = register.batch()
    stage_definition(batch, "thing", fields, now=NOW, custodian=draw(st.text(min_size=1)))
    schema = list(fields)
    for step in range(draw(st.integers(0, 12))):
        if step == 3 and len(names) > 1:
            stage_new_field(batch, late, now=NOW + step)
            schema.append(late)
        key = draw(KEYS)
        values: dict[str, str | list[str]] = {"thing": key}
        for field in schema[1:]:
            if draw(st.booleans()):
                strategy = VALUES[field.datatype]
                many = field.cardinality is Cardinality.MANY
                values[field.name] = (
                    draw(st.lists(strategy, min_size=1, max_size=3)) if many else draw(strategy)
                )
        batch.append_items(Scope.USER, key, [Item.of(values)], now=NOW + step)
    register.commit(batch, NoRegisters())
    return register


@settings(max_examples=60, deadline=None)
@given(registers())
def test_random_registers_round_trip_through_rsf(register: Register) -> None:
    """Any valid register exports to RSF that imports to the same roots, records and log."""
    again = import_rsf(_rsf(register), links=NoRegisters()).register
    assert again.root_hash() == register.root_hash()
    assert again.log_root() == register.log_root()
    assert again.log_leaves() == register.log_leaves()
    assert [(r.key, r.items) for r in again.records()] == [
        (r.key, r.items) for r in register.records()
    ]
    assert dict(again.system_records()) == dict(register.system_records())


@settings(max_examples=40, deadline=None)
@given(registers(), st.data())
def test_any_changed_byte_is_caught(register: Register, data: st.DataObject) -> None:
    """Changing one byte of an exported RSF either fails the import or changes a root."""
    rsf = bytearray(_rsf(register))
    position = data.draw(st.integers(0, len(rsf) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != rsf[position]))
    rsf[position] = replacement
    try:
        again = import_rsf(bytes(rsf), links=NoRegisters()).register
    except CivicError:
        return
    assert (again.root_hash(), again.log_root()) != (register.root_hash(), register.log_root())


NAME_ITEM = Item.of({"name": "thing"})
TOKENS = st.sampled_from(
    [
        b"add-item",
        b"append-entry",
        b"assert-root-hash",
        b"\t",
        b"\n",
        b"\r",
        b"user",
        b"system",
        b"name",
        b"field:thing",
        b"thing",
        b"2020-01-01T00:00:00Z",
        b";",
        b"\xff",
        NAME_ITEM.canonical,
        NAME_ITEM.hash.encode(),
        b"sha-256:" + b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        b'{"cardinality":"1","datatype":"string","field":"thing"}',
        b'{"fields":["thing"]}',
        b'{"thing":"a"}',
        b'{"a":[]}',
        b'{"a":{"b":"c"}}',
        b"[[[[[[[[[[",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(TOKENS, max_size=40).map(b"".join), st.binary(max_size=200)))
def test_any_input_imports_or_fails_with_a_registered_code(data: bytes) -> None:
    """Hostile input either imports or raises a CivicError with a registered code, nothing else."""
    try:
        import_rsf(data, links=NoRegisters())
        outcome = "imported"
    except CivicError as exc:
        outcome = exc.code
    assert outcome == "imported" or outcome in CODES
