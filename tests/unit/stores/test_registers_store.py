"""Registers in the database, on SQLite and PostgreSQL: the log and the tables always agree."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from civicstack._crypto import b64url_encode
from civicstack.errors import CivicError
from civicstack.log import (
    NoteVerifier,
    leaf_hash,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from civicstack.registers import (
    Cardinality,
    Catalogue,
    Datatype,
    Field,
    Item,
    LineError,
    Register,
    Scope,
    export_rsf,
    import_rsf,
)
from civicstack.registers.catalogue import NoRegisters
from civicstack.services.registers import Registers
from civicstack.stores.db import create_engine, upgrade
from civicstack.stores.log import LogStore
from civicstack.stores.registers import RegisterStore
from tests.conftest import shared_path

GOOD = Path(__file__).resolve().parents[2] / "vectors" / "registers" / "good"
COLOUR = (GOOD / "colour.rsf").read_bytes()
SHADE = (GOOD / "shade.rsf").read_bytes()
NOW = 1_767_225_600
MASTER = bytes(range(32))


def writes(store: RegisterStore) -> Registers:
    """The registers service writing through ``store`` (the store runs its transactions)."""
    return Registers(store, admin_check=_no_admin)


def _no_admin(token: str | None) -> None:
    raise CivicError("unauthorized", "no admin in these tests")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database."""
    eng = create_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


class _Stores:
    """Register stores over one database (as separate processes would have), closed at the end."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.made: list[RegisterStore] = []

    def __call__(self, master: bytes = MASTER) -> RegisterStore:
        logs = LogStore(self.engine)
        made = RegisterStore(self.engine, logs, lambda: master, origin_prefix="civic.test")
        self.made.append(made)
        return made

    def close(self) -> None:
        for made in self.made:
            made.close()
            made.logs.close()


@pytest.fixture
def stores(engine: Engine) -> Iterator[_Stores]:
    """Makes register stores over the test database."""
    made = _Stores(engine)
    yield made
    made.close()


@pytest.fixture
def store(stores: _Stores) -> RegisterStore:
    """A register store holding the colour and shade fixtures."""
    s = stores()
    writes(s).import_rsf({"colour": COLOUR, "shade": SHADE})
    return s


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    """Every row of the registers' and logs' tables, to compare before and after a failure."""
    out: list[tuple[object, ...]] = []
    with engine.connect() as conn:
        for table in (
            "reg_registers",
            "reg_items",
            "reg_entries",
            "reg_records",
            "reg_values",
            "reg_dangling_links",
            "log_logs",
            "log_tiles",
            "log_bundles",
            "log_checkpoints",
        ):
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
            out += sorted((table, *r) for r in rows)
    return out


def _memory(*sources: bytes) -> Catalogue:
    catalogue = Catalogue()
    catalogue.import_rsf(dict(zip(("colour", "shade"), sources, strict=False)))
    return catalogue


def _verifier(store: RegisterStore, name: str) -> NoteVerifier:
    return NoteVerifier.parse(store.logs.head(store.head(name).log_name).verifier_key)


def test_an_import_matches_the_in_memory_register_and_its_signed_log(store: RegisterStore) -> None:
    """Imported registers have the domain's roots, and their log holds the same leaves, signed."""
    memory = _memory(COLOUR, SHADE).get("colour")
    head = store.head("colour")
    assert (head.user_count, head.system_count, head.size) == (2, 11, 13)
    assert head.root == memory.root_hash()
    assert head.log_root == memory.log_root()
    log = store.logs.head(head.log_name)
    assert log.origin == "civic.test/registers/colour"
    assert store.logs.entries(head.log_name, 0, head.size) == memory.log_leaves()
    checkpoint = open_checkpoint(log.checkpoint, [_verifier(store, "colour")])
    assert (checkpoint.size, checkpoint.root) == (13, memory.log_root())


def test_export_streams_the_same_rsf_as_the_domain(store: RegisterStore) -> None:
    """The streamed export is byte for byte the in-memory export, and imports again."""
    memory = _memory(COLOUR, SHADE)
    for name in ("colour", "shade"):
        exported = "".join(store.export_rsf(name, chunk=3))
        assert exported == "".join(export_rsf(memory.get(name)))
        again = import_rsf(exported.encode(), links=memory, name=name)
        assert again.register.log_root() == store.head(name).log_root


