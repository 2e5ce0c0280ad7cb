"""A register held in memory: items, entries of both scopes, records, trails and both roots.

A record is the latest user entry for a key (with its items); a key's trail is every user entry
for it, oldest first. Writes go through a :class:`~civicstack.registers.batch.RegisterBatch`
(``register.batch()``), validated whole, then applied with :meth:`Register.apply`; readers never
see a half-applied batch. This class is the reference implementation of
:class:`~civicstack.registers.batch.RegisterBase`; the storage adapter provides the same reads
from a database.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence, Set
from types import MappingProxyType

from civicstack.errors import CivicError, VerificationError
from civicstack.registers.batch import Changeset, RegisterBatch, RegisterHead
from civicstack.registers.canonical import Item
from civicstack.registers.entries import Entry, Record, Scope
from civicstack.registers.schema import Schema
from civicstack.registers.tree import TreeHead
from civicstack.types import RegisterLinks


class Register:
    """One register, in memory."""

    def __init__(self) -> None:
        self._head = RegisterHead()
        self._entries: list[Entry] = []
        self._user: list[Entry] = []
        self._system: list[Entry] = []
        self._items: dict[str, Item] = {}
        self._records: dict[str, Entry] = {}
        self._trails: dict[str, list[Entry]] = {}
        self._system_records: dict[str, tuple[Item, ...]] = {}
        self._system_latest: dict[str, Entry] = {}
        self._govuk_leaf_hashes: list[bytes] = []
        self._schema: Schema | None = None

    # -- RegisterBase -------------------------------------------------------------------------

    def head(self) -> RegisterHead:
        """The current size and tree heads."""
        return self._head

    def system_records(self) -> Mapping[str, tuple[Item, ...]]:
        """The latest items of every system key."""
        return MappingProxyType(self._system_records)

    def item(self, item_hash: str) -> Item | None:
        """The item with this hash, if present."""
        return self._items.get(item_hash)

    def missing_keys(self, keys: Set[str]) -> Set[str]:
        """Those of ``keys`` that have no record."""
        return {key for key in keys if key not in self._records}

    # -- writes -------------------------------------------------------------------------------

    def batch(self, *, name: str | None = None) -> RegisterBatch:
        """A batch staged on this register; ``name`` guards against writing to the wrong one."""
        return RegisterBatch(self, expected_name=name)

    def commit(
        self,
        batch: RegisterBatch,
        links: RegisterLinks,
        *,
        unsafe_allow_dangling_links: bool = False,
    ) -> Changeset:
        """Close ``batch`` (links, orphans) and apply it; nothing changes if a check fails."""
        changes = batch.close(links, unsafe_allow_dangling_links=unsafe_allow_dangling_links)
        self.apply(changes)
        return changes

    def apply(self, changes: Changeset) -> None:
        """Apply a validated changeset built on this register's current head.

        Raises ``conflict`` when another batch was applied since it was staged. Cannot fail
        part-way: everything is checked before the first change.
        """
        if changes.base != self._head:
            raise CivicError("conflict", "the register changed since this batch was staged")
        for item in changes.items:
            self._items[item.hash] = item
        for entry in changes.entries:
            self._entries.append(entry)
            if entry.scope is Scope.USER:
                self._user.append(entry)
                self._records[entry.key] = entry
                self._trails.setdefault(entry.key, []).append(entry)
            else:
                self._system.append(entry)
                self._system_latest[entry.key] = entry
        self._govuk_leaf_hashes.extend(changes.govuk_leaf_hashes)
        self._system_records.update(changes.system_records)
        if changes.system_records:
            self._schema = None
        self._head = changes.head

    # -- reads --------------------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The register's name (from its ``name`` system entry)."""
        return self._head.name

    @property
    def size(self) -> int:
        """Entries of both scopes: the register log's size."""
        return self._head.size

    @property
    def user_count(self) -> int:
        """User entries (GOV.UK's entry count)."""
        return self._head.user_count

    @property
    def system_count(self) -> int:
        """System entries."""
        return self._head.system_count

    @property
    def record_count(self) -> int:
        """Keys with a record."""
        return len(self._records)

    @property
    def schema(self) -> Schema:
        """The schema in force; raises ``invalid_schema`` if the metadata do not define one."""
        if self._schema is None:
            if self.name is None:
                raise VerificationError("invalid_schema", "the register has no name yet")
            self._schema = Schema.from_metadata(self.name, self._system_records)
        return self._schema

    def metadata(self, key: str) -> Item | None:
        """The item of system record ``key`` (``custodian``, ``register-name``...)."""
        items = self._system_records.get(key)
        return items[0] if items else None

    def entries(
        self, scope: Scope | None = None, *, start: int = 0, stop: int | None = None
    ) -> Sequence[Entry]:
        """Entries ``[start, stop)`` in log order, or of one scope (then indexed by number - 1)."""
        if scope is Scope.USER:
            return tuple(self._user[start:stop])
        if scope is Scope.SYSTEM:
            return tuple(self._system[start:stop])
        return tuple(self._entries[start:stop])

    def entry(self, number: int, scope: Scope = Scope.USER) -> Entry:
        """Entry ``number`` (1-based, per scope as GOV.UK numbered them); raises ``not_found``."""
        entries = self._user if scope is Scope.USER else self._system
        if not 1 <= number <= len(entries):
            raise CivicError("not_found", f"no {scope.value} entry {number}")
        return entries[number - 1]

    def items(self) -> Mapping[str, Item]:
        """Every item, by hash."""
        return MappingProxyType(self._items)

    def record(self, key: str) -> Record | None:
        """The latest entry for ``key`` and its items."""
        entry = self._records.get(key)
        return None if entry is None else self._record(entry)

    def records(self) -> Iterator[Record]:
        """Every record, in the order keys first appeared."""
        for entry in self._records.values():
            yield self._record(entry)

    def trail(self, key: str) -> tuple[Entry, ...]:
        """Every user entry for ``key``, oldest first (empty for an unknown key)."""
        return tuple(self._trails.get(key, ()))

    def system_record(self, key: str) -> Record | None:
        """The latest system entry for ``key`` and its items."""
        entry = self._system_latest.get(key)
        return None if entry is None else self._record(entry)

    def _record(self, entry: Entry) -> Record:
        return Record(entry, tuple(self._items[h] for h in entry.item_hashes))

    def root_hash(self, user_count: int | None = None) -> bytes:
        """The GOV.UK root (``assert-root-hash``) over the first ``user_count`` user entries."""
        if user_count is None or user_count == self.user_count:
            return self._head.root_hash()
        if not 0 <= user_count <= self.user_count:
            raise CivicError("not_found", f"no tree of size {user_count}")
        head = TreeHead()
        for leaf_hash in self._govuk_leaf_hashes[:user_count]:
            head = head.append_leaf_hash(leaf_hash)
        return head.root()

    def log_root(self) -> bytes:
        """The register log's root over every entry of both scopes."""
        return self._head.log_root()

    def log_leaves(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The register log's leaves ``[start, stop)``: what the durable log holds."""
        return [entry.log_leaf() for entry in self._entries[start:stop]]
