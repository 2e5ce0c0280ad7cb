"""Seeded registers: the archive and the synthetic registers, once, linked and marked."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

import civicstack
from civicstack.registers import Catalogue, Scope
from civicstack.registers.synthetic import (
    SYNTHETIC_KEY,
    SyntheticSizes,
    synthetic_marker,
    synthetic_registers,
)
from civicstack.services.registers import SEED, Registers, seed_registers
from civicstack.services.registers.seed import default_archive
from civicstack.stores.db import create_engine, upgrade
from civicstack.stores.log import LogStore
from civicstack.stores.registers import RegisterStore
from tests.conftest import SHARED, shared_path

NOW = 1_767_225_600
SMALL = SyntheticSizes(addresses=300, companies=200, labour_providers=60, gp_practices=100)
SYNTHETIC = ("address", "company", "licensed-labour-provider", "gp-practice")


@pytest.fixture
def store(database_url: str) -> Iterator[RegisterStore]:
    """An empty register store on a migrated database."""
    engine: Engine = create_engine(database_url)
    upgrade(engine)
    logs = LogStore(engine)
    s = RegisterStore(engine, logs, lambda: b"k" * 32, origin_prefix="seed.test")
    yield s
    s.close()
    logs.close()
    engine.dispose()


def _no_admin(token: str | None) -> None:
    raise AssertionError("seeding needs no admin token")


def test_synthetic_registers_are_deterministic_and_valid() -> None:
    """The same seed gives the same items; every record fits its schema and every link resolves."""
    first = synthetic_registers(rng=random.Random(7), sizes=SMALL)
    again = synthetic_registers(rng=random.Random(7), sizes=SMALL)
    other = synthetic_registers(rng=random.Random(8), sizes=SMALL)
    assert [r.records for r in first] == [r.records for r in again]
    assert [r.records for r in first] != [r.records for r in other]
    catalogue = Catalogue.bootstrap(now=NOW)
    for register in first:
        catalogue.create_register(
            register.name,
            register.fields,
            now=NOW,
            title=register.title,
            metadata={SYNTHETIC_KEY: synthetic_marker(7)},
            records=[(key, [item]) for key, item in register.records],
        )
    sizes = {name: catalogue.get(name).record_count for name in SYNTHETIC}
    assert sizes == {
        "address": 300,
        "company": 200,
        "licensed-labour-provider": 60,
        "gp-practice": 100,
    }
    providers = catalogue.get("licensed-labour-provider")
    statuses = {r.item.get("licence-status") for r in providers.records()}
    assert statuses == {"licensed", "revoked", "surrendered"}
    for record in providers.records():
        ended = record.item.get("end-date") is not None
        assert ended == (record.item.get("licence-status") != "licensed")
        company = catalogue.get("company").record(str(record.item.get("company")))
        assert company is not None
        assert company.item.get("name") == record.item.get("name")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    companies=st.integers(1, 30),
    labour_providers=st.integers(0, 40),
)
def test_synthetic_registers_are_valid_for_any_seed(
    seed: int, companies: int, labour_providers: int
) -> None:
    """Whatever the seed and sizes (even more licences asked for than trading companies),
    every generated item fits its register (dates, links, keys), and nothing ends before it
    starts."""
    tiny = SyntheticSizes(
        addresses=40, companies=companies, labour_providers=labour_providers, gp_practices=20
    )
    catalogue = Catalogue.bootstrap(now=NOW)
    for register in synthetic_registers(rng=random.Random(seed), sizes=tiny):
        catalogue.create_register(
            register.name,
            register.fields,
            now=NOW,
            records=[(key, [item]) for key, item in register.records],
        )
        assert catalogue.get(register.name).record_count == len(register.records)
        for _, item in register.records:
            start, end = item.get("start-date"), item.get("end-date")
            assert end is None or str(start) <= str(end)


def test_seeding_imports_the_archive_and_links_the_synthetic_registers(
    store: RegisterStore,
) -> None:
    """The archive (with its 36 reported dangling links) and four linked synthetic registers;
    a second run changes nothing."""
    archive = shared_path("data", "gov-uk-registers-2021")
    report = seed_registers(
        Registers(store, admin_check=_no_admin), archive=archive, now=NOW, sizes=SMALL
    )
    assert len(report.imported) == 51
    assert sum(report.dangling_links.values()) == 36
    assert report.created == list(SYNTHETIC)
    heads = {h.name: h for h in store.heads()}
    assert len(heads) == 55
    assert sum(len(store.dangling_links(h)) for h in heads.values()) == 36
    for name in SYNTHETIC:
        meta = store.metadata(heads[name])
        assert meta[SYNTHETIC_KEY] == (synthetic_marker(SEED),)
        assert "Synthetic" in str(meta[f"register:{name}"][0].get("text"))
        # Described in the archived register register, in its log after GOV.UK's history.
        assert store.record("register", name)[1] is not None
    address = store.records(heads["address"], limit=50)
    assert all(r.record().item.get("local-authority-eng") for r in address)
    authorities = {str(r.record().item.get("local-authority-eng")) for r in address}
    assert store.missing_keys("local-authority-eng", authorities) == set()
    practice = store.records(heads["gp-practice"], limit=1)[0].record().item
    assert (
        store.record(
            "clinical-commissioning-group", str(practice.get("clinical-commissioning-group"))
        )[1]
        is not None
    )
    again = seed_registers(
        Registers(store, admin_check=_no_admin), archive=archive, now=NOW + 60, sizes=SMALL
    )
    assert (again.imported, again.created, again.extended) == ([], [], [])
    assert {h.name: h for h in store.heads()} == heads


def test_gp_practices_gain_accepting_new_patients_through_their_own_log(
    store: RegisterStore,
) -> None:
    """The extension is a ``field:`` entry and new record versions in gp-practice's own log:
    the earlier versions stay in the log, every open practice now says whether it takes new
    patients, closed ones are left alone, and the field register describes the new field."""
    registers = Registers(store, admin_check=_no_admin)
    report = seed_registers(registers, archive=None, now=NOW, sizes=SMALL)
    assert report.extended == ["gp-practice", "company"]
    head = store.head("gp-practice")
    described = registers.describe(head, full=True)
    assert "accepting-new-patients" in {f["field"] for f in described["fields"]}
    assert store.record("field", "accepting-new-patients")[1] is not None
    system = store.entries(head, scope=Scope.SYSTEM, limit=100)
    assert "field:accepting-new-patients" in {e.key for e in system}
    rows = store.records(head, limit=1000)
    open_rows = [r for r in rows if r.record().item.get("end-date") is None]
    closed = [r for r in rows if r.record().item.get("end-date") is not None]
    assert open_rows
    assert closed
    values = {str(r.record().item.get("accepting-new-patients")) for r in open_rows}
    assert values == {"true", "false"}
    assert all(r.record().item.get("accepting-new-patients") is None for r in closed)
    # Each open practice has two entries now: as created, then with the new field.
    assert head.user_count == len(rows) + len(open_rows)
    assert seed_registers(registers, archive=None, now=NOW + 60, sizes=SMALL).extended == []


def test_companies_gain_their_officers_through_their_own_log(store: RegisterStore) -> None:
    """The second extension: every trading company names one to three officers as Companies
    House prints them, in new versions of its records; dissolved companies are left alone;
    the change service's officer check reads those entries."""
    from civicstack.changes import check_officer

    registers = Registers(store, admin_check=_no_admin)
    seed_registers(registers, archive=None, now=NOW, sizes=SMALL)
    head = store.head("company")
    assert "field:officers" in {e.key for e in store.entries(head, scope=Scope.SYSTEM, limit=100)}
    rows = store.records(head, limit=1000)
    trading = [r.record().item for r in rows if r.record().item.get("end-date") is None]
    dissolved = [r.record().item for r in rows if r.record().item.get("end-date") is not None]
    assert trading
    for item in trading:
        officers = item.get("officers")
        listed = [officers] if isinstance(officers, str) else list(officers or ())
        assert 1 <= len(listed) <= 3
        family, rest = listed[0].split(", ", 1)
        given, born = rest[:-10], rest[-8:-1]
        claims = {"given_name": given, "family_name": family.title(), "birthdate": born + "-15"}
        assert check_officer(listed, claims) == listed[0]
    assert all(item.get("officers") is None for item in dissolved)


