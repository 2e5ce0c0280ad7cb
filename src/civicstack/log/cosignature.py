"""C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature) with Ed25519: ``cosignature/v1``.

A cosignature is a witness's note signature on a log's checkpoint ("Format"): the line
``— <witness name> base64(key ID || timestamped_signature)``, where

- the key ID is ``SHA-256(<name> || "\\n" || 0x04 || 32-byte Ed25519 public key)[:4]``
  ("Format"; signed-note "Signature types" assigns 0x04 to these cosignatures), so a witness's
  key can never be mistaken for a log's (type 0x01);
- ``timestamped_signature`` is a big-endian u64 POSIX timestamp (at most 2^63 - 1, never zero
  from a witness: tlog-witness "add-checkpoint") then the 64-byte Ed25519 signature;
- the signed message ("Ed25519 signed message") is ``cosignature/v1\\n``, ``time <ts>\\n`` and
  the whole checkpoint note text, extension lines included.

A v1 cosignature says: as of that time, the largest consistent tree the witness has seen for
the log has this root. Verifier keys are vkeys of signature type 0x04 (signed-note "Verifier
keys"). A client verifies a checkpoint against a :class:`WitnessPolicy` (C2SP tlog-policy's
quorum, reduced to "N of these witnesses"): the log's own signature first, then at least N
valid cosignatures from distinct trusted witnesses. Following signed-note "Signatures",
cosignature lines from unknown keys are ignored, and one from a trusted witness that fails to
verify rejects the whole checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from civicstack._crypto import PrivateKey, PublicKey
from civicstack.errors import InputError, VerificationError
from civicstack.log.checkpoint import (
    Checkpoint,
    Receipt,
    VerifiedReceipt,
    open_checkpoint,
    verify_receipt,
)
from civicstack.log.limits import DEFAULT_LIMITS, Limits
from civicstack.log.note import (
    Note,
    NoteSignature,
    NoteVerifier,
    b64std_encode,
    check_key_name,
    ed25519_key_bytes,
    key_id,
    parse_note,
    parse_vkey,
)

__all__ = [
    "COSIGNATURE_V1",
    "Cosignature",
    "CosignatureVerifier",
    "Cosigner",
    "WitnessPolicy",
    "WitnessedCheckpoint",
    "add_cosignatures",
    "cosigned_message",
    "open_witnessed_checkpoint",
    "verify_witnessed_receipt",
]

#: Signature type byte of timestamped Ed25519 checkpoint cosignatures (signed-note).
COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1"
#: "It MUST NOT exceed 2^63 - 1" (tlog-cosignature "Format").
MAX_TIMESTAMP = 2**63 - 1
#: u64 timestamp || Ed25519 signature.
SIGNATURE_BYTES = 8 + 64


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The message a ``cosignature/v1`` signs: the header line, the time line, the note text
    ("Ed25519 signed message")."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InputError("invalid_note", "a cosignature timestamp is 0 to 2^63 - 1")
    return f"{HEADER}\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    """A trusted witness: its name, key ID (type 0x04) and Ed25519 public key."""

    name: str
    key_id: int
    public_key: PublicKey

    @classmethod
    def from_public_key(cls, name: str, key: PublicKey) -> CosignatureVerifier:
        """The verifier of the witness ``name`` with ``key`` (key ID derived per "Format")."""
        check_key_name(name)
        return cls(name, key_id(name, COSIGNATURE_V1, ed25519_key_bytes(key)), key)

    @classmethod
    def parse(cls, vkey: str) -> CosignatureVerifier:
        """Parse a witness vkey ``<name>+<8 hex>+<base64(0x04 || key)>``; the ID must match."""
        name, stated, key = parse_vkey(vkey, COSIGNATURE_V1)
        verifier = cls.from_public_key(name, key)
        if verifier.key_id != stated:
            raise InputError("invalid_key", "the key ID does not match the witness key")
        return verifier

    @property
    def vkey(self) -> str:
        """The verifier key ``<name>+<hex key ID>+<base64(0x04 || key)>``."""
        raw = bytes([COSIGNATURE_V1]) + ed25519_key_bytes(self.public_key)
        return f"{self.name}+{self.key_id:08x}+{b64std_encode(raw)}"

    @property
    def id(self) -> str:
        """``<name>+<hex key ID>``: how this witness's cosignatures are filed."""
        return f"{self.name}+{self.key_id:08x}"

    def verify(self, text: str, signature: bytes) -> int:
        """Check a cosignature (the bytes after the key ID) on the note ``text``; its timestamp.

        Raises ``invalid_cosignature``.
        """
        # 1. The signature is a timestamped_signature: u64 timestamp, then 64 bytes.
        if len(signature) != SIGNATURE_BYTES:
            raise VerificationError("invalid_cosignature", f"{self.name}: not 72 bytes")
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            raise VerificationError("invalid_cosignature", f"{self.name}: timestamp too large")
        # 2. The Ed25519 signature is over the cosigned message with that timestamp.
        try:
            self.public_key.verify(signature[8:], cosigned_message(text, timestamp))
        except VerificationError as exc:
            raise VerificationError(
                "invalid_cosignature", f"the cosignature of {self.name} does not verify"
            ) from exc
        return timestamp


