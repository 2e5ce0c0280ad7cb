"""A citizen's access history, proven complete as of one checkpoint of the access log.

The platform answers a citizen's wallet with a :class:`SubjectHistory`: a signed checkpoint
(C2SP tlog-checkpoint, with any witnesses' cosignatures, C2SP tlog-cosignature), every entry
about the citizen with its RFC 9162 §2.1.3 inclusion proof under that checkpoint, the log's
last leaf — the subject-map root (:class:`~civicstack.access.entry.SubjectMapRoot`) — with its
inclusion proof, and the subject map's proof for the citizen's key
(:mod:`civicstack.access.subject_map`). :func:`verify_history` checks it with the tag key ``K``
only the wallet and the platform hold (:mod:`civicstack.access.subject`):

1. the checkpoint is signed by the access log's key (and cosigned by a quorum of the wallet's
   witnesses, when it requires them);
2. the checkpoint's last leaf is a subject-map root (each batch of appends ends with one, and
   signs the checkpoint at that size), included under the checkpoint;
3. the map proof for the citizen's key leads to that root: the map says how long the citizen's
   chain is and what its last entry's leaf hash is (blinded by ``K``), or that it is empty;
4. entry ``i`` (``i`` = 0, 1, ...) carries the tag of counter ``i`` and the link to entry
   ``i - 1``'s leaf hash, lies before the map root, and is included under the checkpoint;
5. the chain of step 4 ends exactly where the map's head of step 3 says it does.

So an entry the platform leaves out (a gap, or the newest ones), alters (its inclusion proof or
the chain's next link fails), or hides (logged, but the map's head counts it) is detected, and
the witnesses that cosigned the checkpoint have checked that the log — map roots included — is
the one everyone else sees. The wallet may also hand in the head it verified last time
(``known``): a shorter or different chain since is ``access_history_rollback``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from civicstack._crypto import b64url_decode, b64url_encode, merkle_leaf_hash
from civicstack.access.entry import (
    MAX_ENTRY_BYTES,
    AccessEntry,
    SubjectMapRoot,
    parse_leaf,
)
from civicstack.access.subject import (
    ChainHead,
    head_value,
    map_key,
    subject_key,
    subject_link,
    subject_tag,
)
from civicstack.access.subject_map import MapLeaf, MapProof, verify_map_proof
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.log import (
    Checkpoint,
    NoteVerifier,
    WitnessPolicy,
    open_checkpoint,
    open_witnessed_checkpoint,
    verify_inclusion,
)
from civicstack.log.cosignature import Cosignature

__all__ = [
    "MAX_HISTORY_ENTRIES",
    "HistoryEntry",
    "ProvenLeaf",
    "SubjectHistory",
    "VerifiedHistory",
    "verify_history",
]

#: A history lists at most this many entries (a citizen's lifetime of accesses, many times).
MAX_HISTORY_ENTRIES = 10_000
#: A checkpoint with its cosignatures is a few lines.
MAX_CHECKPOINT_BYTES = 16 * 1024
_MAX_PROOF = 64


@dataclass(frozen=True, slots=True)
class ProvenLeaf:
    """A leaf of the access log with its inclusion proof under the history's checkpoint."""

    index: int
    data: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"index", "entry", "proof"}``, bytes in base64url."""
        return {
            "index": self.index,
            "entry": b64url_encode(self.data),
            "proof": [b64url_encode(h) for h in self.proof],
        }

    @classmethod
    def from_json(cls, value: object) -> ProvenLeaf:
        """Read :meth:`to_json`'s form strictly."""
        if not isinstance(value, Mapping) or set(value) != {"index", "entry", "proof"}:
            raise InputError("malformed", "a proven leaf is {index, entry, proof}")
        index, data, proof = value["index"], _bytes(value["entry"]), value["proof"]
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 1 << 63:
            raise InputError("malformed", "a leaf index is a non-negative 63-bit integer")
        if not 0 < len(data) <= MAX_ENTRY_BYTES:
            raise InputError("malformed", f"a leaf is 1 to {MAX_ENTRY_BYTES} bytes")
        if not isinstance(proof, list) or len(proof) > _MAX_PROOF:
            raise InputError("malformed", f"an inclusion proof is at most {_MAX_PROOF} hashes")
        return cls(index, data, tuple(_hash(h) for h in proof))


def _bytes(value: object) -> bytes:
    if not isinstance(value, str) or len(value) > 2 * MAX_ENTRY_BYTES:
        raise InputError("malformed", "expected base64url bytes")
    return b64url_decode(value)


def _hash(value: object) -> bytes:
    data = _bytes(value)
    if len(data) != 32:
        raise InputError("malformed", "a hash is 32 bytes")
    return data


