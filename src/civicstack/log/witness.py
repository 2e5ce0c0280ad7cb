"""C2SP tlog-witness (https://c2sp.org/tlog-witness): a witness's rules and its client's.

A witness is configured with the logs it witnesses (each an origin and the log's verifier
keys) and keeps, per log, the latest checkpoint it cosigned. ``add-checkpoint`` ("HTTP
Interface") brings a checkpoint, the size the client believes the witness last cosigned, and a
consistency proof from that size; the witness checks, in this order,

1. the body is well formed (``old <size>``, at most 63 base64 proof hashes, a blank line, the
   signed checkpoint) — else 400;
2. the origin is one it witnesses — else 404 (``unknown_origin``);
3. a signature of a trusted key for that origin verifies, and no trusted key's signature fails
   — else 403 (``checkpoint_unauthenticated``);
4. the old size is at most the checkpoint's size — else 400;
5. the old size is the size it last cosigned (0 if never) — else 409 (``witness_conflict``) with
   that size as the body (``text/x.tlog.size``);
6. a checkpoint of size 0 has the empty tree's root; an old size of 0 comes with no proof; an
   old size equal to the size comes with the same root; otherwise the RFC 9162 §2.1.4.2
   consistency proof links the root it cosigned to the new one — else 422
   (``checkpoint_inconsistent``);

then it cosigns (:mod:`~civicstack.log.cosignature`, a non-zero timestamp) and records the new
checkpoint before it answers — the check of the old size and the write are one atomic step
(:class:`WitnessState`), or two racing requests could roll the witness back ("add-checkpoint",
the race). A witness therefore never cosigns two different trees of one size, nor a tree
that is not an extension of the last it cosigned: a log that forks is caught by the first
witness that saw the other branch.

The client side (:func:`add_checkpoint_body`, :func:`read_cosignatures`,
:func:`parse_size_conflict`) builds the request and reads the answers; :class:`WitnessEndpoint`
is one configured witness (``CIVIC_WITNESSES``). Pure: the state, the clock and the network come
in through seams.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from civicstack._crypto import MERKLE_EMPTY_ROOT
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.log.checkpoint import Checkpoint
from civicstack.log.cosignature import CosignatureVerifier, Cosigner
from civicstack.log.limits import DEFAULT_LIMITS, Limits
from civicstack.log.note import (
    Note,
    NoteSignature,
    NoteVerifier,
    b64std_decode,
    b64std_encode,
    open_note,
    parse_note,
)
from civicstack.log.tree import HASH_SIZE, verify_consistency
from civicstack.types import Clock

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_MEDIA_TYPE",
    "AddCheckpoint",
    "SizeConflictError",
    "Witness",
    "WitnessEndpoint",
    "WitnessState",
    "WitnessedHead",
    "WitnessedLog",
    "add_checkpoint_body",
    "check_add_checkpoint",
    "origin_hash",
    "parse_add_checkpoint",
    "parse_size_conflict",
    "parse_witnesses",
    "read_cosignatures",
]

#: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
#: The media type of a 409 answer's body: the witness's known size and a newline.
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_OLD = "old "


def _decimal(text: str, what: str) -> int:
    """An ASCII decimal with no leading zero (``0`` alone for zero), at most 2^64 - 1."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 20:
        raise InputError("malformed", f"{what} is a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise InputError("malformed", f"{what} has no leading zeroes")
    value = int(text)
    if value >= 2**64:
        raise InputError("malformed", f"{what} is a 64-bit size")
    return value


def max_body_bytes(limits: Limits = DEFAULT_LIMITS) -> int:
    """The largest ``add-checkpoint`` body: the old size line, 63 proof lines, the note."""
    return len(_OLD) + 21 + MAX_PROOF_LINES * 45 + 1 + limits.note_bytes


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` request: nothing in it is verified yet."""

    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    checkpoint: Checkpoint


def parse_add_checkpoint(body: bytes, *, limits: Limits = DEFAULT_LIMITS) -> AddCheckpoint:
    """Parse an ``add-checkpoint`` body strictly (step 1); ``too_large``, ``malformed`` or
    ``invalid_note`` (all 400 but the first, 413)."""
    if len(body) > max_body_bytes(limits):
        most = max_body_bytes(limits)
        raise InputError("too_large", f"an add-checkpoint body is at most {most} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("malformed", "the body is UTF-8 text") from exc
    # 1a. Lines, each ending in a newline, up to the first empty line; the checkpoint after it.
    head, sep, note_text = text.partition("\n\n")
    if not sep:
        raise InputError("malformed", "an old size line, proof lines, a blank line, a checkpoint")
    lines = (head + "\n").split("\n")[:-1]
    # 1b. The old size line: "old", one space, the size with no leading zeroes.
    if not lines[0].startswith(_OLD):
        raise InputError("malformed", "the body starts with 'old <size>'")
    old_size = _decimal(lines[0][len(_OLD) :], "the old size")
    # 1c. Zero to 63 consistency proof lines, one base64 hash each.
    hashes = lines[1:]
    if len(hashes) > MAX_PROOF_LINES:
        raise InputError("malformed", f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(b64std_decode(h, "malformed") for h in hashes)
    if any(len(h) != HASH_SIZE for h in proof):
        raise InputError("malformed", "each proof line is a 32-byte hash")
    # 1d. The checkpoint: a signed note whose text is a checkpoint (its signatures come later).
    note = parse_note(note_text, limits=limits)
    checkpoint = Checkpoint.parse(note.text, limits=limits)
    return AddCheckpoint(old_size, proof, note, checkpoint)


@dataclass(frozen=True)
class WitnessedLog:
    """A log a witness witnesses: its origin and the keys it trusts for it."""

    origin: str
    verifiers: tuple[NoteVerifier, ...]

    @classmethod
    def of(cls, vkey: str) -> WitnessedLog:
        """The log whose origin is the vkey's key name (tlog-policy "Defining a log": the key
        name MUST correspond to the log's origin)."""
        verifier = NoteVerifier.parse(vkey)
        return cls(verifier.name, (verifier,))


@dataclass(frozen=True)
class WitnessedHead:
    """The latest checkpoint a witness cosigned for a log: the note as it serves it (the log's
    verified signatures and its own cosignature), its size, root and cosigning time."""

    origin: str
    size: int
    root: bytes
    note: str
    timestamp: int


class SizeConflictError(CivicError):
    """409: the old size is not the witness's; ``known_size`` is (tlog-witness step 5)."""

    def __init__(self, known_size: int, detail: str = "") -> None:
        super().__init__("witness_conflict", detail or f"the witness cosigned size {known_size}")
        self.known_size = known_size


def check_add_checkpoint(
    request: AddCheckpoint, log: WitnessedLog | None, latest: WitnessedHead | None
) -> Note:
    """Steps 2-6 against the log's configuration and the witness's latest head for it.

    Returns the note with only the log's verified signatures; raises ``unknown_origin``,
    ``checkpoint_unauthenticated``, ``invalid_request``, :class:`SizeConflictError` or
    ``checkpoint_inconsistent``.
    """
    cp, old = request.checkpoint, request.old_size
    # 2. The origin must be one this witness witnesses.
    if log is None or log.origin != cp.origin:
        raise CivicError("unknown_origin", f"this witness does not witness {cp.origin!r}")
    # 3. A trusted key's signature must verify; one that fails refuses the note (signed-note).
    try:
        opened = open_note(request.note, log.verifiers)
    except VerificationError as exc:
        raise CivicError("checkpoint_unauthenticated", exc.detail) from exc
    trusted = {(v.name, v.key_id) for v in opened.verified_by}
    log_signatures = tuple(s for s in request.note.signatures if (s.name, s.key_id) in trusted)
    # 4. The old size is at most the checkpoint's size.
    if old > cp.size:
        raise InputError("invalid_request", f"old size {old} is over the checkpoint's {cp.size}")
    # 5. The old size is the size last cosigned (0 if never).
    known = latest.size if latest is not None else 0
    if old != known:
        detail = f"the witness last cosigned size {known} of {cp.origin}, not {old}"
        raise SizeConflictError(known, detail)
    # 6. Consistency with what was cosigned.
    try:
        if cp.size == 0 and cp.root != MERKLE_EMPTY_ROOT:
            raise VerificationError("checkpoint_inconsistent", "size 0 with a non-empty root")
        if old == 0:
            if request.proof:
                raise VerificationError("checkpoint_inconsistent", "a proof from size 0")
        else:
            assert latest is not None
            verify_consistency(old, cp.size, latest.root, cp.root, list(request.proof))
    except VerificationError as exc:
        raise VerificationError(
            "checkpoint_inconsistent",
            f"checkpoint {cp.size} of {cp.origin} is not consistent with the cosigned "
            f"{known}: {exc.detail}",
        ) from exc
    return Note(request.note.text, log_signatures)


class WitnessState(Protocol):
    """The witness's durable record: the latest head it cosigned, per origin."""

    def latest(self, origin: str) -> WitnessedHead | None:
        """The latest head cosigned for ``origin``, or ``None``."""
        ...

    def advance(
        self, origin: str, step: Callable[[WitnessedHead | None], WitnessedHead]
    ) -> WitnessedHead:
        """Atomically: read the latest head of ``origin``, call ``step`` with it, durably record
        what it returns (nothing if it raises), and return it. No other ``advance`` of the same
        origin may run in between, in this process or another."""
        ...


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of an origin: its path segment in the monitoring API."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


class Witness:
    """A tlog-witness: the logs it witnesses, its cosigner, its durable state and clock."""

    def __init__(
        self,
        cosigner: Cosigner,
        logs: Iterable[WitnessedLog],
        state: WitnessState,
        clock: Clock,
        *,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.cosigner = cosigner
        self.logs: Mapping[str, WitnessedLog] = {log.origin: log for log in logs}
        self.state = state
        self.clock = clock
        self.limits = limits
        self._by_hash = {origin_hash(o): o for o in self.logs}

    def add_checkpoint(self, body: bytes) -> str:
        """Handle an ``add-checkpoint`` body; the cosignature line(s) to answer with."""
        request = parse_add_checkpoint(body, limits=self.limits)
        log = self.logs.get(request.checkpoint.origin)
        if log is None:  # 2. before any state is touched
            origin = request.checkpoint.origin
            raise CivicError("unknown_origin", f"this witness does not witness {origin!r}")
        line: list[NoteSignature] = []

        def step(latest: WitnessedHead | None) -> WitnessedHead:
            note = check_add_checkpoint(request, log, latest)
            # A cosignature's time never goes back for a log, even if the clock does.
            now = max(self.clock.now(), latest.timestamp if latest is not None else 1, 1)
            cosignature = self.cosigner.cosign(note.text, now)
            line[:] = [cosignature]
            cp = request.checkpoint
            served = str(Note(note.text, (*note.signatures, cosignature)))
            return WitnessedHead(cp.origin, cp.size, cp.root, served, now)

        self.state.advance(log.origin, step)
        return line[0].line()

    def checkpoint(self, hashed_origin: str) -> str:
        """The latest cosigned checkpoint of the log whose origin hashes to ``hashed_origin``
        (the monitoring API); ``not_found`` if it cosigned none."""
        origin = self._by_hash.get(hashed_origin)
        head = self.state.latest(origin) if origin is not None else None
        if head is None:
            raise CivicError("not_found", "this witness has cosigned no checkpoint of that log")
        return head.note


# --- the client side --------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness a log submits its checkpoints to: its cosignature key and submission URL."""

    verifier: CosignatureVerifier
    url: str

    @property
    def add_checkpoint_url(self) -> str:
        """``<submission prefix>/add-checkpoint``."""
        return self.url.rstrip("/") + "/add-checkpoint"


def parse_witnesses(text: str) -> tuple[WitnessEndpoint, ...]:
    """``CIVIC_WITNESSES``: entries ``<witness vkey>@<submission URL>``, separated by spaces,
    commas or newlines. A vkey's base64 has no ``@``, so the first ``@`` after the key ID ends
    it; the URL is http(s)."""
    out: list[WitnessEndpoint] = []
    for entry in text.replace(",", " ").split():
        name, _, rest = entry.partition("+")
        hex_id, _, rest = rest.partition("+")
        material, at, url = rest.partition("@")
        if not at or not url.startswith(("http://", "https://")) or "@" in url:
            raise InputError(
                "invalid_setting",
                f"CIVIC_WITNESSES: {entry[:80]!r} is not <vkey>@<http(s) URL>",
            )
        try:
            verifier = CosignatureVerifier.parse(f"{name}+{hex_id}+{material}")
        except InputError as exc:
            raise InputError("invalid_setting", f"CIVIC_WITNESSES: {exc.detail}") from exc
        out.append(WitnessEndpoint(verifier, url))
    ids = [w.verifier.id for w in out]
    if len(set(ids)) != len(ids):
        raise InputError("invalid_setting", "CIVIC_WITNESSES names a witness twice")
    return tuple(out)


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The ``add-checkpoint`` body: ``old <size>``, the proof lines, a blank line, the note."""
    if len(proof) > MAX_PROOF_LINES:
        raise InputError("invalid_request", f"at most {MAX_PROOF_LINES} proof hashes")
    lines = [f"{_OLD}{old_size}", *(b64std_encode(h) for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode("utf-8")


def parse_size_conflict(body: bytes) -> int:
    """The witness's known size from a 409 body (``<size>\\n``)."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputError("malformed", "a 409 body is a decimal size and a newline") from exc
    if not text.endswith("\n") or "\n" in text[:-1]:
        raise InputError("malformed", "a 409 body is a decimal size and a newline")
    return _decimal(text[:-1], "the witness's size")


def read_cosignatures(
    body: bytes, note_text: str, witness: CosignatureVerifier, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[NoteSignature, int]:
    """The witness's cosignature of ``note_text`` in a 200 answer, and its timestamp.

    The answer is one or more signature lines; lines from other keys are ignored ("The client
    MUST ignore any cosignatures from unknown keys"). Raises ``invalid_cosignature`` when the
    witness's line is missing or fails to verify, ``malformed`` when the body is not lines.
    """
    if len(body) > limits.note_bytes:
        raise InputError("too_large", "the witness's answer is too large")
    try:
        # Concatenated to the checkpoint text, the answer is a note (tlog-witness).
        note = parse_note(note_text.encode("utf-8") + b"\n" + body, limits=limits)
    except InputError as exc:
        raise InputError("malformed", f"the witness's answer: {exc.detail}") from exc
    if note.text != note_text:
        raise InputError("malformed", "the witness's answer is not signature lines")
    for sig in note.signatures:
        if (sig.name, sig.key_id) == (witness.name, witness.key_id):
            timestamp = witness.verify(note_text, sig.signature)
            if timestamp == 0:
                raise VerificationError("invalid_cosignature", "a witness's timestamp is not 0")
            return sig, timestamp
    raise VerificationError("invalid_cosignature", f"no cosignature from {witness.name}")
