"""Staged writes to a register: validate everything, change nothing until the batch is applied.

A :class:`RegisterBatch` reads its base register through :class:`RegisterBase` (the in-memory
:class:`~civicstack.registers.register.Register`, or a database-backed view in the storage
adapter) and keeps every change in its own overlay. :meth:`RegisterBatch.close` runs the checks
that need the whole batch (links, orphan items) and returns a :class:`Changeset`, which the owner
of the register applies in one step. A failure at any point leaves the base untouched: that is
what makes an RSF import atomic (RSF RFC: "A RSF patch must be treated as a single transaction").

The order of checks per entry follows the RSF RFC's validation rules:

1. the key and timestamp are well-formed and the entry names at least one item;
2. every named item was added before (in this batch or earlier) — else ``hash_mismatch``;
3. a system entry's item has the shape its key calls for (``invalid_schema``), and a
   ``field:<f>`` entry does not retype the field it redefines (``field_redefined``);
4. a user entry's items fit the schema in force at that point (``unknown_field``,
   ``invalid_cardinality``, ``invalid_datatype``, ``primary_key_mismatch``); links are kept;
5. at close: every link names an existing record (``dangling_link``); added items that no
   entry references are dropped and reported (``Changeset.orphan_items``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Protocol

from civicstack._crypto import merkle_leaf_hash
from civicstack.errors import CivicError, VerificationError
from civicstack.registers.canonical import Item
from civicstack.registers.entries import (
    ITEM_HASH_RE,
    Entry,
    Scope,
    check_timestamp,
    format_timestamp,
)
from civicstack.registers.limits import DEFAULT_LIMITS, Limits
from civicstack.registers.schema import (
    KEY_RE,
    SYSTEM_KEY_RE,
    Field,
    Link,
    Schema,
    check_field_change,
    check_system_item,
)
from civicstack.registers.tree import TreeHead
from civicstack.types import RegisterLinks


@dataclass(frozen=True, slots=True)
class RegisterHead:
    """A register's size and tree heads: what a batch needs to number and hash new entries."""

    name: str | None = None
    user_count: int = 0
    system_count: int = 0
    govuk: TreeHead = field(default_factory=TreeHead)
    log: TreeHead = field(default_factory=TreeHead)

    @property
    def size(self) -> int:
        """Entries of both scopes: the register log's size."""
        return self.log.size

    def root_hash(self) -> bytes:
        """The GOV.UK root (``assert-root-hash``) over the user entries."""
        return self.govuk.root()

    def log_root(self) -> bytes:
        """The register log's root over all entries."""
        return self.log.root()


class RegisterBase(Protocol):
    """The reads a batch makes of the register it extends."""

    def head(self) -> RegisterHead:
        """The current size and tree heads."""
        ...

    def system_records(self) -> Mapping[str, tuple[Item, ...]]:
        """The latest items of every system key (``name``, ``field:<f>``...)."""
        ...

    def item(self, item_hash: str) -> Item | None:
        """The item with this hash, if the register has it."""
        ...

    def missing_keys(self, keys: Set[str]) -> Set[str]:
        """Those of ``keys`` that have no user record."""
        ...


@dataclass(frozen=True, slots=True)
class PendingLink:
    """A link found in a user entry, to be resolved when the batch closes."""

    entry: Entry
    field: str
    link: Link
    line: int | None


@dataclass(frozen=True, slots=True)
class DanglingLink:
    """A link that named no register or record (reported, when tolerated, instead of raised)."""

    register: str
    entry_number: int
    field: str
    target: Link
    line: int | None

    def describe(self) -> str:
        """One line for people (the line number, when there is one, is in :attr:`line`)."""
        target = self.target.register + (f":{self.target.key}" if self.target.key else "")
        return (
            f"{self.register} entry {self.entry_number} field {self.field!r} "
            f"links to {target!r}, which does not exist"
        )


