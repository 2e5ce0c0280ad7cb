"""C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 signatures.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> <base64(key ID || signature)>``. The key ID is the first four bytes of
SHA-256(key name || 0x0A || 0x01 || Ed25519 public key) ("Ed25519 signatures"). A verifier key
is written ``<name>+<hex key ID>+<base64(0x01 || public key)>``, as golang.org/x/mod/sumdb/note
and the transparency-dev tools do.

Opening a note follows "Signatures": signatures from unknown keys are ignored; every signature
from a known key must verify, else the whole note is rejected; at least one must verify.
Parsing is strict (one canonical base64, no control characters, size and signature caps).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from civicstack._crypto import PrivateKey, PublicKey, b64url_decode, b64url_encode, sha256_digest
from civicstack.errors import InputError, VerificationError
from civicstack.log.limits import DEFAULT_LIMITS, Limits

#: Signature type identifier byte of Ed25519 note signatures (signed-note "Signature types").
ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "
#: Caps (:class:`~civicstack.log.limits.Limits`): the spec asks verifiers to accept at least 16
#: signatures; Go's sumdb/note allows 100, our default.

__all__ = [
    "ED25519",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "b64std_decode",
    "b64std_encode",
    "ed25519_key_bytes",
    "key_id",
    "open_note",
    "parse_note",
    "parse_vkey",
    "sign_note",
]


def b64std_encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as every C2SP log format uses."""
    return base64.b64encode(data).decode("ascii")


def b64std_decode(text: str, code: str = "invalid_note") -> bytes:
    """Decode standard padded base64, accepting only the canonical encoding of the bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InputError(code, "not standard base64") from exc
    # validate=True still accepts non-zero padding bits: a second spelling of the same bytes.
    if base64.b64encode(raw).decode("ascii") != text:
        raise InputError(code, "non-canonical base64")
    return raw


def _check_text(text: str, what: str) -> None:
    for ch in text:
        if ch < " " and ch != "\n":
            raise InputError("invalid_note", f"{what} contains a control character")


def check_key_name(name: str, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """A key name: non-empty, no Unicode space, no ``+``, printable, at most
    ``limits.key_name`` characters (256)."""
    if (
        not name
        or len(name) > limits.key_name
        or "+" in name
        or any(ch.isspace() or not ch.isprintable() for ch in name)
    ):
        raise InputError("invalid_note", "a key name is non-empty, without spaces or '+'")
    return name


def key_id(name: str, signature_type: int, material: bytes) -> int:
    """``SHA-256(key name || 0x0A || signature type || public key)[:4]``, big-endian
    (signed-note "Signatures"; tlog-cosignature "Format" uses it with type 0x04)."""
    digest = sha256_digest(name.encode("utf-8") + b"\n" + bytes([signature_type]) + material)
    return int.from_bytes(digest[:4], "big")


def _key_id(name: str, key: PublicKey) -> int:
    return key_id(name, ED25519, ed25519_key_bytes(key))


def ed25519_key_bytes(key: PublicKey) -> bytes:
    """The 32-byte RFC 8032 encoding of an Ed25519 public key (``invalid_key`` for others)."""
    if key.alg != "EdDSA":
        raise InputError("invalid_key", "note signatures use Ed25519 keys")
    return b64url_decode(key.to_jwk()["x"])


def parse_vkey(vkey: str, signature_type: int) -> tuple[str, int, PublicKey]:
    """Parse an Ed25519 verifier key ``<name>+<8 hex>+<base64(type || key)>`` (signed-note
    "Verifier keys") of ``signature_type``; name, the key ID it states, and the key.

    The stated key ID is returned as written: the caller checks it against the derivation its
    signature type prescribes.
    """
    if not isinstance(vkey, str) or len(vkey) > 1024:
        raise InputError("invalid_key", "a verifier key is a short string")
    name, _, rest = vkey.strip().partition("+")
    hex_id, _, material = rest.partition("+")
    try:
        check_key_name(name)
        raw = b64std_decode(material, "invalid_key")
    except InputError as exc:
        raise InputError("invalid_key", f"malformed verifier key: {exc.detail}") from exc
    if len(hex_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hex_id):
        raise InputError("invalid_key", "the key ID of a verifier key is 8 hex digits")
    if len(raw) != 33 or raw[0] != signature_type:
        raise InputError(
            "invalid_key",
            f"only Ed25519 verifier keys of signature type 0x{signature_type:02x} here",
        )
    key = PublicKey.from_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw[1:])})
    return name, int(hex_id, 16), key


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted note key: name, key ID and Ed25519 public key."""

    name: str
    key_id: int
    public_key: PublicKey

    @classmethod
    def from_public_key(cls, name: str, key: PublicKey) -> NoteVerifier:
        """The verifier for ``key`` under ``name`` (key ID derived as the spec recommends)."""
        check_key_name(name)
        return cls(name, _key_id(name, key), key)

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<8 hex digits>+<base64(0x01 || key)>``; the key ID must match the key."""
        name, stated_id, key = parse_vkey(vkey, ED25519)
        verifier = cls.from_public_key(name, key)
        if verifier.key_id != stated_id:
            raise InputError("invalid_key", "the key ID does not match the verifier key")
        return verifier

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+<base64(0x01 || key)>``."""
        material = b64std_encode(bytes([ED25519]) + ed25519_key_bytes(self.public_key))
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, text: bytes, signature: bytes) -> None:
        """Return if ``signature`` over ``text`` is valid, else raise ``invalid_signature``."""
        self.public_key.verify(signature, text)


