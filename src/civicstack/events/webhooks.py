"""Standard Webhooks 1.0 signing (standard-webhooks ``spec/standard-webhooks.md``).

Sections followed: "Webhook metadata" (an id constant across retries, an attempt timestamp),
"Signature scheme" (the signed content is ``msg_id.timestamp.payload``; ids and timestamps
contain no ``.``; symmetric ``v1`` = HMAC-SHA256 with a random 24-64 byte secret serialised
``whsec_`` + base64; asymmetric ``v1a`` = Ed25519 with ``whsk_``/``whpk_`` + base64 keys),
"Webhook headers" (``webhook-id``, ``webhook-timestamp`` in integer Unix seconds,
``webhook-signature`` a space-delimited list so that during a secret rotation both the new
and the old key sign) and "Verifying signatures" (constant-time comparison, a timestamp
tolerance against replays).

Key formats: the spec says "base64 encoded" raw keys. A ``whsk_`` key is the RFC 8032 §5.1.5
32-byte private key (seed); libsodium's 64-byte form (seed then public key) is read too and
its halves must agree. A ``whpk_`` key is the 32-byte public key. Base64 is RFC 4648 §4 with
padding (what the official libraries write); unpadded input is read as well.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from civicstack._crypto import (
    constant_time_equal,
    ed25519_generate_seed,
    ed25519_public,
    ed25519_sign,
    ed25519_verify,
    hmac_sha256,
)
from civicstack.errors import InputError, VerificationError

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_KEY_PREFIX: Final = "whsk_"  # noqa: S105 - a format prefix, not a secret
PUBLIC_KEY_PREFIX: Final = "whpk_"
#: "Signing secret: Random. Between 24 bytes (192 bits) and 64 bytes (512 bits)".
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
#: The secrets this platform generates: 32 bytes.
NEW_SECRET_BYTES: Final = 32
#: "Verifying signatures": a timestamp within this tolerance of now (the libraries' 5 minutes).
TOLERANCE_SECONDS: Final = 300
#: Header values longer than this are refused before any work (a few rotations' signatures).
MAX_SIGNATURE_HEADER: Final = 2048
_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")  # no "." ("Signature scheme"), header-safe


def _b64decode(text: str, what: str) -> bytes:
    stripped = text.rstrip("=")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("invalid_key", f"{what} is not base64") from exc


@dataclass(frozen=True, repr=False)
class WebhookSecret:
    """A ``v1`` signing secret (HMAC-SHA256 key); ``str()`` gives its ``whsec_`` form."""

    key: bytes

    def __post_init__(self) -> None:
        if not MIN_SECRET_BYTES <= len(self.key) <= MAX_SECRET_BYTES:
            raise InputError(
                "invalid_key",
                f"a webhook secret is {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes",
            )

    @classmethod
    def generate(cls) -> WebhookSecret:
        """A fresh random secret."""
        return cls(secrets.token_bytes(NEW_SECRET_BYTES))

    @classmethod
    def parse(cls, text: str) -> WebhookSecret:
        """Read a ``whsec_...`` secret."""
        if not text.startswith(SECRET_PREFIX) or len(text) > 200:
            raise InputError("invalid_key", f"a webhook secret starts with {SECRET_PREFIX}")
        return cls(_b64decode(text[len(SECRET_PREFIX) :], "the webhook secret"))

    def __str__(self) -> str:
        return SECRET_PREFIX + base64.b64encode(self.key).decode("ascii")

    def __repr__(self) -> str:
        return "WebhookSecret(...)"

    def sign(self, content: bytes) -> str:
        """``v1,<base64 HMAC-SHA256>`` of ``content``."""
        return "v1," + base64.b64encode(hmac_sha256(self.key, content)).decode("ascii")


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A ``v1a`` Ed25519 private key; ``str()`` gives its ``whsk_`` form."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise InputError("invalid_key", "a whsk_ key holds a 32-byte Ed25519 private key")

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh Ed25519 key pair."""
        return cls(ed25519_generate_seed())

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        """Read a ``whsk_...`` key (32-byte seed, or libsodium's 64-byte seed + public key)."""
        if not text.startswith(SECRET_KEY_PREFIX) or len(text) > 200:
            raise InputError("invalid_key", f"a v1a private key starts with {SECRET_KEY_PREFIX}")
        raw = _b64decode(text[len(SECRET_KEY_PREFIX) :], "the v1a private key")
        if len(raw) == 64:
            seed, public = raw[:32], raw[32:]
            if ed25519_public(seed) != public:
                raise InputError("invalid_key", "the whsk_ key's halves do not match")
            return cls(seed)
        return cls(raw)

    @property
    def public_key(self) -> PublicKey:
        """The matching public key, to publish to the consumer."""
        return PublicKey(ed25519_public(self.seed))

    def __str__(self) -> str:
        return SECRET_KEY_PREFIX + base64.b64encode(self.seed).decode("ascii")

    def __repr__(self) -> str:
        return f"SigningKey({self.public_key})"

    def sign(self, content: bytes) -> str:
        """``v1a,<base64 Ed25519 signature>`` of ``content``."""
        return "v1a," + base64.b64encode(ed25519_sign(self.seed, content)).decode("ascii")


