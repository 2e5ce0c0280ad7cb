"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) and tlog-proof (https://c2sp.org/tlog-proof).

A checkpoint is a signed note whose text is the log's origin, its tree size in decimal and its
root hash in base64, then optional extension lines ("Note text"). A receipt is a tlog-proof
bundle: ``c2sp.org/tlog-proof@v1``, an optional ``extra`` line, ``index N``, the inclusion proof
one base64 hash per line, a blank line, then the checkpoint verbatim ("Format"). civicstack
receipts carry the entry itself as the extra data, so a receipt alone shows what was logged;
the inclusion proof is what authenticates it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from civicstack.errors import InputError, VerificationError
from civicstack.log.limits import DEFAULT_LIMITS, Limits
from civicstack.log.note import (
    NoteSigner,
    NoteVerifier,
    b64std_decode,
    b64std_encode,
    open_note,
    parse_note,
    sign_note,
)
from civicstack.log.tiles import MAX_ENTRY_BYTES
from civicstack.log.tree import HASH_SIZE, MAX_TREE_SIZE, leaf_hash, verify_inclusion

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")

__all__ = [
    "TLOG_PROOF_HEADER",
    "Checkpoint",
    "LogHead",
    "Receipt",
    "VerifiedReceipt",
    "open_checkpoint",
    "sign_checkpoint",
    "verify_receipt",
]


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise InputError("invalid_note", f"{what} must be a decimal without leading zeros")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise InputError("invalid_note", f"{what} is out of range")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, size and root hash (and opaque extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise InputError("invalid_note", "the origin is one non-empty line")
        if not 0 <= self.size <= MAX_TREE_SIZE or len(self.root) != HASH_SIZE:
            raise InputError("invalid_note", "a checkpoint has a 64-bit size and a 32-byte root")
        if any(not e or "\n" in e for e in self.extensions):
            raise InputError("invalid_note", "extension lines are non-empty single lines")

    def text(self) -> str:
        """The note text: origin, size, base64 root hash and extensions, one per line."""
        lines = [self.origin, str(self.size), b64std_encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str, *, limits: Limits = DEFAULT_LIMITS) -> Checkpoint:
        """Parse a checkpoint note text (tlog-checkpoint "Note text")."""
        if not text.endswith("\n"):
            raise InputError("invalid_note", "the checkpoint text ends in a newline")
        lines = text[:-1].split("\n")
        # 1-3. At least three lines: origin, tree size, root hash.
        if len(lines) < 3:
            raise InputError("invalid_note", "a checkpoint has an origin, a size and a root hash")
        # 4. Any following lines are extension lines, which must be non-empty.
        if len(lines) - 3 > limits.extension_lines:
            raise InputError("invalid_note", "too many checkpoint extension lines")
        origin, size, root = lines[0], _decimal(lines[1], "the tree size"), b64std_decode(lines[2])
        if len(root) != HASH_SIZE:
            raise InputError("invalid_note", "the root hash is 32 bytes")
        return cls(origin, size, root, tuple(lines[3:]))


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[NoteSigner]) -> str:
    """The signed note of ``checkpoint`` (the log's own key first, then any cosigners)."""
    return sign_note(checkpoint.text(), signers)


