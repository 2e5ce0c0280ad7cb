"""Catalogues: linked registers changed together, and the metadata registers describing them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from civicstack.errors import CivicError
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
from civicstack.registers.custodians import check_custodian_change
from civicstack.registers.define import METADATA_FIELDS

NOW = 1_767_225_600
PRACTICE = [
    Field(
        "gp-practice", Datatype.STRING, Cardinality.ONE, register="gp-practice", text="ODS code."
    ),
    METADATA_FIELDS["text"],
    Field("opened", Datatype.DATETIME, Cardinality.ONE, text="When it opened."),
    Field("beds", Datatype.INTEGER, Cardinality.ONE, text="Beds."),
]


def _rsf(register: Register) -> bytes:
    return "".join(export_rsf(register)).encode()


def test_bootstrap_registers_describe_themselves() -> None:
    """A fresh catalogue's datatype, field and register registers describe each other fully."""
    catalogue = Catalogue.bootstrap(now=NOW)
    assert set(catalogue.registers) == {"datatype", "field", "register"}
    datatypes = catalogue.get("datatype")
    assert {r.key for r in datatypes.records()} == {d.value for d in Datatype}
    fields = catalogue.get("field")
    registers = catalogue.get("register")
    for name, register in catalogue.registers.items():
        definition = registers.record(name)
        assert definition is not None
        assert definition.item == register.metadata(f"register:{name}")
        for field_name in register.schema.fields:
            record = fields.record(field_name)
            assert record is not None
            assert record.item == register.metadata(f"field:{field_name}")


def test_created_register_is_described_in_the_same_transaction() -> None:
    """Creating a register adds its definition, new fields and datatypes to the metadata."""
    catalogue = Catalogue.bootstrap(now=NOW)
    changes = catalogue.create_register(
        "gp-practice", PRACTICE, now=NOW + 1, custodian="NHS England", title="GP practices"
    )
    assert set(changes) == {"gp-practice", "register", "field"}
    practice = catalogue.get("gp-practice")
    assert practice.metadata("custodian") == Item.of({"custodian": "NHS England"})
    record = catalogue.get("register").record("gp-practice")
    assert record is not None
    assert record.item.get("fields") == ("gp-practice", "text", "opened", "beds")
    assert catalogue.field("opened") == PRACTICE[2]
    assert catalogue.field("text") == METADATA_FIELDS["text"]  # reused, not re-added
    assert len(changes["field"].entries) == 3


def test_extra_metadata_goes_into_the_new_registers_log_after_its_definition() -> None:
    """create_register's metadata become system entries after the definition, in the log."""
    catalogue = Catalogue.bootstrap(now=NOW)
    marker = Item.of({"synthetic": "generated test data"})
    catalogue.create_register("gp-practice", PRACTICE, now=NOW, metadata={"synthetic": marker})
    practice = catalogue.get("gp-practice")
    assert practice.metadata("synthetic") == marker
    system = practice.entries(Scope.SYSTEM)
    assert [e.key for e in system][-2:] == ["register:gp-practice", "synthetic"]
    assert practice.log_leaves()[-1].endswith(b',"entry-type":"system"}')


def test_metadata_registers_cannot_be_created_twice() -> None:
    """Creating the metadata registers where they exist is a conflict that changes nothing."""
    catalogue = Catalogue.bootstrap(now=NOW)
    before = {n: r.head() for n, r in catalogue.registers.items()}
    with pytest.raises(CivicError) as caught:
        catalogue.create_metadata_registers(now=NOW)
    assert caught.value.code == "conflict"
    assert {n: r.head() for n, r in catalogue.registers.items()} == before


def test_a_new_datatype_in_use_is_added_to_the_datatype_register() -> None:
    """A field whose datatype the datatype register lacks adds that datatype's record."""
    catalogue = Catalogue()
    catalogue.create_register(
        "datatype", [METADATA_FIELDS["datatype"], METADATA_FIELDS["text"]], now=NOW
    )
    assert catalogue.get("datatype").record_count == 0
    shop = [
        Field("shop", Datatype.STRING, Cardinality.ONE, register="shop"),
        Field("tills", Datatype.INTEGER, Cardinality.ONE),
    ]
    changes = catalogue.create_register("shop", shop, now=NOW)
    datatypes = catalogue.get("datatype")
    assert {r.key for r in datatypes.records()} == {"integer", "string"}
    assert len(changes["datatype"].entries) == 2