def test_records_entries_items_and_trails_read_back(store: RegisterStore) -> None:
    """Records, entries, items and trails come back as imported."""
    head, red = store.record("colour", "red")
    assert red is not None
    record = red.record()
    assert record.item.get("aliases") == ("crimson", "scarlet")
    assert red.items_json().startswith(b'[{"aliases":["crimson","scarlet"]')
    assert store.record("colour", "blue")[1] is None
    assert [r.entry.key for r in store.records(head)] == ["pink", "red"]
    assert [r.entry.key for r in store.records(head, after="pink")] == ["red"]
    assert store.entry(head, 2).key == "pink"
    assert store.entry(head, 1, Scope.SYSTEM).key == "name"
    assert [e.number for e in store.entries(head, after=1)] == [2]
    assert store.item(head, record.item.hash) == record.item.canonical
    assert [e.number for e in store.trail(head, "red")] == [1]
    with pytest.raises(CivicError) as err:
        store.entry(head, 3)
    assert err.value.code == "not_found"


def test_custodian_writes_update_records_trails_search_and_sign(store: RegisterStore) -> None:
    """A write batch supersedes records, re-indexes them and signs a consistent checkpoint."""
    before = store.logs.head(store.head("colour").log_name)
    changes = writes(store).append(
        "colour",
        [
            ("red", [Item.of({"colour": "red", "name": "Rouge", "aliases": ["vermilion"]})]),
            ("blue", [Item.of({"colour": "blue", "name": "Blue", "similar": ["colour:red"]})]),
        ],
        now=NOW,
    )
    assert [e.number for e in changes.entries] == [3, 4]
    head, red = store.record("colour", "red")
    assert red is not None
    assert red.record().item.get("name") == "Rouge"
    assert head.record_count == 3
    assert [e.number for e in store.trail(head, "red")] == [1, 3]
    assert [r.entry.key for r in store.records(head, where=[("aliases", "vermilion")])] == ["red"]
    assert store.records(head, where=[("aliases", "crimson")]) == []  # superseded value
    assert [r.entry.key for r in store.records(head, where=[("similar", "colour:red")])] == [
        "blue",
        "pink",
    ]
    assert store.records(head, where=[("similar", "colour:red"), ("name", "Pink")])[
        0
    ].entry.key == ("pink")
    after = store.logs.head(head.log_name)
    verifier = _verifier(store, "colour")
    old, new = (open_checkpoint(n.checkpoint, [verifier]) for n in (before, after))
    assert new.size == old.size + 2 == head.size
    proof = store.logs.consistency_proof(head.log_name, old.size, new.size)
    verify_consistency(old.size, new.size, old.root, new.root, proof)
    leaf = changes.entries[-1].log_leaf()
    path = store.logs.inclusion_proof(head.log_name, head.size - 1)
    verify_inclusion(leaf_hash(leaf), head.size - 1, head.size, path, new.root)


@pytest.mark.parametrize(
    ("records", "code"),
    [
        ([("blue", {"colour": "blue", "hue": "x"})], "unknown_field"),
        ([("blue", {"colour": "blue", "rank": "01"})], "invalid_datatype"),
        ([("blue", {"colour": "blue", "shade": "midnight"})], "dangling_link"),
        ([("blue", {"colour": "blue", "similar": ["colour:teal"]})], "dangling_link"),
        ([("blue", {"colour": "green"})], "primary_key_mismatch"),
        ([("blue", {"colour": "blue"}), ("b//", {"colour": "b//"})], "invalid_entry"),
    ],
)
def test_a_bad_write_is_refused_whole(
    store: RegisterStore,
    engine: Engine,
    records: list[tuple[str, dict[str, str | list[str]]]],
    code: str,
) -> None:
    """Datatypes, fields, keys and links are checked on write; nothing of a bad batch stays."""
    before = _rows(engine)
    batch = [(key, [Item.of(fields)]) for key, fields in records]
    with pytest.raises(CivicError) as err:
        writes(store).append("colour", batch, now=NOW)
    assert err.value.code == code
    assert _rows(engine) == before


