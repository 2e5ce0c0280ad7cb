"""The verifiable append-only log: RFC 9162 Merkle trees with C2SP checkpoints and receipts.

Pure: no storage, no HTTP. :mod:`civicstack.stores.log` keeps many such logs durably (one per
register, the access log, ...) as C2SP tlog-tiles; this package holds the rules.

- :mod:`.tree` — RFC 9162 §2: tree hashing, proof shapes, :func:`verify_inclusion` and
  :func:`verify_consistency` (§2.1.3.2, §2.1.4.2).
- :mod:`.tiles` — C2SP tlog-tiles: the tiles and entry bundles a log is stored as, and proof
  generation from them in O(log n) hashes.
- :mod:`.note` — C2SP signed-note with Ed25519: :class:`NoteSigner`, :class:`NoteVerifier`.
- :mod:`.checkpoint` — C2SP tlog-checkpoint and tlog-proof: :class:`Checkpoint`,
  :class:`Receipt`.
- :mod:`.cosignature` — C2SP tlog-cosignature (``cosignature/v1``, Ed25519): :class:`Cosigner`,
  :class:`WitnessPolicy`, :func:`open_witnessed_checkpoint`.
- :mod:`.witness` — C2SP tlog-witness: a witness's rules (:class:`~.witness.Witness`) and its
  client's.

:class:`DurableLog` — the log as a library on SQLite or PostgreSQL — is
:mod:`civicstack.stores.log.durable`, re-exported here lazily: importing this package imports no
SQLAlchemy, and only ``civicstack.log.DurableLog`` loads the store.
"""

from typing import TYPE_CHECKING, Any

from civicstack.log.checkpoint import (
    TLOG_PROOF_HEADER,
    Checkpoint,
    LogHead,
    Receipt,
    VerifiedReceipt,
    open_checkpoint,
    sign_checkpoint,
    verify_receipt,
)
from civicstack.log.cosignature import (
    CosignatureVerifier,
    Cosigner,
    WitnessedCheckpoint,
    WitnessPolicy,
    open_witnessed_checkpoint,
    verify_witnessed_receipt,
)
from civicstack.log.limits import DEFAULT_LIMITS, Limits
from civicstack.log.note import (
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    open_note,
    parse_note,
    sign_note,
)
from civicstack.log.tiles import (
    MAX_ENTRY_BYTES,
    MemoryTiles,
    Tile,
    TileRef,
    TileSource,
    prove_consistency,
    prove_inclusion,
    root_at,
)
from civicstack.log.tree import leaf_hash, mth, verify_consistency, verify_inclusion

if TYPE_CHECKING:
    from civicstack.stores.log.durable import DurableLog

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_ENTRY_BYTES",
    "TLOG_PROOF_HEADER",
    "Checkpoint",
    "CosignatureVerifier",
    "Cosigner",
    "DurableLog",
    "Limits",
    "LogHead",
    "MemoryTiles",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "Receipt",
    "Tile",
    "TileRef",
    "TileSource",
    "VerifiedReceipt",
    "WitnessPolicy",
    "WitnessedCheckpoint",
    "leaf_hash",
    "mth",
    "open_checkpoint",
    "open_note",
    "open_witnessed_checkpoint",
    "parse_note",
    "prove_consistency",
    "prove_inclusion",
    "root_at",
    "sign_checkpoint",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_receipt",
    "verify_witnessed_receipt",
]


def __getattr__(name: str) -> Any:
    # PEP 562: the store (and SQLAlchemy) load only when DurableLog is asked for.
    if name == "DurableLog":
        from civicstack.stores.log.durable import DurableLog

        return DurableLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
