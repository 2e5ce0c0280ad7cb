"""Checking a downloaded register against a signed checkpoint of its log (pure).

A register's RSF download holds every entry of both scopes in log order, so it determines the
register log exactly (:meth:`~civicstack.registers.entries.Entry.log_leaf`). Verifying one:

1. import the RSF strictly into a fresh register: every item's hash, the schema, and each
   ``assert-root-hash`` (the GOV.UK root over the user entries) are checked on the way; links
   are not what is being verified (those to other registers cannot be resolved offline) and are
   counted instead;
2. open the checkpoint (C2SP tlog-checkpoint in a signed note) with the trusted verifier key,
   and check its origin when one is expected;
3. compare the log the download determines with the checkpoint (RFC 9162 §2.1):
   - same size: the roots must be equal;
   - the checkpoint is older: the root of the download's first ``size`` entries must equal it
     (the download extends what was signed);
   - the checkpoint is newer: a consistency proof from the download's size to the checkpoint's
     (from any untrusted source, such as the server's tiles) must verify (§2.1.4.2).

Raises :class:`~civicstack.errors.VerificationError` (``root_hash_mismatch``,
``consistency_proof_invalid``, ``untrusted_note``, ...) or the RSF import's line errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from civicstack.errors import InputError, VerificationError
from civicstack.log import Checkpoint, NoteVerifier, open_checkpoint, verify_consistency
from civicstack.registers.catalogue import NoRegisters
from civicstack.registers.limits import DEFAULT_LIMITS, Limits
from civicstack.registers.rsf import import_rsf
from civicstack.registers.tree import root_of

__all__ = ["VerifiedDownload", "verify_download"]

#: ``consistency(size1, size2)``: an RFC 9162 consistency proof, from wherever (unverified).
ConsistencySource = Callable[[int, int], list[bytes]]


@dataclass(frozen=True)
class VerifiedDownload:
    """What a verified download proves: this register, these roots, under that checkpoint."""

    name: str
    size: int
    log_root: bytes
    root_hash: bytes
    records: int
    checkpoint: Checkpoint
    #: ``equal``, ``prefix`` (the download extends the checkpoint) or ``consistency``.
    method: str
    #: Links not resolved: to other registers (not checkable offline), or history GOV.UK kept.
    unresolved_links: int


def verify_download(
    rsf: bytes | BinaryIO | Iterable[bytes],
    checkpoint: str | bytes,
    verifiers: Iterable[NoteVerifier],
    *,
    name: str | None = None,
    origin: str | None = None,
    consistency: ConsistencySource | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedDownload:
    """Verify a register's RSF download against a signed checkpoint (module docstring)."""
    # 1. The download must be a valid register on its own.
    imported = import_rsf(
        rsf, links=NoRegisters(), name=name, unsafe_allow_dangling_links=True, limits=limits
    )
    register = imported.register
    # 2. The checkpoint must be signed by a trusted key (and be of the expected log).
    signed = open_checkpoint(checkpoint, verifiers, origin=origin)
    # 3. The log the download determines must be the signed one, or extend it, or be extended.
    size, root = register.size, register.log_root()
    if signed.size == size:
        method = "equal"
        if signed.root != root:
            raise VerificationError(
                "root_hash_mismatch", f"the checkpoint of {size} entries signs another root"
            )
    elif signed.size < size:
        method = "prefix"
        if root_of(register.log_leaves(0, signed.size)) != signed.root:
            raise VerificationError(
                "root_hash_mismatch",
                f"the download's first {signed.size} entries are not the signed ones",
            )
    else:
        method = "consistency"
        if consistency is None:
            raise InputError(
                "proof_out_of_range",
                f"the checkpoint ({signed.size} entries) is newer than the download ({size}):"
                " a consistency proof is needed",
            )
        if size == 0:
            raise VerificationError("consistency_proof_invalid", "the download is empty")
        verify_consistency(size, signed.size, root, signed.root, consistency(size, signed.size))
    return VerifiedDownload(
        name=register.name or "",
        size=size,
        log_root=root,
        root_hash=register.root_hash(),
        records=register.record_count,
        checkpoint=signed,
        method=method,
        unresolved_links=len(imported.changes.dangling_links),
    )