class NoteSigner:
    """Signs notes with an Ed25519 key under a key name (for a log: its origin)."""

    __slots__ = ("_key", "verifier")

    def __init__(self, name: str, key: PrivateKey) -> None:
        if key.alg != "EdDSA":
            raise InputError("invalid_key", "note signatures use Ed25519 keys")
        self._key = key
        self.verifier = NoteVerifier.from_public_key(name, key.public_key)

    @property
    def name(self) -> str:
        """The key name written in signature lines."""
        return self.verifier.name

    def sign(self, text: str) -> NoteSignature:
        """Sign ``text`` (the note text, ending in a newline)."""
        sig = self._key.sign(text.encode("utf-8"))
        return NoteSignature(self.verifier.name, self.verifier.key_id, sig)

    def __repr__(self) -> str:
        return f"NoteSigner({self.verifier.vkey})"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID, and the signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """``— <name> <base64(key ID || signature)>`` and a newline."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {b64std_encode(blob)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed, not yet verified, signed note."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures were checked: the text and the trusted keys that signed it."""

    note: Note
    verified_by: tuple[NoteVerifier, ...]

    @property
    def text(self) -> str:
        """The verified note text."""
        return self.note.text


def _check_note_text(text: str) -> None:
    if not text.endswith("\n") or text == "\n":
        raise InputError("invalid_note", "the note text must be non-empty and end in a newline")
    _check_text(text, "the note text")


def _parse_signature(line: str, limits: Limits) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise InputError("invalid_note", "a signature line starts with an em dash and a space")
    name, sep, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep:
        raise InputError("invalid_note", "a signature line is '— <name> <signature>'")
    check_key_name(name, limits=limits)
    raw = b64std_decode(blob)
    if len(raw) < 5:
        raise InputError("invalid_note", "a signature is a key ID and at least one byte")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def parse_note(data: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> Note:
    """Parse a signed note strictly (signed-note "Format"); signatures are not checked here."""
    if len(data) > limits.note_bytes:
        raise InputError("too_large", f"a signed note is at most {limits.note_bytes} bytes")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("invalid_note", "a signed note must be UTF-8") from exc
    if len(data.encode("utf-8")) > limits.note_bytes:
        raise InputError("too_large", f"a signed note is at most {limits.note_bytes} bytes")
    _check_text(data, "the note")
    # The text is separated from the signatures by the last empty line in the note.
    split = data.rfind("\n\n")
    if split < 0 or not data.endswith("\n"):
        raise InputError("invalid_note", "a signed note is text, a blank line and signatures")
    text, block = data[: split + 1], data[split + 2 :]
    _check_note_text(text)
    lines = block.split("\n")[:-1]
    if not lines:
        raise InputError("invalid_note", "a signed note needs at least one signature")
    if len(lines) > limits.signatures:
        detail = f"a signed note carries at most {limits.signatures} signatures"
        raise InputError("too_large", detail)
    return Note(text, tuple(_parse_signature(line, limits) for line in lines))


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """The signed note of ``text`` by each signer, in order."""
    _check_note_text(text)
    if not signers:
        raise InputError("invalid_request", "a signed note needs at least one signer")
    return str(Note(text, tuple(s.sign(text) for s in signers)))


def _index(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, int], NoteVerifier]:
    known: dict[tuple[str, int], NoteVerifier] = {}
    for v in verifiers:
        other = known.setdefault((v.name, v.key_id), v)
        if other.public_key != v.public_key:
            raise InputError(
                "invalid_key", f"two keys share the name and ID {v.name}+{v.key_id:08x}"
            )
    return known


def open_note(
    data: str | bytes | Note,
    verifiers: Iterable[NoteVerifier],
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> OpenedNote:
    """Parse ``data`` and check its signatures against the trusted ``verifiers``.

    Raises ``invalid_note`` (syntax), ``invalid_signature`` (a trusted key's signature fails),
    or ``untrusted_note`` (no trusted key signed).
    """
    note = data if isinstance(data, Note) else parse_note(data, limits=limits)
    known = _index(verifiers)
    text = note.text.encode("utf-8")
    verified: list[NoteVerifier] = []
    for sig in note.signatures:
        # 1. Signatures from unknown keys are ignored, even when the name or the ID (not both)
        #    matches a known key.
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        # 2. A signature from a known key must verify; if it does not, reject the whole note.
        try:
            verifier.verify(text, sig.signature)
        except VerificationError as exc:
            raise VerificationError(
                "invalid_signature", f"the signature of {sig.name} does not verify"
            ) from exc
        if verifier not in verified:
            verified.append(verifier)
    # 3. If no signature from a known key verifies, reject the note.
    if not verified:
        raise VerificationError("untrusted_note", "no trusted key signed the note")
    return OpenedNote(note, tuple(verified))
