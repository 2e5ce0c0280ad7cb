"""Verifiable registers modelled on GOV.UK Registers, and RSF import and export (pure, in memory).

The public surface:

- items: :class:`Item` (``Item.of`` normalises and hashes; ``Item.from_json`` reads the
  canonical form), :func:`canonical_json`;
- schema: :class:`Datatype`, :class:`Cardinality`, :class:`Field`, :class:`RegisterDefinition`,
  :class:`Schema`, :class:`Link`;
- the log: :class:`Entry` (``govuk_leaf()``, ``log_leaf()``), :class:`Scope`, :class:`Record`,
  :class:`Register`, :class:`RegisterBatch` and its :class:`Changeset`, :class:`RegisterHead`,
  :class:`TreeHead`; the storage seam :class:`RegisterBase`;
- caps: :class:`Limits` (every reading entry point takes ``limits=``, default
  :data:`DEFAULT_LIMITS`);
- RSF: :func:`parse_rsf`, :func:`import_rsf`, :func:`export_rsf`, :func:`serialise_rsf`,
  :func:`stage_rsf`;
- schema changes: :func:`stage_definition`, :func:`stage_new_field` (system entries in the log);
- linked registers: :class:`Catalogue` (implements :class:`civicstack.types.RegisterLinks`):
  multi-register imports, ``create_register``, ``add_field``, ``bootstrap``; its rules over any
  storage in :class:`LinkedRegisters` (registers that fit :class:`CatalogueRegister`).
"""

from civicstack.registers.batch import (
    Changeset,
    DanglingLink,
    LineError,
    PendingLink,
    RegisterBase,
    RegisterBatch,
    RegisterHead,
)
from civicstack.registers.canonical import Item, Value, canonical_json, item_hash, json_string
from civicstack.registers.catalogue import (
    Catalogue,
    CatalogueRegister,
    LinkedRegisters,
    NoRegisters,
)
from civicstack.registers.datatypes import Datatype, check_value
from civicstack.registers.define import stage_definition, stage_new_field
from civicstack.registers.entries import Entry, Record, Scope, check_timestamp, format_timestamp
from civicstack.registers.limits import DEFAULT_LIMITS, Limits
from civicstack.registers.register import Register
from civicstack.registers.rsf import (
    AddItem,
    AppendEntry,
    AssertRootHash,
    Command,
    RSFImport,
    export_rsf,
    import_rsf,
    parse_rsf,
    serialise_rsf,
    stage_rsf,
)
from civicstack.registers.schema import Cardinality, Field, Link, RegisterDefinition, Schema
from civicstack.registers.tree import TreeHead, root_of

__all__ = [
    "DEFAULT_LIMITS",
    "AddItem",
    "AppendEntry",
    "AssertRootHash",
    "Cardinality",
    "Catalogue",
    "CatalogueRegister",
    "Changeset",
    "Command",
    "DanglingLink",
    "Datatype",
    "Entry",
    "Field",
    "Item",
    "Limits",
    "LineError",
    "Link",
    "LinkedRegisters",
    "NoRegisters",
    "PendingLink",
    "RSFImport",
    "Record",
    "Register",
    "RegisterBase",
    "RegisterBatch",
    "RegisterDefinition",
    "RegisterHead",
    "Schema",
    "Scope",
    "TreeHead",
    "Value",
    "canonical_json",
    "check_timestamp",
    "check_value",
    "export_rsf",
    "format_timestamp",
    "import_rsf",
    "item_hash",
    "json_string",
    "parse_rsf",
    "root_of",
    "serialise_rsf",
    "stage_definition",
    "stage_new_field",
    "stage_rsf",
]