def open_checkpoint(
    data: str | bytes,
    verifiers: Iterable[NoteVerifier],
    *,
    origin: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Checkpoint:
    """Verify a signed checkpoint and return it.

    Raises ``invalid_note``, ``invalid_signature``, ``untrusted_note`` or ``origin_mismatch``.
    """
    opened = open_note(data, verifiers, limits=limits)
    checkpoint = Checkpoint.parse(opened.text, limits=limits)
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(
            "origin_mismatch", f"checkpoint of {checkpoint.origin!r}, not {origin!r}"
        )
    return checkpoint


@dataclass(frozen=True)
class LogHead:
    """A log's identity and latest signed state, as a log store hands it out."""

    name: str
    origin: str
    verifier_key: str
    size: int
    root: bytes
    checkpoint: str


@dataclass(frozen=True)
class Receipt:
    """A tlog-proof bundle: entry index, inclusion proof, signed checkpoint, extra data."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def text(self) -> str:
        """The ``.tlog-proof`` text."""
        lines = [TLOG_PROOF_HEADER]
        # The extra line is omitted when there is no extra data.
        if self.extra:
            lines.append("extra " + b64std_encode(self.extra))
        lines.append(f"index {self.index}")
        lines.extend(b64std_encode(h) for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, data: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> Receipt:
        """Parse a tlog-proof bundle strictly; the checkpoint note is parsed, not verified."""
        if len(data) > limits.receipt_bytes:
            raise InputError("too_large", f"a receipt is at most {limits.receipt_bytes} bytes")
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError("invalid_note", "a receipt must be UTF-8") from exc
        head, sep, note = data.partition("\n\n")
        if not sep:
            raise InputError("invalid_note", "a receipt needs a blank line before its checkpoint")
        lines = head.split("\n")
        # 1. The first line MUST be the string c2sp.org/tlog-proof@v1.
        if lines[0] != TLOG_PROOF_HEADER:
            raise InputError("invalid_note", f"a receipt starts with {TLOG_PROOF_HEADER}")
        pos = 1
        extra = None
        # 2. The second line MAY be "extra" and base64 extra data; omitted if there is none.
        if pos < len(lines) and lines[pos].startswith("extra "):
            extra = b64std_decode(lines[pos][len("extra ") :])
            if not extra or len(extra) > MAX_ENTRY_BYTES:
                raise InputError("invalid_note", "the extra data is present and at most 64 KiB")
            pos += 1
        # 3. The next line is "index" and the zero-based decimal index of the entry.
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise InputError("invalid_note", "a receipt names the entry's index")
        index = _decimal(lines[pos][len("index ") :], "the index")
        # 4. Then zero or more base64 hashes: the inclusion proof, from the leaf's sibling up.
        hashes = lines[pos + 1 :]
        if len(hashes) > 64:
            raise InputError("invalid_note", "an inclusion proof has at most 64 hashes")
        proof = tuple(b64std_decode(h) for h in hashes)
        if any(len(h) != HASH_SIZE for h in proof):
            raise InputError("invalid_note", "every proof hash is 32 bytes")
        # 5. After an empty line, the checkpoint verbatim.
        parse_note(note, limits=limits)
        return cls(index, proof, note, extra)


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a verified receipt proves: ``entry`` is entry ``index`` of the log at ``checkpoint``."""

    checkpoint: Checkpoint
    index: int
    entry: bytes | None
    leaf_hash: bytes


def verify_receipt(
    data: str | bytes | Receipt,
    verifiers: Iterable[NoteVerifier],
    *,
    entry: bytes | None = None,
    leaf: bytes | None = None,
    origin: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedReceipt:
    """Verify a tlog-proof receipt for ``entry`` (or its RFC 9162 ``leaf`` hash).

    With neither given, the receipt's extra data is taken as the entry (civicstack receipts
    carry it there), so the result says which bytes were proven. Raises ``invalid_note``,
    ``invalid_signature``, ``untrusted_note``, ``origin_mismatch``, ``proof_out_of_range`` or
    ``inclusion_proof_invalid``.
    """
    receipt = data if isinstance(data, Receipt) else Receipt.parse(data, limits=limits)
    # 1. The checkpoint must be signed by a trusted key (and name the expected log).
    checkpoint = open_checkpoint(receipt.checkpoint, verifiers, origin=origin, limits=limits)
    # 2. Decide which leaf is being proven.
    if leaf is None:
        if entry is None:
            entry = receipt.extra
        if entry is None:
            raise InputError("invalid_request", "give the entry: the receipt carries none")
        leaf = leaf_hash(entry)
    # 3. The inclusion proof must lead from that leaf to the checkpoint's root.
    verify_inclusion(leaf, receipt.index, checkpoint.size, list(receipt.proof), checkpoint.root)
    return VerifiedReceipt(checkpoint, receipt.index, entry, leaf)