def test_conflicting_field_definition_is_refused_and_nothing_changes() -> None:
    """A field already defined differently in the field register fails the whole creation:
    retyped, field_redefined (the rule RSF patches share); otherwise different, conflict."""
    catalogue = Catalogue.bootstrap(now=NOW)
    before = {n: r.head() for n, r in catalogue.registers.items()}
    shop = Field("shop", Datatype.STRING, Cardinality.ONE, register="shop")
    retyped = Field("text", Datatype.STRING, Cardinality.ONE)
    reworded = replace(METADATA_FIELDS["text"], text="Something else.")
    for other, code in ((retyped, "field_redefined"), (reworded, "conflict")):
        with pytest.raises(CivicError) as caught:
            catalogue.create_register("shop", [shop, other], now=NOW)
        assert caught.value.code == code
    assert {n: r.head() for n, r in catalogue.registers.items()} == before
    assert "shop" not in catalogue.registers


def test_existing_register_cannot_be_created_again() -> None:
    """Creating a register that exists is a conflict."""
    catalogue = Catalogue.bootstrap(now=NOW)
    with pytest.raises(CivicError) as caught:
        catalogue.create_register("field", [METADATA_FIELDS["field"]], now=NOW)
    assert caught.value.code == "conflict"


def test_add_field_updates_the_register_and_the_metadata() -> None:
    """Adding a field appends its schema entries and describes it, together."""
    catalogue = Catalogue.bootstrap(now=NOW)
    catalogue.create_register("gp-practice", PRACTICE, now=NOW)
    website = Field("website", Datatype.URL, Cardinality.ONE, text="The practice's website.")
    catalogue.add_field("gp-practice", website, now=NOW + 5)
    practice = catalogue.get("gp-practice")
    assert "website" in practice.schema.fields
    record = catalogue.get("register").record("gp-practice")
    assert record is not None
    assert record.item.get("fields") == ("gp-practice", "text", "opened", "beds", "website")
    assert catalogue.field("website") == website


def test_links_between_registers_resolve_through_the_catalogue() -> None:
    """A record linking to another register's record is accepted; a missing one is not."""
    catalogue = Catalogue.bootstrap(now=NOW)
    catalogue.create_register("gp-practice", PRACTICE, now=NOW)
    practice = catalogue.get("gp-practice")
    batch = practice.batch()
    batch.append_items(Scope.USER, "A1", [Item.of({"gp-practice": "A1", "beds": "3"})], now=NOW)
    practice.commit(batch, catalogue)
    patient_fields = [
        Field("patient", Datatype.STRING, Cardinality.ONE, register="patient"),
        Field("practice", Datatype.CURIE, Cardinality.ONE),
    ]
    catalogue.create_register("patient", patient_fields, now=NOW)
    patients = catalogue.get("patient")
    ok = patients.batch()
    ok.append_items(
        Scope.USER, "p1", [Item.of({"patient": "p1", "practice": "gp-practice:A1"})], now=NOW
    )
    patients.commit(ok, catalogue)
    bad = patients.batch()
    bad.append_items(
        Scope.USER, "p2", [Item.of({"patient": "p2", "practice": "gp-practice:Z9"})], now=NOW
    )
    with pytest.raises(CivicError) as caught:
        patients.commit(bad, catalogue)
    assert caught.value.code == "dangling_link"
    assert patients.record("p2") is None


def test_cyclically_linked_registers_import_together_but_not_alone() -> None:
    """field and register link to each other: alone each dangles, together both import."""
    source = Catalogue.bootstrap(now=NOW)
    files = {name: _rsf(source.get(name)) for name in ("datatype", "field", "register")}
    with pytest.raises(LineError) as caught:
        Catalogue().import_rsf({"field": files["field"], "datatype": files["datatype"]})
    assert caught.value.code == "dangling_link"
    assert caught.value.register == "field"
    catalogue = Catalogue()
    catalogue.import_rsf(files)
    assert catalogue.get("register").log_root() == source.get("register").log_root()


