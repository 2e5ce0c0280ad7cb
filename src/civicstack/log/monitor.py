"""Monitoring a log: each new signed checkpoint must extend the last one seen.

A monitor (or witness) of a transparency log keeps the last checkpoint it accepted and checks
every newer one against it, so a log cannot show two views of its history (a fork) or take
entries back (a rollback) without being caught. Formats and proofs:

- C2SP tlog-checkpoint: the signed checkpoint (origin, tree size, root hash) in a signed note;
- C2SP tlog-tiles: where a client builds a consistency proof from (or any source of proofs);
- RFC 9162 §2.1.4: consistency proofs, checked by :func:`~civicstack.log.verify_consistency`
  (§2.1.4.2); the empty tree is a prefix of every tree and its root is fixed (§2.1.1);
- C2SP tlog-cosignature: with a :class:`~civicstack.log.cosignature.WitnessPolicy`, the latest
  checkpoint must also carry the quorum of witnesses' cosignatures (``witness_quorum_not_met``),
  so the log cannot show this monitor a view no witness saw.

Two checkpoints the log signed with the same size and different roots are a split view
(``split_view``): proof of a fork, no consistency proof needed.

Pure: the checkpoints, the proofs and the kept state come in through the small seams below
(:class:`CheckpointSource`, :data:`ProveConsistency`, :class:`MonitorState`), so the protocol
runs the same over HTTP, over a database or in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from civicstack._crypto import MERKLE_EMPTY_ROOT
from civicstack.errors import VerificationError
from civicstack.log.checkpoint import Checkpoint, open_checkpoint
from civicstack.log.cosignature import WitnessPolicy, open_witnessed_checkpoint
from civicstack.log.note import NoteVerifier
from civicstack.log.tree import verify_consistency

__all__ = [
    "CheckpointSource",
    "ConsistentCheckpoints",
    "MonitorState",
    "ProveConsistency",
    "check_checkpoint",
]

#: ``(origin, first, second) -> (hashes, where they came from)``: a consistency proof from the
#: tree of ``first`` entries to the tree of ``second`` entries of the log ``origin``.
ProveConsistency = Callable[[str, int, int], tuple[Sequence[bytes], str]]


class CheckpointSource(Protocol):
    """Where the log's latest signed checkpoint is fetched from."""

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note, as served."""
        ...


class MonitorState(Protocol):
    """What the monitor keeps between runs: the last checkpoint it accepted."""

    def last_seen(self) -> bytes | None:
        """The last accepted checkpoint note, or ``None`` before the first."""
        ...

    def remember(self, note: bytes) -> None:
        """Keep ``note`` as the last accepted checkpoint."""
        ...


@dataclass(frozen=True)
class ConsistentCheckpoints:
    """Two checkpoints of one log, the smaller tree proved a prefix of the larger."""

    origin: str
    older: Checkpoint
    newer: Checkpoint
    #: Where the consistency proof came from ("none needed" when no proof was).
    proof_source: str
    #: The latest checkpoint was SMALLER than the last seen: the log served an older state
    #: (a rollback, or a stale cache); the kept state does not move back.
    rolled_back: bool = False
    #: The witnesses (``<name>+<key ID>``) whose cosignatures of the latest checkpoint were
    #: verified, when a witness policy was given.
    cosigned_by: tuple[str, ...] = ()


def check_checkpoint(
    state: MonitorState,
    source: CheckpointSource,
    verifiers: Iterable[NoteVerifier],
    prove: ProveConsistency,
    *,
    witnesses: WitnessPolicy | None = None,
    now: int | None = None,
) -> ConsistentCheckpoints:
    """Check the log's latest checkpoint against the last one seen, and keep the newer.

    Returns what was proved; raises :class:`~civicstack.errors.VerificationError`
    (``untrusted_note``, ``origin_mismatch``, ``consistency_proof_invalid``, ``split_view``,
    ``witness_quorum_not_met``...) when the log is not consistent with what it showed before or
    (with ``witnesses``) its latest checkpoint lacks the witnesses' quorum, and then keeps
    nothing. ``now`` refuses cosignatures from the future.
    """
    trusted = list(verifiers)
    # 1. The last checkpoint seen must be signed by a trusted key (the kept state is checked
    #    again: it may have been tampered with where it was kept).
    last_note = state.last_seen()
    last = open_checkpoint(last_note, trusted) if last_note is not None else None
    # 2. The latest checkpoint is fetched, and must be signed by a trusted key too.
    latest_note = source.checkpoint()
    latest = open_checkpoint(latest_note, trusted)
    #    With a witness policy, it must carry the quorum's cosignatures too.
    cosigned_by: tuple[str, ...] = ()
    if witnesses is not None:
        witnessed = open_witnessed_checkpoint(latest_note, trusted, witnesses, now=now)
        cosigned_by = tuple(c.witness.id for c in witnessed.cosignatures)
    if last is None:
        # Nothing seen yet: the first checkpoint is trusted on first use.
        state.remember(latest_note)
        return ConsistentCheckpoints(
            latest.origin, latest, latest, "first seen", cosigned_by=cosigned_by
        )
    # 3. Both must be checkpoints of the same log.
    if last.origin != latest.origin:
        raise VerificationError(
            "origin_mismatch", f"{last.origin!r} and {latest.origin!r} are two logs"
        )
    # 4. The smaller tree must be a prefix of the larger (RFC 9162 §2.1.4.2).
    rolled_back = latest.size < last.size
    first, second = (latest, last) if rolled_back else (last, latest)
    source_of_proof = _prove_prefix(first, second, prove)
    # 5. Keep the newer checkpoint; never move the kept state back.
    if not rolled_back:
        state.remember(latest_note)
    return ConsistentCheckpoints(
        first.origin, first, second, source_of_proof, rolled_back, cosigned_by
    )


def _prove_prefix(first: Checkpoint, second: Checkpoint, prove: ProveConsistency) -> str:
    """Check that ``first`` (the smaller tree) is a prefix of ``second``; say how it was shown."""
    source = "none needed"
    try:
        if first.size == 0:
            # The empty tree is a prefix of every tree; its root is fixed by RFC 9162 §2.1.1.
            if first.root != MERKLE_EMPTY_ROOT:
                raise VerificationError("consistency_proof_invalid", "a wrong root for size 0")
        elif first.size == second.size:
            if first.root != second.root:
                raise VerificationError(
                    "split_view", "two checkpoints of the same size with different roots"
                )
        else:
            hashes, source = prove(first.origin, first.size, second.size)
            verify_consistency(first.size, second.size, first.root, second.root, list(hashes))
    except VerificationError as exc:
        raise VerificationError(
            exc.code,
            f"checkpoints {first.size} and {second.size} of {first.origin} are INCONSISTENT: "
            f"{exc.detail}",
        ) from exc
    return source