BAD_SHADE = SHADE.replace(b"append-entry\tuser\tdark", b"append-entry\tuser\tdark!")
WRONG_ROOT = SHADE.rstrip(b"\n").rsplit(b"\n", 1)[0] + b"\nassert-root-hash\tsha-256:" + b"0" * 64
MISSING_ITEM = SHADE.replace(b'add-item\t{"name":"Dark","shade":"dark"}\n', b"")


@pytest.mark.parametrize(
    ("shade", "code"),
    [
        (BAD_SHADE, "invalid_rsf"),
        (WRONG_ROOT, "root_hash_mismatch"),
        (MISSING_ITEM, "hash_mismatch"),
    ],
)
def test_a_bad_import_leaves_nothing_behind(
    engine: Engine, stores: _Stores, shade: bytes, code: str
) -> None:
    """A bad line, a missing item or a wrong root in any file of an import writes nothing."""
    s = stores()
    before = _rows(engine)
    with pytest.raises(LineError) as err:
        writes(s).import_rsf({"colour": COLOUR, "shade": shade})
    assert err.value.code == code
    assert err.value.register == "shade"
    assert _rows(engine) == before
    assert s.heads() == []


def test_a_bad_patch_leaves_the_register_as_it_was(store: RegisterStore, engine: Engine) -> None:
    """An RSF patch asserting the wrong starting root changes nothing."""
    before = _rows(engine)
    patch = (
        b"assert-root-hash\tsha-256:" + b"0" * 64 + b"\n"
        b'add-item\t{"colour":"teal"}\n'
        b"append-entry\tuser\tteal\t2021-01-01T00:00:00Z\tsha-256:"
        + Item.of({"colour": "teal"}).hash[8:].encode()
        + b"\n"
    )
    with pytest.raises(LineError) as err:
        writes(store).import_rsf({"colour": patch})
    assert (err.value.code, err.value.line) == ("root_hash_mismatch", 1)
    assert _rows(engine) == before
    good = patch.replace(b"0" * 64, store.head("colour").root.hex().encode())
    writes(store).import_rsf({"colour": good})
    assert store.record("colour", "teal")[1] is not None