def test_one_bad_file_leaves_every_register_unchanged() -> None:
    """A multi-register import with one bad file applies none of them."""
    source = Catalogue.bootstrap(now=NOW)
    catalogue = Catalogue()
    good = {name: _rsf(source.get(name)) for name in ("datatype", "field", "register")}
    broken = good["register"].replace(b'"Registers maintained', b'"Registers  maintained', 1)
    with pytest.raises(LineError) as caught:
        catalogue.import_rsf({**good, "register": broken})
    assert caught.value.register == "register"
    assert caught.value.code == "hash_mismatch"
    assert dict(catalogue.registers) == {}


def test_patch_to_a_held_register_through_the_catalogue() -> None:
    """A file for a register the catalogue holds is applied as a patch on it."""
    catalogue = Catalogue.bootstrap(now=NOW)
    catalogue.create_register("gp-practice", PRACTICE, now=NOW)
    practice = catalogue.get("gp-practice")
    copy = import_rsf(_rsf(practice), links=catalogue).register
    batch = copy.batch()
    batch.append_items(Scope.USER, "B2", [Item.of({"gp-practice": "B2"})], now=NOW)
    copy.commit(batch, catalogue)
    patch = "".join(export_rsf(copy, start=practice.size)).encode()
    catalogue.import_rsf({"gp-practice": patch})
    assert catalogue.get("gp-practice") is practice
    assert practice.log_root() == copy.log_root()


def test_get_unknown_register() -> None:
    """Asking for a register the catalogue lacks is not_found."""
    with pytest.raises(CivicError) as caught:
        Catalogue().get("nothing")
    assert caught.value.code == "not_found"


def _field_patch(name: str, definition: Field) -> bytes:
    item = definition.to_item()
    return (
        f"add-item\t{item.text()}\n"
        f"append-entry\tsystem\tfield:{name}\t2026-01-01T00:00:00Z\t{item.hash}\n"
    ).encode()


def test_an_rsf_patch_cannot_retype_a_field_of_its_register_or_the_field_register() -> None:
    """The rule POST / applies holds for patches: a field:NAME entry retyping the register's
    own field, or a shared field the field register defines, is field_redefined and nothing
    changes; rewording a field is allowed."""
    catalogue = Catalogue.bootstrap(now=NOW)
    catalogue.create_register("gp-practice", PRACTICE, now=NOW)
    before = {n: r.head() for n, r in catalogue.registers.items()}
    own = replace(PRACTICE[3], datatype=Datatype.STRING)
    # phase is no field of gp-practice: only the field register defines it.
    shared = replace(METADATA_FIELDS["phase"], cardinality=Cardinality.MANY)
    for name, definition in ((own.name, own), ("phase", shared)):
        with pytest.raises(CivicError) as caught:
            catalogue.import_rsf({"gp-practice": _field_patch(name, definition)})
        assert caught.value.code == "field_redefined"
    assert {n: r.head() for n, r in catalogue.registers.items()} == before
    reworded = replace(PRACTICE[1], text="Reworded.")
    catalogue.import_rsf({"gp-practice": _field_patch(reworded.name, reworded)})


def test_a_custodian_change_holds_records_only() -> None:
    """check_custodian_change refuses a changeset with any system entry (forbidden), and the
    review hook refuses the whole import before anything is applied."""
    catalogue = Catalogue.bootstrap(now=NOW)
    catalogue.create_register("gp-practice", PRACTICE, now=NOW)
    before = catalogue.get("gp-practice").head()
    reworded = replace(PRACTICE[1], text="Reworded.")
    with pytest.raises(CivicError) as caught:
        catalogue.import_rsf(
            {"gp-practice": _field_patch(reworded.name, reworded)},
            review=check_custodian_change,
        )
    assert caught.value.code == "forbidden"
    assert catalogue.get("gp-practice").head() == before