class Cosigner:
    """A witness's signing side: cosigns checkpoint notes with an Ed25519 key under a name."""

    __slots__ = ("_key", "verifier")

    def __init__(self, name: str, key: PrivateKey) -> None:
        if key.alg != "EdDSA":
            raise InputError("invalid_key", "cosignature/v1 uses Ed25519 keys")
        self._key = key
        self.verifier = CosignatureVerifier.from_public_key(name, key.public_key)

    @property
    def name(self) -> str:
        """The witness's key name."""
        return self.verifier.name

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        """The cosignature line of note ``text`` at ``timestamp`` (POSIX seconds, > 0)."""
        # tlog-witness "add-checkpoint": the cosignature MUST NOT omit the timestamp.
        if not 0 < timestamp <= MAX_TIMESTAMP:
            raise InputError("invalid_request", "a witness cosigns at a time after the epoch")
        sig = self._key.sign(cosigned_message(text, timestamp))
        return NoteSignature(self.name, self.verifier.key_id, timestamp.to_bytes(8, "big") + sig)

    def __repr__(self) -> str:
        return f"Cosigner({self.verifier.vkey})"


@dataclass(frozen=True)
class Cosignature:
    """One verified cosignature: which witness, and when it cosigned."""

    witness: CosignatureVerifier
    timestamp: int


@dataclass(frozen=True)
class WitnessPolicy:
    """Which witnesses a client trusts and how many must have cosigned (tlog-policy's quorum
    as a threshold over one group). ``quorum`` 0 asks for none (and checks any present)."""

    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise InputError(
                "invalid_request",
                f"a quorum of {self.quorum} out of {len(self.witnesses)} witnesses",
            )
        keys = [ed25519_key_bytes(w.public_key) for w in self.witnesses]
        # tlog-policy "Defining a witness": two vkeys wrapping one public key are duplicates.
        if len(set(keys)) != len(keys):
            raise InputError("invalid_request", "a witness is listed twice (same public key)")

    @classmethod
    def of(cls, vkeys: Iterable[str], quorum: int | None = None) -> WitnessPolicy:
        """A policy from witness vkeys; ``quorum`` defaults to all of them."""
        witnesses = tuple(CosignatureVerifier.parse(v) for v in vkeys)
        return cls(witnesses, len(witnesses) if quorum is None else quorum)


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint signed by its log and cosigned by at least a policy's quorum."""

    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]


def verify_cosignatures(
    note: Note, policy: WitnessPolicy, *, now: int | None = None, max_skew: int = 300
) -> tuple[Cosignature, ...]:
    """The valid cosignatures of the policy's witnesses on ``note`` (at most one each).

    Raises ``invalid_cosignature`` when a trusted witness's line fails to verify, or (with
    ``now``) carries a timestamp more than ``max_skew`` seconds in the future ("verifiers MAY
    reject cosignatures with timestamps in the future").
    """
    known = {(w.name, w.key_id): w for w in policy.witnesses}
    found: dict[str, Cosignature] = {}
    for sig in note.signatures:
        # 1. Lines of unknown keys (the log's own, other witnesses') are ignored.
        witness = known.get((sig.name, sig.key_id))
        if witness is None:
            continue
        # 2. A trusted witness's line must verify, or the whole note is refused.
        timestamp = witness.verify(note.text, sig.signature)
        if now is not None and timestamp > now + max_skew:
            raise VerificationError(
                "invalid_cosignature", f"{witness.name} cosigned in the future ({timestamp})"
            )
        found.setdefault(witness.id, Cosignature(witness, timestamp))
    return tuple(found.values())


def open_witnessed_checkpoint(
    data: str | bytes,
    log_verifiers: Iterable[NoteVerifier],
    policy: WitnessPolicy,
    *,
    origin: str | None = None,
    now: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> WitnessedCheckpoint:
    """Verify a checkpoint's log signature and its witnesses' quorum; what was verified.

    Raises what :func:`~civicstack.log.open_checkpoint` raises, ``invalid_cosignature``, or
    ``witness_quorum_not_met`` (fewer than ``policy.quorum`` trusted witnesses cosigned).
    """
    # 1. The log's own signature, with the log's keys (cosignature lines are unknown keys to
    #    it: their key IDs are of type 0x04, never 0x01).
    checkpoint = open_checkpoint(data, log_verifiers, origin=origin, limits=limits)
    # 2. Every trusted witness's cosignature on the same note text.
    cosignatures = verify_cosignatures(parse_note(data, limits=limits), policy, now=now)
    # 3. The quorum.
    if len(cosignatures) < policy.quorum:
        raise VerificationError(
            "witness_quorum_not_met",
            f"checkpoint {checkpoint.size} of {checkpoint.origin} is cosigned by "
            f"{len(cosignatures)} of the {policy.quorum} witnesses required",
        )
    return WitnessedCheckpoint(checkpoint, cosignatures)


def add_cosignatures(
    note: str, lines: Sequence[NoteSignature], *, limits: Limits = DEFAULT_LIMITS
) -> str:
    """``note`` with the signature ``lines`` appended (tlog-witness: a client "can move the
    valid signatures to its own view of the checkpoint"); lines already present are kept once."""
    parsed = parse_note(note, limits=limits)
    have = {(s.name, s.key_id) for s in parsed.signatures}
    extra = [s for s in lines if (s.name, s.key_id) not in have]
    return str(Note(parsed.text, parsed.signatures + tuple(extra)))


def verify_witnessed_receipt(
    data: str | bytes | Receipt,
    log_verifiers: Iterable[NoteVerifier],
    policy: WitnessPolicy,
    *,
    entry: bytes | None = None,
    origin: str | None = None,
    now: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedReceipt:
    """:func:`~civicstack.log.verify_receipt`, and its checkpoint cosigned by the policy's
    quorum of witnesses (a receipt carries the checkpoint as the log signed it at release, and
    the cosignatures gathered since). Raises what both checks raise."""
    receipt = data if isinstance(data, Receipt) else Receipt.parse(data, limits=limits)
    verified = verify_receipt(receipt, log_verifiers, entry=entry, origin=origin, limits=limits)
    open_witnessed_checkpoint(receipt.checkpoint, log_verifiers, policy, now=now, limits=limits)
    return verified
