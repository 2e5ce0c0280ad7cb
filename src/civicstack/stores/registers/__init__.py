"""Registers in SQLite and PostgreSQL, each with its verified log in :mod:`civicstack.stores.log`.

The domain's seams over SQL: :class:`StoredRegister` is a :class:`~civicstack.registers.batch.
RegisterBase` (and :class:`~civicstack.registers.catalogue.CatalogueRegister`) read through a
write transaction, and the store's catalogue runs :class:`~civicstack.registers.catalogue.
LinkedRegisters`' rules (imports of linked registers, definitions described in the ``register``,
``field`` and ``datatype`` registers) over them, answering link checks
(:class:`~civicstack.types.RegisterLinks`) from the database.

Tables (Alembic branch ``registers``):

- ``reg_registers``: name, head (counts, both trees' compact ranges and roots), the name of the
  register's log and its Ed25519 log key sealed under the platform's master key (AES-256-GCM);
- ``reg_items``: items by SHA-256, with the log position of the first entry naming each (so an
  RSF export streams in order without remembering what it wrote);
- ``reg_entries``: every entry of both scopes by log position, numbered per scope;
- ``reg_records``: the latest entry per key and scope, its items copied alongside (a record is
  one indexed row), and ``reg_values``: a search index of record values by field (values are
  indexed by their SHA-256 prefix, so a long text indexes as cheaply as a code);
- ``reg_dangling_links``: the historical dangling links an import was told to accept;
- ``reg_custodian_tokens``: per-register custodian bearer tokens by public id and the SHA-256 of
  their secret, with expiry and revocation; ``reg_custodian_events``: their audit trail (issued,
  revoked, writes refused with a revoked or expired token).

Writes. :meth:`RegisterStore.write` runs a decision of :mod:`civicstack.services.registers` (a
custodian's records, an RSF import, a new register or field) in ONE transaction from
:meth:`LogStore.transaction`: the register rows are locked (``FOR
UPDATE`` on PostgreSQL, in name order; SQLite's ``BEGIN IMMEDIATE`` serialises all writers), the
batch is staged and validated against the locked state, its rows are written, the head is moved
only if it is still the one the batch was built on, and the changeset's
:meth:`~civicstack.registers.Changeset.log_leaves` are appended to the register's log with a new
signed checkpoint (:meth:`LogStore.append_in`). The tables and the log therefore commit or roll
back together and can never disagree; a failed import leaves nothing behind.

Reads go through kept-open autocommit connections (:class:`~civicstack.stores.db.DirectReads`);
bulk exports read from one snapshot (a repeatable-read transaction).
"""

from civicstack.stores.registers._store import RegisterStore
from civicstack.stores.registers._writes import RegisterLogs, StoreCatalogue, StoredRegister

__all__ = ["RegisterLogs", "RegisterStore", "StoreCatalogue", "StoredRegister"]
