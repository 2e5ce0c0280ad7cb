"""RSF vectors: the 51 archived GOV.UK registers, the registers-cli fixtures, and bad RSF.

Every archived file asserts the empty root on its first line and its final root on its last;
importing checks every ``assert-root-hash`` on the way, and the tests below compare the final
root with the file's last line again, independently. Links are resolved against the whole
archive, imported as one catalogue (registers link in cycles: ``field`` <-> ``register``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civicstack.errors import CivicError
from civicstack.registers import (
    Cardinality,
    Catalogue,
    Datatype,
    Field,
    LineError,
    Register,
    Scope,
    export_rsf,
    import_rsf,
)
from tests.conftest import SHARED, shared_path

pytestmark = pytest.mark.slow

ARCHIVE = SHARED / "data" / "gov-uk-registers-2021"
FIXTURES = SHARED / "vectors" / "registers"
HERE = Path(__file__).parent / "registers"
BAD = HERE / "bad"

ARCHIVE_FILES = sorted(p.name for p in ARCHIVE.glob("*.rsf")) if ARCHIVE.is_dir() else []
FIXTURE_FILES = sorted(p.name for p in FIXTURES.glob("*.rsf")) if FIXTURES.is_dir() else []
BAD_CASES: dict[str, dict[str, object]] = json.loads((BAD / "expected.json").read_text())

#: Links in the archive's history that GOV.UK accepted and that name nothing: register ->
#: count. Measured facts of the data (typos such as "objecitves", a space after the colon...).
ARCHIVE_DANGLING = {
    "ddat-profession-capability-framework-skill-level": 1,
    "government-domain": 25,
    "information-sharing-agreement-0001": 1,
    "information-sharing-agreement-specified-person-0001": 7,
    "statistical-geography-local-government-district-nir": 2,
}


def _last_root(data: bytes) -> bytes:
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    command, _, value = last.partition(b"\t")
    assert command == b"assert-root-hash"
    return bytes.fromhex(value.decode("ascii").removeprefix("sha-256:"))


def _snapshot(register: Register) -> dict[str, object]:
    return {
        "root": register.root_hash(),
        "log_root": register.log_root(),
        "records": {r.key: [i.hash for i in r.items] for r in register.records()},
        "metadata": {e.key: e.item_hashes for e in register.entries(Scope.SYSTEM)},
        "sizes": (register.user_count, register.system_count),
    }


@pytest.fixture(scope="module")
def archive() -> Catalogue:
    """The whole archive imported as one catalogue, links checked across all 51 registers."""
    directory = shared_path("data", "gov-uk-registers-2021")
    catalogue = Catalogue()
    sources = {p.stem: p.read_bytes() for p in sorted(directory.glob("*.rsf"))}
    changes = catalogue.import_rsf(sources, unsafe_allow_dangling_links=set(ARCHIVE_DANGLING))
    found = {name: len(c.dangling_links) for name, c in changes.items() if c.dangling_links}
    assert found == ARCHIVE_DANGLING
    return catalogue


def test_archive_has_51_registers() -> None:
    """The archive directory holds the 51 registers the issue names."""
    shared_path("data", "gov-uk-registers-2021")
    assert len(ARCHIVE_FILES) == 51


@pytest.mark.parametrize("filename", ARCHIVE_FILES)
def test_archived_register_round_trips(filename: str, archive: Catalogue) -> None:
    """An archived register imports to its asserted root, exports, and re-imports identically."""
    data = shared_path("data", "gov-uk-registers-2021", filename).read_bytes()
    name = filename.removesuffix(".rsf")
    tolerate = name in ARCHIVE_DANGLING
    imported = import_rsf(data, links=archive, name=name, unsafe_allow_dangling_links=tolerate)
    register = imported.register
    assert register.root_hash() == _last_root(data)
    assert _snapshot(register) == _snapshot(archive.get(name))
    exported = "".join(export_rsf(register)).encode("utf-8")
    assert _last_root(exported) == register.root_hash()
    again = import_rsf(exported, links=archive, name=name, unsafe_allow_dangling_links=tolerate)
    assert _snapshot(again.register) == _snapshot(register)
    assert again.register.log_leaves() == register.log_leaves()


@pytest.mark.parametrize("name", sorted(ARCHIVE_DANGLING))
def test_archived_dangling_links_fail_without_the_unsafe_flag(
    name: str, archive: Catalogue
) -> None:
    """The registers with dangling links in their history are refused unless explicitly allowed."""
    data = shared_path("data", "gov-uk-registers-2021", f"{name}.rsf").read_bytes()
    with pytest.raises(LineError) as caught:
        import_rsf(data, links=archive, name=name)
    assert caught.value.code == "dangling_link"
    assert caught.value.line is not None
    assert data.split(b"\n")[caught.value.line - 1].startswith(b"append-entry\tuser\t")


@pytest.mark.parametrize("filename", FIXTURE_FILES)
def test_registers_cli_fixture_round_trips(filename: str, archive: Catalogue) -> None:
    """The registers-cli fixtures import (their asserts hold), export and re-import identically."""
    data = shared_path("vectors", "registers", filename).read_bytes()
    imported = import_rsf(data, links=archive, name=filename.removesuffix(".rsf"))
    register = imported.register
    exported = "".join(export_rsf(register)).encode("utf-8")
    again = import_rsf(exported, links=archive)
    assert _snapshot(again.register) == _snapshot(register)
    assert register.size == data.count(b"\nappend-entry\t")


def test_registers_cli_country_fixture_is_an_earlier_state_of_the_archive(
    archive: Catalogue,
) -> None:
    """The fixture's root is the archived country register's root at the fixture's size."""
    data = shared_path("vectors", "registers", "country.rsf").read_bytes()
    fixture = import_rsf(data, links=archive).register
    assert fixture.root_hash() == archive.get("country").root_hash(fixture.user_count)