@dataclass(frozen=True, slots=True)
class Changeset:
    """A validated batch, ready to apply to the register it was built on."""

    base: RegisterHead
    head: RegisterHead
    entries: tuple[Entry, ...]
    items: tuple[Item, ...]
    system_records: Mapping[str, tuple[Item, ...]]
    dangling_links: tuple[DanglingLink, ...] = ()
    orphan_items: tuple[str, ...] = ()
    #: RFC 9162 leaf hashes of the new user entries (the GOV.UK tree's, and the log's too).
    govuk_leaf_hashes: tuple[bytes, ...] = ()

    def log_leaves(self) -> list[bytes]:
        """The new register-log leaves, in order: what the durable log appends."""
        return [entry.log_leaf() for entry in self.entries]


class LineError(CivicError):
    """A failure tied to a place in the input: the inner error's code, its line and register."""

    def __init__(self, inner: CivicError, line: int | None, register: str | None = None) -> None:
        where = (f"register {register}, " if register else "") + (
            f"line {line}: " if line is not None else ""
        )
        if register and line is None:
            where = f"register {register}: "
        super().__init__(inner.code, where + inner.detail)
        self.line = line
        self.register = register
        self.inner = inner


def at_line(error: CivicError, line: int | None) -> CivicError:
    """``error`` tagged with ``line`` (unchanged when there is no line)."""
    if line is None or isinstance(error, LineError):
        return error
    return LineError(error, line)