@dataclass(frozen=True, slots=True)
class SubjectHistory:
    """What the platform answers a citizen's wallet (see the module docstring)."""

    log_subject: str
    checkpoint: str
    entries: tuple[ProvenLeaf, ...]
    map_root: ProvenLeaf | None
    map_proof: MapProof

    def to_json(self) -> dict[str, Any]:
        """The wire form (``POST /access/history``)."""
        leaf = self.map_proof.leaf
        return {
            "log_subject": self.log_subject,
            "checkpoint": self.checkpoint,
            "entries": [e.to_json() for e in self.entries],
            "map_root": None if self.map_root is None else self.map_root.to_json(),
            "map_proof": {
                "siblings": [b64url_encode(h) for h in self.map_proof.siblings],
                "leaf": None
                if leaf is None
                else {"key": b64url_encode(leaf.key), "value": b64url_encode(leaf.value)},
            },
        }

    @classmethod
    def from_json(cls, value: object) -> SubjectHistory:
        """Read the wire form strictly: ``malformed`` or ``too_large``, never a partial read."""
        keys = {"log_subject", "checkpoint", "entries", "map_root", "map_proof"}
        if not isinstance(value, Mapping) or set(value) != keys:
            raise InputError("malformed", "a history is {" + ", ".join(sorted(keys)) + "}")
        log_subject, checkpoint = value["log_subject"], value["checkpoint"]
        if not isinstance(log_subject, str) or not 0 < len(log_subject) <= 128:
            raise InputError("malformed", "log_subject is the citizen's access-log handle")
        if not isinstance(checkpoint, str) or len(checkpoint) > MAX_CHECKPOINT_BYTES:
            raise InputError("malformed", "checkpoint is a signed note")
        entries = value["entries"]
        if not isinstance(entries, list):
            raise InputError("malformed", "entries is a list")
        if len(entries) > MAX_HISTORY_ENTRIES:
            raise InputError("too_large", f"a history lists at most {MAX_HISTORY_ENTRIES}")
        proof = value["map_proof"]
        if not isinstance(proof, Mapping) or set(proof) != {"siblings", "leaf"}:
            raise InputError("malformed", "map_proof is {siblings, leaf}")
        siblings, leaf = proof["siblings"], proof["leaf"]
        if not isinstance(siblings, list) or len(siblings) > 256:
            raise InputError("malformed", "a map proof has at most 256 hashes")
        if leaf is not None and (not isinstance(leaf, Mapping) or set(leaf) != {"key", "value"}):
            raise InputError("malformed", "a map proof's leaf is {key, value} or null")
        return cls(
            log_subject,
            checkpoint,
            tuple(ProvenLeaf.from_json(e) for e in entries),
            None if value["map_root"] is None else ProvenLeaf.from_json(value["map_root"]),
            MapProof(
                tuple(_hash(h) for h in siblings),
                None if leaf is None else MapLeaf(_hash(leaf["key"]), _hash(leaf["value"])),
            ),
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One verified access about the citizen: where it is in the log, and what it says."""

    index: int
    entry: AccessEntry
    leaf_hash: bytes

    def to_json(self) -> dict[str, Any]:
        """The entry as ``civic wallet access-history --json`` lists it."""
        e = self.entry
        return {
            "index": self.index,
            "time": e.time,
            "requester": e.requester,
            "provider": e.provider,
            "service": e.service,
            "purpose": e.purpose,
            "categories": list(e.categories),
            "outcome": e.outcome,
            "refusal": e.refusal,
            "consent": e.consent,
            "consent_version": e.consent_version,
            "verified": True,
        }


@dataclass(frozen=True, slots=True)
class VerifiedHistory:
    """A history proven complete as of :attr:`checkpoint` (step 5 held)."""

    checkpoint: Checkpoint
    entries: tuple[HistoryEntry, ...]
    head: ChainHead
    cosignatures: tuple[Cosignature, ...] = ()


def _open(
    checkpoint: str,
    verifiers: Iterable[NoteVerifier],
    origin: str | None,
    policy: WitnessPolicy | None,
    now: int | None,
) -> tuple[Checkpoint, tuple[Cosignature, ...]]:
    if policy is None:
        return open_checkpoint(checkpoint, verifiers, origin=origin), ()
    witnessed = open_witnessed_checkpoint(checkpoint, verifiers, policy, origin=origin, now=now)
    return witnessed.checkpoint, witnessed.cosignatures


def verify_history(
    history: SubjectHistory,
    verifiers: Iterable[NoteVerifier],
    *,
    origin: str | None = None,
    policy: WitnessPolicy | None = None,
    now: int | None = None,
    known: ChainHead | None = None,
) -> VerifiedHistory:
    """Check that ``history`` holds every entry about its citizen as of its checkpoint.

    Follows the module docstring's steps. Raises one :class:`CivicError`: the checkpoint's
    (``invalid_signature``, ``untrusted_note``, ``origin_mismatch``, ``witness_quorum_not_met``
    ...), ``inclusion_proof_invalid``, ``map_root_missing``, ``map_proof_invalid``,
    ``access_chain_broken``, ``access_history_incomplete`` or ``access_history_rollback``.
    """
    key = subject_key(history.log_subject)
    # 1. The checkpoint: the log's signature, and the witnesses' quorum when required.
    checkpoint, cosignatures = _open(history.checkpoint, verifiers, origin, policy, now)
    size = checkpoint.size
    if size == 0:
        if history.entries or history.map_root is not None or history.map_proof.siblings:
            raise VerificationError("map_root_missing", "an empty log has no entries or map")
        return _complete(checkpoint, (), ChainHead(), known, cosignatures)
    # 2. The subject-map root is the checkpoint's last leaf, and included under it.
    map_root = _map_root(history.map_root, checkpoint)
    # 3. The map's word on the citizen's chain (blinded: only K reads it).
    claimed = verify_map_proof(map_root.root, map_key(key), history.map_proof)
    # 4. The chain, entry by entry: tag, link, place, inclusion.
    out, head = _chain(key, history.entries, checkpoint)
    # 5. The chain ends where the map says it does.
    expected = head_value(key, head) if head.count else None
    if claimed != expected:
        raise VerificationError(
            "access_history_incomplete",
            f"the log's subject map says your history is not the {head.count} entries shown",
        )
    return _complete(checkpoint, tuple(out), head, known, cosignatures)


def _map_root(leaf: ProvenLeaf | None, checkpoint: Checkpoint) -> SubjectMapRoot:
    """Step 2: the checkpoint's last leaf, a subject-map root included under it."""
    size = checkpoint.size
    if leaf is None or leaf.index != size - 1:
        raise VerificationError(
            "map_root_missing", f"the checkpoint's last leaf ({size - 1}) is not shown"
        )
    try:
        parsed = parse_leaf(leaf.data)
    except CivicError as exc:
        raise VerificationError("map_root_missing", f"leaf {size - 1}: {exc.detail}") from exc
    if not isinstance(parsed, SubjectMapRoot):
        raise VerificationError("map_root_missing", f"leaf {size - 1} is not a subject map root")
    verify_inclusion(
        merkle_leaf_hash(leaf.data), leaf.index, size, list(leaf.proof), checkpoint.root
    )
    return parsed


def _chain(
    key: bytes, leaves: Iterable[ProvenLeaf], checkpoint: Checkpoint
) -> tuple[list[HistoryEntry], ChainHead]:
    """Step 4: the entries as the citizen's chain 0, 1, 2, ...; where the chain ends."""
    size = checkpoint.size
    out: list[HistoryEntry] = []
    head = ChainHead()
    for counter, leaf in enumerate(leaves):
        if leaf.index >= size - 1:
            raise VerificationError(
                "access_history_incomplete", f"entry {leaf.index} is not before the map root"
            )
        try:
            entry = parse_leaf(leaf.data)
        except CivicError as exc:
            raise VerificationError("malformed", f"entry {leaf.index}: {exc.detail}") from exc
        if not isinstance(entry, AccessEntry) or entry.subject is None:
            raise VerificationError(
                "access_history_incomplete", f"leaf {leaf.index} is not an entry about anyone"
            )
        if entry.subject.tag != b64url_encode(subject_tag(key, counter)):
            raise VerificationError(
                "access_history_incomplete",
                f"entry number {counter} of your chain is missing (leaf {leaf.index} is not it)",
            )
        if entry.subject.link != b64url_encode(subject_link(key, counter, head.last)):
            raise VerificationError(
                "access_chain_broken",
                f"entry {leaf.index} does not follow your entry before it",
            )
        hashed = merkle_leaf_hash(leaf.data)
        verify_inclusion(hashed, leaf.index, size, list(leaf.proof), checkpoint.root)
        if out and leaf.index <= out[-1].index:
            raise VerificationError("access_chain_broken", "entries go backwards in the log")
        out.append(HistoryEntry(leaf.index, entry, hashed))
        head = ChainHead(counter + 1, hashed)
    return out, head


def _complete(
    checkpoint: Checkpoint,
    entries: tuple[HistoryEntry, ...],
    head: ChainHead,
    known: ChainHead | None,
    cosignatures: tuple[Cosignature, ...],
) -> VerifiedHistory:
    # A history verified earlier must still be a prefix of this one.
    if (
        known is not None
        and known.count
        and (head.count < known.count or entries[known.count - 1].leaf_hash != known.last)
    ):
        raise VerificationError(
            "access_history_rollback",
            f"your history had {known.count} entries when last verified; now {head.count}"
            " that do not extend it",
        )
    return VerifiedHistory(checkpoint, entries, head, cosignatures)