@pytest.fixture(scope="module")
def shade() -> Catalogue:
    """A catalogue holding the small ``shade`` register the bad corpus links to."""
    catalogue = Catalogue()
    catalogue.import_rsf({"shade": (HERE / "good" / "shade.rsf").read_bytes()})
    return catalogue


def test_good_colour_register_imports(shade: Catalogue) -> None:
    """The corpus's valid base register imports, links included."""
    register = import_rsf((HERE / "good" / "colour.rsf").read_bytes(), links=shade).register
    assert register.record_count == 2
    record = register.record("red")
    assert record is not None
    assert record.item.get("aliases") == ("crimson", "scarlet")


@pytest.mark.parametrize("filename", sorted(BAD_CASES))
def test_bad_rsf_fails_with_its_code_and_line(filename: str, shade: Catalogue) -> None:
    """Each bad RSF file fails with the expected code at the expected line, changing nothing."""
    expected = BAD_CASES[filename]
    data = (BAD / filename).read_bytes()
    before = {name: _snapshot(r) for name, r in shade.registers.items()}
    with pytest.raises(CivicError) as caught:
        shade.import_rsf({"colour": data})
    error = caught.value
    assert isinstance(error, LineError)
    assert (error.code, error.line) == (expected["code"], expected["line"]), error.detail
    assert {name: _snapshot(r) for name, r in shade.registers.items()} == before
    assert "colour" not in shade.registers


def test_new_register_is_described_in_the_archived_metadata_registers() -> None:
    """A register created next to GOV.UK's field and register registers is recorded in them."""
    directory = shared_path("data", "gov-uk-registers-2021")
    catalogue = Catalogue()
    catalogue.import_rsf(
        {n: (directory / f"{n}.rsf").read_bytes() for n in ("datatype", "field", "register")}
    )
    name = catalogue.field("name")
    assert name is not None
    fields = [
        Field("gp-practice", Datatype.STRING, Cardinality.ONE, register="gp-practice"),
        name,
        Field("list-size", Datatype.INTEGER, Cardinality.ONE),
    ]
    changes = catalogue.create_register("gp-practice", fields, now=1_767_225_600)
    assert [e.key for e in changes["field"].entries] == ["gp-practice", "list-size"]
    assert [e.key for e in changes["datatype"].entries] == ["integer"]
    assert [e.key for e in changes["register"].entries] == ["gp-practice"]