@dataclass
class RegisterBatch:
    """New items and entries staged on top of a base register."""

    base: RegisterBase
    expected_name: str | None = None
    limits: Limits = field(default=DEFAULT_LIMITS, kw_only=True)
    _head: RegisterHead = field(init=False)
    _base_head: RegisterHead = field(init=False)
    _entries: list[Entry] = field(default_factory=list, init=False)
    _items: dict[str, Item] = field(default_factory=dict, init=False)
    _referenced: set[str] = field(default_factory=set, init=False)
    _system: dict[str, tuple[Item, ...]] = field(default_factory=dict, init=False)
    _keys: set[str] = field(default_factory=set, init=False)
    _links: list[PendingLink] = field(default_factory=list, init=False)
    _govuk_leaf_hashes: list[bytes] = field(default_factory=list, init=False)
    _schema: Schema | None = field(default=None, init=False)
    _schema_stale: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        self._base_head = self.base.head()
        self._head = self._base_head
        if self.expected_name is not None and self._head.name not in (None, self.expected_name):
            raise VerificationError(
                "invalid_schema",
                f"register is {self._head.name!r}, not {self.expected_name!r}",
            )

    @property
    def head(self) -> RegisterHead:
        """The head including the staged entries."""
        return self._head

    @property
    def entries(self) -> tuple[Entry, ...]:
        """The staged entries."""
        return tuple(self._entries)

    def item(self, item_hash: str) -> Item | None:
        """A staged or existing item."""
        return self._items.get(item_hash) or self.base.item(item_hash)

    def system_record(self, key: str) -> tuple[Item, ...] | None:
        """The latest items of a system key, staged or existing."""
        staged = self._system.get(key)
        return staged if staged is not None else self.base.system_records().get(key)

    def missing_keys(self, keys: Set[str]) -> Set[str]:
        """Those of ``keys`` with no user record, counting staged entries."""
        return self.base.missing_keys(set(keys) - self._keys)

    def add_item(self, item: Item) -> None:
        """Stage an item (a no-op when the register already has it)."""
        if item.hash in self._items or self.base.item(item.hash) is not None:
            return
        self._items[item.hash] = item

    def append(
        self,
        scope: Scope,
        key: str,
        timestamp: str,
        item_hashes: Iterable[str],
        *,
        line: int | None = None,
    ) -> Entry:
        """Stage an entry naming items already added; validate it (see the module docstring)."""
        try:
            return self._append(scope, key, timestamp, tuple(item_hashes), line)
        except CivicError as exc:
            raise at_line(exc, line) from None

    def append_items(self, scope: Scope, key: str, items: Iterable[Item], *, now: int) -> Entry:
        """Stage items and one entry for them at time ``now`` (the custodian write path)."""
        staged = list(items)
        for item in staged:
            self.add_item(item)
        return self.append(scope, key, format_timestamp(now), [item.hash for item in staged])

    def assert_root_hash(self, expected: bytes, *, line: int | None = None) -> None:
        """Check the GOV.UK root over the user entries so far; raise ``root_hash_mismatch``."""
        actual = self._head.root_hash()
        if actual != expected:
            error = VerificationError(
                "root_hash_mismatch",
                f"asserted sha-256:{expected.hex()} but the entries give sha-256:{actual.hex()}",
            )
            raise at_line(error, line)

    def _append(
        self, scope: Scope, key: str, timestamp: str, hashes: tuple[str, ...], line: int | None
    ) -> Entry:
        # 1. well-formed key, timestamp and item list
        pattern = KEY_RE if scope is Scope.USER else SYSTEM_KEY_RE
        if len(key) > self.limits.max_key_length or pattern.fullmatch(key) is None:
            raise VerificationError("invalid_entry", f"{scope.value} key {key!r} is not valid")
        check_timestamp(timestamp)
        if not hashes or len(hashes) > self.limits.max_entry_items:
            raise VerificationError(
                "invalid_entry", f"an entry names 1 to {self.limits.max_entry_items} items"
            )
        if len(set(hashes)) != len(hashes):
            raise VerificationError("invalid_entry", "an entry names the same item twice")
        # 2. every item exists
        items: list[Item] = []
        for item_hash in hashes:
            if ITEM_HASH_RE.fullmatch(item_hash) is None:
                raise VerificationError("invalid_entry", f"{item_hash!r} is not a sha-256 hash")
            item = self.item(item_hash)
            if item is None:
                raise VerificationError(
                    "hash_mismatch", f"no item with hash {item_hash} was added before this entry"
                )
            items.append(item)
        if scope is Scope.SYSTEM:
            entry = self._append_system(key, timestamp, hashes, items)
        else:
            entry = self._append_user(key, timestamp, hashes, items, line)
        self._referenced.update(hashes)
        self._entries.append(entry)
        return entry

    def _append_system(
        self, key: str, timestamp: str, hashes: tuple[str, ...], items: list[Item]
    ) -> Entry:
        # 3. metadata shape; the register's name is fixed once given
        head = self._head
        kind, _, subject = key.partition(":")
        interpreted = key in ("name", "custodian", "register-name") or (
            bool(subject) and kind in ("field", "register")
        )
        if interpreted and len(items) != 1:
            raise VerificationError("invalid_schema", f"a {key!r} entry names one item")
        for item in items:
            check_system_item(key, item)
        if kind == "field" and subject:
            # A field is never retyped (RFC 0001): checked against the definition in force.
            check_field_change(Field.from_item(items[0]), self._defined_field(key))
        name = head.name
        if key == "name":
            given = str(items[0].get("name"))
            if name is not None and given != name:
                raise VerificationError(
                    "invalid_schema", f"the register is called {name!r}, not {given!r}"
                )
            if self.expected_name is not None and given != self.expected_name:
                raise VerificationError(
                    "invalid_schema", f"this is register {given!r}, not {self.expected_name!r}"
                )
            name = given
        number = head.system_count + 1
        entry = Entry(Scope.SYSTEM, number, key, timestamp, hashes, head.size)
        self._system[key] = tuple(items)
        self._schema_stale = True
        log = head.log.append_leaf_hash(merkle_leaf_hash(entry.log_leaf()))
        self._head = RegisterHead(name, head.user_count, number, head.govuk, log)
        return entry

    def _defined_field(self, key: str) -> Field | None:
        """The field defined under ``key`` so far (``None``: none, or a misfiled one)."""
        earlier = self.system_record(key)
        if not earlier:
            return None
        try:
            return Field.from_item(earlier[0])
        except CivicError:
            return None  # a malformed old definition defines nothing a new one could change

    def _append_user(
        self,
        key: str,
        timestamp: str,
        hashes: tuple[str, ...],
        items: list[Item],
        line: int | None,
    ) -> Entry:
        # 4. the schema in force validates the data; links wait for the close
        head = self._head
        schema = self._current_schema()
        number = head.user_count + 1
        entry = Entry(Scope.USER, number, key, timestamp, hashes, head.size)
        for item in items:
            for field_name, link in schema.validate(item, key):
                self._links.append(PendingLink(entry, field_name, link, line))
        self._keys.add(key)
        # A user entry's log leaf is its GOV.UK leaf: hash it once for both trees.
        leaf_hash = merkle_leaf_hash(entry.govuk_leaf())
        self._govuk_leaf_hashes.append(leaf_hash)
        self._head = RegisterHead(
            head.name,
            number,
            head.system_count,
            head.govuk.append_leaf_hash(leaf_hash),
            head.log.append_leaf_hash(leaf_hash),
        )
        return entry

    def _current_schema(self) -> Schema:
        name = self._head.name
        if name is None:
            raise VerificationError("invalid_schema", "no 'name' system entry before user data")
        if self._schema_stale or self._schema is None:
            merged = dict(self.base.system_records())
            merged.update(self._system)
            self._schema = Schema.from_metadata(name, merged)
            self._schema_stale = False
        return self._schema

    def pending_links(self) -> tuple[PendingLink, ...]:
        """The links found so far, not yet resolved."""
        return tuple(self._links)

    def close(
        self,
        links: RegisterLinks,
        *,
        unsafe_allow_dangling_links: bool = False,
    ) -> Changeset:
        """Resolve links, check for orphan items and return the changeset to apply.

        Links to this register resolve against its own records including the staged ones;
        others through ``links``. With ``unsafe_allow_dangling_links`` unresolved links are
        reported in :attr:`Changeset.dangling_links` instead of failing the batch: only for
        importing history that GOV.UK accepted (the archive holds 36 such values).
        """
        # 5a. orphans: an added item no entry references is no part of the register (it is in
        # no record and no tree). The RSF RFC calls it illegal, but GOV.UK's own download-rsf
        # emitted some (registers-cli's further-education-college-uk fixture has one), so it
        # is dropped and reported rather than failing the import.
        kept = tuple(item for h, item in self._items.items() if h in self._referenced)
        orphans = tuple(h for h in self._items if h not in self._referenced)
        # 5b. links
        dangling = self.resolve_links(links)
        if dangling and not unsafe_allow_dangling_links:
            first = dangling[0]
            more = f" (and {len(dangling) - 1} more)" if len(dangling) > 1 else ""
            error = VerificationError("dangling_link", first.describe() + more)
            raise at_line(error, first.line)
        return Changeset(
            base=self._base_head,
            head=self._head,
            entries=tuple(self._entries),
            items=kept,
            system_records=dict(self._system),
            dangling_links=tuple(dangling),
            orphan_items=orphans,
            govuk_leaf_hashes=tuple(self._govuk_leaf_hashes),
        )

    def resolve_links(self, links: RegisterLinks) -> list[DanglingLink]:
        """Every pending link that names nothing, in entry order."""
        own = self._head.name
        wanted: dict[str, set[str]] = {}
        registers: set[str] = set()
        for pending in self._links:
            target = pending.link
            if target.key is None:
                registers.add(target.register)
            else:
                wanted.setdefault(target.register, set()).add(target.key)
        missing: dict[str, Set[str]] = {}
        for register, keys in wanted.items():
            if register == own:
                missing[register] = self.missing_keys(keys)
            else:
                missing[register] = links.missing_keys(register, keys)
        absent = {r for r in registers if r != own and not links.has_register(r)}
        dangling: list[DanglingLink] = []
        for pending in self._links:
            target = pending.link
            gone = (
                target.register in absent
                if target.key is None
                else target.key in missing.get(target.register, ())
            )
            if gone:
                dangling.append(
                    DanglingLink(
                        own or "", pending.entry.number, pending.field, target, pending.line
                    )
                )
        return dangling