@dataclass(frozen=True)
class PublicKey:
    """A ``v1a`` Ed25519 public key; ``str()`` gives its ``whpk_`` form."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise InputError("invalid_key", "a whpk_ key holds a 32-byte Ed25519 public key")

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """Read a ``whpk_...`` key."""
        if not text.startswith(PUBLIC_KEY_PREFIX) or len(text) > 200:
            raise InputError("invalid_key", f"a v1a public key starts with {PUBLIC_KEY_PREFIX}")
        return cls(_b64decode(text[len(PUBLIC_KEY_PREFIX) :], "the v1a public key"))

    def __str__(self) -> str:
        return PUBLIC_KEY_PREFIX + base64.b64encode(self.raw).decode("ascii")


def check_message_id(msg_id: str) -> str:
    """A webhook id: 1-128 of ``[A-Za-z0-9_-]`` (never a ``.``, "Signature scheme")."""
    if not _ID.fullmatch(msg_id):
        raise InputError("malformed", "a webhook id is 1-128 of [A-Za-z0-9_-]")
    return msg_id


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """``msg_id.timestamp.payload``: what every signature covers ("Signature scheme")."""
    check_message_id(msg_id)
    if timestamp < 0:
        raise InputError("malformed", "a webhook timestamp is a non-negative integer")
    return f"{msg_id}.{timestamp}.".encode() + body


def sign(
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    secrets: Sequence[WebhookSecret] = (),
    keys: Sequence[SigningKey] = (),
) -> dict[str, str]:
    """The three ``webhook-*`` headers for one attempt.

    Every given secret and key signs, newest first: during a rotation the caller passes both
    the new and the old secret, and the consumer accepts whichever it holds ("Webhook
    headers").
    """
    if not secrets and not keys:
        raise InputError("invalid_key", "a webhook needs at least one secret or key to sign")
    content = signed_content(msg_id, timestamp, body)
    signatures = [s.sign(content) for s in secrets] + [k.sign(content) for k in keys]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: int,
    secrets: Sequence[WebhookSecret] = (),
    public_keys: Sequence[PublicKey] = (),
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Verify a received webhook; return its ``webhook-id`` or raise ``invalid_signature``.

    The consumer's side of "Verifying signatures", for this platform's own tests and for
    relying parties using civicstack: (1) the three headers are present, (2) the timestamp is
    an integer within ``tolerance`` of ``now``, (3) some listed ``v1`` signature matches a
    secret (constant time) or some ``v1a`` signature verifies under a trusted public key.
    Unknown signature versions are skipped.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    # 1. the headers
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    listed = lowered.get("webhook-signature")
    if not msg_id or not stamp or not listed:
        raise VerificationError("invalid_signature", "a webhook-* header is missing")
    if len(listed) > MAX_SIGNATURE_HEADER or len(stamp) > 12 or not stamp.isdigit():
        raise VerificationError("invalid_signature", "malformed webhook headers")
    # 2. freshness against replays
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise VerificationError("invalid_signature", "the webhook timestamp is out of tolerance")
    try:
        content = signed_content(msg_id, timestamp, body)
    except InputError as exc:
        raise VerificationError("invalid_signature", exc.detail) from exc
    # 3. any one signature by a trusted secret or key
    for entry in listed.split(" "):
        version, _, encoded = entry.partition(",")
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if version == "v1":
            for secret in secrets:
                if constant_time_equal(hmac_sha256(secret.key, content), signature):
                    return msg_id
        elif version == "v1a":
            for key in public_keys:
                try:
                    ed25519_verify(key.raw, signature, content)
                except VerificationError:
                    continue
                return msg_id
    raise VerificationError("invalid_signature", "no webhook signature matches")
