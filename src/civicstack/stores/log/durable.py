"""The transparency log as a library: :class:`DurableLog`, one RFC 9162 log in SQLite or
PostgreSQL, usable without the rest of the platform (as Tessera is for Go).

    from civicstack.log import DurableLog

    log = DurableLog.open("sqlite:///log.db", "my-log")     # creates the tables and the log
    i = log.append(b"hello")                                 # durable (fsync) when it returns
    proof = log.inclusion_proof(i, log.size())               # RFC 9162 §2.1.3.1 PATH
    verify_inclusion(leaf_hash(b"hello"), i, log.size(), proof, log.root())

Appends from many threads are committed together (group commit), and several processes may
append to one PostgreSQL log at once: indices stay contiguous and unique. Proofs are lists of
32-byte hashes (RFC 9162 §2.1.3, §2.1.4) read from C2SP tlog-tiles in O(log n) rows. A signed
C2SP checkpoint is made on request (:meth:`DurableLog.checkpoint`, with the signer passed to
:meth:`DurableLog.open`), not on every append: an Ed25519 signature per commit would cost more
than the append's own work, and a checkpoint for any committed size commits to every entry
before it.

This module is the one place under :mod:`civicstack.log`'s public name that uses SQL: the core
package re-exports :class:`DurableLog` lazily, so importing :mod:`civicstack.log` imports no
SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from alembic import command
from sqlalchemy.engine import Engine

from civicstack.errors import InputError
from civicstack.log import DEFAULT_LIMITS, Limits, NoteSigner
from civicstack.stores.db import alembic_config, create_engine
from civicstack.stores.log.store import LogStore

__all__ = ["DurableLog"]


class DurableLog:
    """One append-only Merkle log in a database (see the module docstring)."""

    def __init__(self, store: LogStore, name: str, signer: NoteSigner | None = None) -> None:
        """A log ``name`` of ``store`` (which must exist); prefer :meth:`open`."""
        self.store = store
        self.name = name
        self._signer = signer

    @classmethod
    def open(
        cls,
        database_url: str,
        name: str,
        *,
        signer: NoteSigner | None = None,
        engine: Engine | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> DurableLog:
        """Open log ``name`` at ``database_url`` (SQLite or PostgreSQL), creating what is missing.

        Creates the log tables (Alembic branch ``log``) and the log itself if absent. A new log
        takes ``signer``'s key and name (its origin); without a signer it has no key until the
        first :meth:`checkpoint` with one. Pass ``engine`` to share one engine between logs, and
        ``limits`` (:class:`civicstack.log.Limits`) to change what one append or read may hold.
        """
        if engine is None:
            engine = create_engine(database_url)
        command.upgrade(alembic_config(engine), "log@head")
        store = LogStore(engine, limits=limits)
        try:
            store.create_log(name, signer)
        except InputError as exc:
            if exc.code != "log_exists":
                raise
        return cls(store, name, signer)

    # --- writes -----------------------------------------------------------------------------

    def append(self, leaf: bytes) -> int:
        """Append one entry; its index, once durably committed (on SQLite, fsynced)."""
        return self.store.append(self.name, [leaf], None).start

    def append_many(self, leaves: Iterable[bytes]) -> list[int]:
        """Append entries atomically (at most ``limits.append_entries``)."""
        return list(self.store.append(self.name, list(leaves), None))

    def checkpoint(self) -> str:
        """The C2SP signed checkpoint of the current tree (signed now unless already signed).

        Raises ``invalid_request`` without a signer, ``invalid_key`` if the log has another key.
        """
        if self._signer is None:
            raise InputError("invalid_request", "open the log with a signer to sign checkpoints")
        return self.store.sign(self.name, self._signer)

    # --- reads ------------------------------------------------------------------------------

    def size(self) -> int:
        """The number of committed entries."""
        return self.store.head(self.name).size

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 §2.1.1 MTH of the first ``size`` entries (default: all)."""
        return self.store.root(self.name, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof of entry ``index`` in the tree of ``size``."""
        return self.store.inclusion_proof(self.name, index, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 consistency proof from tree size ``old`` to ``new``."""
        return self.store.consistency_proof(self.name, old, new)

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)``."""
        return self.store.entries(self.name, start, end)

    def tile(self, level: int, index: int, width: int | None = None) -> bytes:
        """The C2SP tlog-tiles hash tile ``level``/``index`` (``width`` for a partial one)."""
        return self.store.tile(self.name, level, index, width)

    def entry_bundle(self, index: int, width: int | None = None) -> bytes:
        """The C2SP tlog-tiles entry bundle ``index`` (``width`` entries for a partial one)."""
        return self.store.entry_bundle(self.name, index, width)

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections this log keeps open."""
        self.store.close()

    def __enter__(self) -> DurableLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