def test_seeding_without_an_archive_bootstraps_the_metadata_registers(
    store: RegisterStore,
) -> None:
    """With no archive the datatype, field and register registers describe the synthetic ones."""
    report = seed_registers(
        Registers(store, admin_check=_no_admin), archive=None, now=NOW, sizes=SMALL
    )
    assert report.imported == []
    names = {h.name for h in store.heads()}
    assert names == {"datatype", "field", "register", *SYNTHETIC}
    address = store.records(store.head("address"), limit=5)
    assert all(r.record().item.get("local-authority-eng") is None for r in address)
    point = store.record("datatype", "point")[1]
    assert point is not None
    company = store.head("company")
    system = store.entries(company, scope=Scope.SYSTEM, limit=100)
    # Marked synthetic when created; the officers extension came after, in the same log.
    keys = [e.key for e in system]
    assert SYNTHETIC_KEY in keys
    assert keys.index(SYNTHETIC_KEY) < keys.index("field:officers")


def test_the_archive_ships_inside_the_package() -> None:
    """A clone without ../shared still seeds the 51 archived registers: they are package data,
    byte for byte the archive in ../shared (when that is present)."""
    archive = default_archive()
    package = Path(civicstack.__file__).resolve().parent
    assert archive.is_relative_to(package)
    files = sorted(archive.glob("*.rsf"))
    assert len(files) == 51
    readme = " ".join((archive.parent / "README.md").read_text().split())
    assert "Open Government Licence v3.0" in readme
    shared = SHARED / "data" / "gov-uk-registers-2021"
    if shared.is_dir():
        assert [f.read_bytes() for f in files] == [(shared / f.name).read_bytes() for f in files]


def test_seeding_tells_its_progress(store: RegisterStore, tmp_path: Path) -> None:
    """Seeding reports how many archive bytes it has read and how many synthetic registers it
    has created, ending at the totals; the service itself prints nothing."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("datatype", "field", "register"):
        (archive / f"{name}.rsf").write_bytes(
            shared_path("data", "gov-uk-registers-2021", f"{name}.rsf").read_bytes()
        )
    told: list[tuple[str, int, int]] = []
    seed_registers(
        Registers(store, admin_check=_no_admin),
        archive=archive,
        now=NOW,
        sizes=SMALL,
        progress=lambda stage, done, total: told.append((stage, done, total)),
    )
    archive_bytes = sum(p.stat().st_size for p in archive.glob("*.rsf"))
    read = [t for t in told if t[0] == "archive"]
    assert read[0] == ("archive", 0, archive_bytes)
    assert read[-1] == ("archive", archive_bytes, archive_bytes)
    assert [d for _, d, _ in read] == sorted(d for _, d, _ in read)
    created = [t for t in told if t[0] == "synthetic"]
    assert created == [("synthetic", n, len(SYNTHETIC)) for n in range(len(SYNTHETIC) + 1)]