def test_concurrent_writers_to_one_register_are_serialised(
    store: RegisterStore, stores: _Stores
) -> None:
    """Writers in parallel (two stores, as two processes would) never interleave or lose one."""
    other = stores()
    errors: list[BaseException] = []

    def write(s: RegisterStore, tag: str) -> None:
        try:
            for i in range(8):
                key = f"{tag}{i}"
                writes(s).append("colour", [(key, [Item.of({"colour": key})])], now=NOW)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, t)) for s, t in ((store, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    head = store.head("colour")
    assert (head.user_count, head.record_count) == (18, 18)
    entries = store.entries(head, limit=100)
    assert [e.number for e in entries] == list(range(1, 19))
    # The log holds exactly the entries, in order, under a checkpoint that verifies.
    memory = Register()
    import_rsf("".join(store.export_rsf("colour")).encode(), links=_Anything(), into=memory)
    assert memory.log_root() == head.log_root == store.logs.head(head.log_name).root


class _Anything:
    """Links all resolve (this test is about the order of writes, not links)."""

    def has_register(self, name: str) -> bool:
        return True

    def missing_keys(self, register: str, keys: object) -> set[str]:
        return set()


def test_log_keys_are_sealed_under_the_master_key(
    store: RegisterStore, engine: Engine, stores: _Stores
) -> None:
    """The stored key is ciphertext: another process with the master key signs as the register;
    with another master key it cannot sign at all."""
    with engine.connect() as conn:
        sealed = conn.exec_driver_sql("SELECT sealed_key FROM reg_registers").scalars().all()
    assert all('"d"' not in s and "kty" not in s for s in sealed)
    again = stores()
    writes(again).append("shade", [("grey", [Item.of({"shade": "grey"})])], now=NOW)
    head = again.logs.head(again.head("shade").log_name)
    assert open_checkpoint(head.checkpoint, [_verifier(store, "shade")]).size == head.size
    stranger = stores(master=b"\x01" * 32)
    with pytest.raises(CivicError) as err:
        writes(stranger).append("shade", [("black", [Item.of({"shade": "black"})])], now=NOW)
    assert err.value.code == "decryption_failed"
    assert store.record("shade", "black")[1] is None


def test_new_registers_are_described_in_the_metadata_registers(stores: _Stores) -> None:
    """Created registers and fields are recorded in register/field/datatype in one transaction."""
    s = stores()
    writes(s).create_metadata_registers(now=NOW)
    fields = [
        Field("depot", Datatype.STRING, Cardinality.ONE, register="depot", text="A depot."),
        Field("opened", Datatype.DATETIME, Cardinality.ONE, text="When it opened."),
    ]
    marker = Item.of({"synthetic": "made up for a test"})
    writes(s).create_register(
        "depot", fields, now=NOW, title="Depots", metadata={"synthetic": marker}
    )
    registers = s.head("register")
    assert s.record("register", "depot")[1] is not None
    assert s.record("field", "opened")[1] is not None
    assert s.record("datatype", "datetime")[1] is not None
    meta = s.metadata(s.head("depot"))
    assert meta["synthetic"] == (marker,)
    assert meta["register-name"][0].get("register-name") == "Depots"
    with pytest.raises(CivicError) as err:
        writes(s).create_register("depot", fields, now=NOW)
    assert err.value.code == "conflict"
    writes(s).add_field("depot", Field("capacity", Datatype.INTEGER, Cardinality.ONE), now=NOW)
    writes(s).append("depot", [("d1", [Item.of({"depot": "d1", "capacity": "40"})])], now=NOW)
    assert s.head("register").size == registers.size + 1


def test_a_download_snapshot_ignores_writes_made_while_it_streams(store: RegisterStore) -> None:
    """Records streamed for a download are those of one moment, whatever is written meanwhile."""
    head, schema, rows = store.snapshot_records("colour", chunk=1)
    first = next(rows)
    writes(store).append("colour", [("zebra", [Item.of({"colour": "zebra"})])], now=NOW)
    rest = list(rows)
    assert [r.entry.key for r in [first, *rest]] == ["pink", "red"]
    assert head.user_count == 2
    assert next(iter(schema.fields)) == "colour"
    assert store.record("colour", "zebra")[1] is not None


def test_dangling_links_accepted_on_import_are_reported(stores: _Stores) -> None:
    """History imported with unsafe_allow_dangling_links keeps a record of every such link."""
    s = stores()
    with pytest.raises(LineError) as err:
        writes(s).import_rsf({"colour": COLOUR})
    assert err.value.code == "dangling_link"
    writes(s).import_rsf({"colour": COLOUR}, unsafe_allow_dangling_links=True)
    dangling = s.dangling_links(s.head("colour"))
    assert [(d.entry_number, d.field, d.target) for d in dangling] == [
        (1, "shade", "shade:dark"),
        (2, "shade", "shade:light"),
    ]


def test_unknown_registers_and_hostile_names_are_not_found(store: RegisterStore) -> None:
    """Names that cannot be registers are answered not_found, never with a database error."""
    for name in ("nope", "x" * 500, "Robert'); DROP TABLE reg_registers;--", ""):
        with pytest.raises(CivicError) as err:
            store.head(name)
        assert err.value.code == "not_found"
    assert not store.has_register("nope")
    assert store.missing_keys("nope", {"a"}) == {"a"}
    assert store.missing_keys("shade", {"dark", "teal"}) == {"teal"}


def test_the_archive_imports_with_every_root_reproduced(stores: _Stores) -> None:
    """All 51 archived GOV.UK registers import in one transaction with their asserted roots;
    the 36 historic dangling links are recorded; exports equal the in-memory ones."""
    directory = shared_path("data", "gov-uk-registers-2021")
    sources = {p.stem: p.read_bytes() for p in sorted(directory.glob("*.rsf"))}
    s = stores()
    writes(s).import_rsf(sources, unsafe_allow_dangling_links=True)
    memory = Catalogue(NoRegisters())
    memory.import_rsf(sources, unsafe_allow_dangling_links=True)
    assert len(s.heads()) == 51
    dangling = 0
    for name, data in sources.items():
        head = s.head(name)
        last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
        assert last == f"assert-root-hash\tsha-256:{head.root.hex()}"
        assert head.log_root == memory.get(name).log_root()
        dangling += len(s.dangling_links(head))
    assert dangling == 36
    for name in ("country", "register", "government-domain"):
        assert "".join(s.export_rsf(name)) == "".join(export_rsf(memory.get(name)))
    assert b64url_encode(s.head("country").root)
