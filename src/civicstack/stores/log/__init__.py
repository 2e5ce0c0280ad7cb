"""Durable Merkle logs on SQLite and PostgreSQL, stored as C2SP tlog-tiles.

Many independent logs live side by side (one per register, the access log, ...), each named,
each with its own origin and Ed25519 key (C2SP tlog-checkpoint "Signatures"). A log is stored as

- ``log_tiles``: its tlog-tiles hash tiles (level, index) with civicstack's ``inner_hashes``
  (:mod:`civicstack.log.tiles`), so a proof reads one tile per tile level: O(log n) rows, and at
  10M entries three rows;
- ``log_bundles``: its entries in tlog-tiles entry bundles of 256, written when full;
- ``log_leaves``: the entries (and leaf hashes) of its partial bundle, one row each, so a
  one-entry append writes one row instead of rewriting a partial tile and bundle; readers build
  the partial level-0 tile and bundle from them. A row is keyed by its slot in the bundle
  (``idx % 256``) and written over the stale row of an earlier bundle, so the table's pages
  stop splitting after a log's first bundle: an append writes one page;
- ``log_checkpoints``: every checkpoint it signed (one per signed write batch, or on
  :meth:`LogStore.sign`);
- ``log_logs``: name, origin, verifier key, size, root and latest checkpoint. A log's size is
  the larger of the row's ``size`` and one past its last leaf row: on SQLite an unsigned append
  inside the partial bundle writes only its leaf rows, and the row (size and root) is written
  when a bundle fills or a checkpoint is signed; on PostgreSQL every append moves ``size``. The
  current root is computed from the tiles when read.

Writes. :meth:`LogStore.append` is a group commit: concurrent callers queue their entries; one
of them (the leader) writes everything queued in one transaction on a kept-open connection,
signs one checkpoint per log when given a signer, commits, hands the lead to the first caller
queued meanwhile, and wakes each caller of its batch with its indices (one wake-up each). A
batch is all-or-nothing. An unsigned batch that stays in the partial bundle is one page on
SQLite (``BEGIN IMMEDIATE``, leaf rows, ``COMMIT`` with ``synchronous=FULL``: a returned index
survives a power cut), the writer knowing the size from its last commit unless
``PRAGMA data_version`` says another connection wrote since; on PostgreSQL it is one
autocommit statement that moves the log row's size (its row lock orders writers, so several
processes may append to the same log) and inserts the entries at the old size (:mod:`.appends`).
Filling a bundle, or signing, takes the general transaction: lock and read the row, read the
right edge, write the filled tiles and bundle. :meth:`LogStore.append_in` appends inside a
caller's transaction (from :meth:`LogStore.transaction`), for components that must commit
their own rows atomically with the log entries (a register import). :meth:`LogStore.append_built`
does the same inside the group-commit leader's transaction: the caller's callback runs with the
log row locked and its size known, writes its rows and returns the entries; the writer keeps
its remembered right edge and hands back the entries' inclusion proofs made from memory (the
access log's batches).

Reads never touch the leaves: roots and proofs come from the tiles; full tiles never change, so
they are cached in memory. A committed tree never changes either, so the store remembers the
largest size it has seen committed for each log: a proof or root for a size within it needs no
read of the log's row, and no database access at all when its tiles and span hashes are cached
(:class:`~civicstack.log.tiles.ProofMemo`). A proof never uses anything that could still change:
sizes only grow, tiles only grow (a cached prefix is final), and span hashes are of committed
leaves.

The package:

- :mod:`.durable` — :class:`DurableLog`, one log as a library (``civicstack.log.DurableLog``);
- :mod:`.store` — :class:`LogStore`: its state, creating logs;
- :mod:`.appends` — the group commit and :meth:`LogStore.append_in`, writing one batch;
- :mod:`.reads` — heads, roots and proofs, checkpoints, entries, receipts, served tiles;
- :mod:`.database` — connections, the write transaction, log rows, tile reads;
- :mod:`.tile_cache` — committed tiles in memory;
- :mod:`.cosignatures` — witnesses' cosignatures of the checkpoints (C2SP tlog-cosignature),
  appended to every checkpoint the store hands out;
- :mod:`.tables` — the tables (:class:`~civicstack.log.LogHead`, what the store hands out, and
  :class:`~civicstack.log.Limits`, what one append or read may hold, are the core's).
"""

from civicstack.log import LogHead
from civicstack.stores.log.appends import BuildEntries, BuiltAppend, LogWrites
from civicstack.stores.log.reads import MEMO_ENTRIES
from civicstack.stores.log.store import LogStore
from civicstack.stores.log.tables import (
    bundles_table,
    checkpoints_table,
    logs_table,
    tiles_table,
)

__all__ = [
    "MEMO_ENTRIES",
    "BuildEntries",
    "BuiltAppend",
    "LogHead",
    "LogStore",
    "LogWrites",
    "bundles_table",
    "checkpoints_table",
    "logs_table",
    "tiles_table",
]
