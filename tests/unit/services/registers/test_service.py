"""The registers service: who may write, and the caps it enforces before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from civicstack._crypto import sha256_digest
from civicstack.errors import CivicError
from civicstack.registers import Catalogue, Item, Limits, LinkedRegisters
from civicstack.registers.custodians import CustodianToken
from civicstack.registers.stored import StoredHead
from civicstack.services.registers import TOKEN_PREFIX, Registers
from civicstack.testing import FixedClock

T = TypeVar("T")
GOOD = Path(__file__).resolve().parents[3] / "vectors" / "registers" / "good"
COLOUR = (GOOD / "colour.rsf").read_bytes()
SHADE = (GOOD / "shade.rsf").read_bytes()
ADMIN = "the-admin-token"


def _head(register_id: int, name: str) -> StoredHead:
    return StoredHead(register_id, name, f"registers/{name}", 0, 0, 0, 0, b"", b"")


class MemoryStorage:
    """Just enough of a register store (the part of RegisterStorage these tests reach), in
    memory: the catalogue rules run on a Catalogue."""

    def __init__(self) -> None:
        self.catalogue = Catalogue()
        self.tokens: dict[bytes, tuple[int, CustodianToken]] = {}
        self.writes = 0

    def head(self, name: str) -> StoredHead:
        names = sorted(self.catalogue.registers)
        if name not in names:
            raise CivicError("not_found", f"no register {name!r}")
        return _head(names.index(name) + 1, name)

    def write(self, names: Iterable[str], change: Callable[[LinkedRegisters[Any]], T]) -> T:
        self.writes += 1
        return change(self.catalogue)

    def add_custodian_token(
        self, head: StoredHead, token_hash: bytes, token: CustodianToken, *, actor: str
    ) -> None:
        self.tokens[token_hash] = (head.id, token)

    def custodian_token(self, token_hash: bytes) -> tuple[int, CustodianToken] | None:
        return self.tokens.get(token_hash)


def _admin(token: str | None) -> None:
    if token != ADMIN:
        raise CivicError("unauthorized", "admin endpoints need the admin bearer token")


def _registers(limits: Limits | None = None) -> tuple[Registers, MemoryStorage]:
    store = MemoryStorage()
    registers = Registers(
        store,
        admin_check=_admin,
        limits=limits or Limits(),
        clock=FixedClock(0),
    )
    registers.import_rsf({"colour": COLOUR, "shade": SHADE})
    return registers, store


def test_the_admin_writes_anything_and_a_custodian_only_its_register() -> None:
    """The admin token writes every register and creates new ones; a custodian token writes
    only the register it was issued for, and never creates one."""
    registers, _ = _registers()
    colour, shade = registers.head("colour"), registers.head("shade")
    assert registers.authorise(colour, ADMIN).is_admin
    assert registers.authorise(None, ADMIN).is_admin
    token = registers.issue_custodian_token("colour", label="paint shop", now=0)
    assert token.startswith(TOKEN_PREFIX)
    assert not registers.authorise(colour, token).is_admin
    for head, given in ((shade, token), (None, token), (colour, None), (colour, "nope")):
        with pytest.raises(CivicError) as err:
            registers.authorise(head, given)
        assert err.value.code == "unauthorized"


def test_only_the_hash_of_a_custodian_token_is_kept() -> None:
    """The store sees a token's SHA-256, never the token; an over-long token is no token."""
    registers, store = _registers()
    token = registers.issue_custodian_token("colour", label="x" * 128, now=0)
    assert list(store.tokens) == [sha256_digest(token.encode())]
    assert token not in repr(store.tokens[sha256_digest(token.encode())])
    assert not registers.is_custodian(registers.head("colour"), token + "x" * 200)


def test_a_custodian_write_appends_one_entry_per_record() -> None:
    """Records are appended as user entries in one write."""
    registers, store = _registers()
    before = store.writes
    changes = registers.append("colour", [("blue", [Item.of({"colour": "blue"})])], now=0)
    assert [e.key for e in changes.entries] == ["blue"]
    assert store.writes == before + 1
    with pytest.raises(CivicError) as err:
        registers.append("nope", [("blue", [Item.of({"colour": "blue"})])], now=0)
    assert err.value.code == "not_found"


def test_lowered_limits_are_enforced_with_the_same_codes() -> None:
    """An operator's lower caps refuse a write, a patch and an import as too_large, before
    anything is written."""
    registers, store = _registers(Limits(max_write_records=1, max_rsf_patch_bytes=64))
    before = store.writes
    records = [(k, [Item.of({"colour": k})]) for k in ("blue", "green")]
    with pytest.raises(CivicError) as err:
        registers.append("colour", records, now=0)
    assert err.value.code == "too_large"
    with pytest.raises(CivicError) as err:
        registers.patch_rsf("colour", b"x" * 65)
    assert err.value.code == "too_large"
    assert store.writes == before
    fresh = Registers(MemoryStorage(), admin_check=_admin)
    with pytest.raises(CivicError) as err:
        fresh.import_rsf({"colour": COLOUR, "shade": SHADE}, limits=Limits(max_rsf_lines=3))
    assert err.value.code == "too_large"
    with pytest.raises(CivicError) as err:
        Item.of({"a": "1", "b": "2"}, limits=Limits(max_item_fields=1))
    assert err.value.code == "too_large"


def test_an_import_names_registers_properly() -> None:
    """A name that cannot be a register's is refused before any transaction."""
    registers, store = _registers()
    before = store.writes
    for name in ("Bad Name", "x" * 65):
        with pytest.raises(CivicError) as err:
            registers.import_rsf({name: COLOUR})
        assert err.value.code == "invalid_schema"
    assert store.writes == before
