"""Signing any document with the holder key, and checking such signatures.

A document signature is a JWS with detached content (RFC 7515 Appendix F): the protected header
and the signature, ``header..signature``, while the document travels separately and unchanged.
The header is explicitly typed (RFC 8725 §3.11) ``civic-document+jws``, names the key by its
RFC 7638 thumbprint (``kid``) and carries the signing time (``iat``, a JWT claim replicated as a
header parameter as RFC 7519 §5.3 allows). Verifying needs the signer's public key, the document
and the signature, and returns what was verified or raises; it never returns a bool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from civicstack._crypto import PrivateKey, PublicKey, sha256_b64url, sign_detached, verify_detached
from civicstack.errors import InputError, VerificationError
from civicstack.wallet.limits import DEFAULT_LIMITS, Limits

DOCUMENT_TYP = "civic-document+jws"
_SIGNATURE_CHARS = 8 * 1024  # a detached JWS header and one signature: far less than this


@dataclass(frozen=True, slots=True)
class DocumentSignature:
    """A signature over a document, and what it says."""

    signature: str  # the detached JWS, header..signature
    alg: str
    kid: str  # RFC 7638 thumbprint of the signing key
    signed_at: int
    digest: str  # SHA-256 of the document, base64url: what was signed, for the record


def _check_document(content: bytes, limits: Limits) -> None:
    if not isinstance(content, bytes):
        raise InputError("invalid_request", "a document is bytes")
    if len(content) > limits.document_bytes:
        raise InputError("too_large", f"documents are signed up to {limits.document_bytes} bytes")


def sign_document(
    key: PrivateKey, content: bytes, *, now: int, limits: Limits = DEFAULT_LIMITS
) -> DocumentSignature:
    """Sign ``content`` with ``key`` as a detached JWS at time ``now``."""
    _check_document(content, limits)
    kid = key.public_key.thumbprint()
    jws = sign_detached(key, content, {"typ": DOCUMENT_TYP, "kid": kid, "iat": now})
    return DocumentSignature(jws, key.alg, kid, now, sha256_b64url(content))


def verify_document(
    signature: str,
    content: bytes,
    key: PublicKey | Mapping[str, Any],
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> DocumentSignature:
    """Check that ``signature`` is ``key``'s signature over ``content``; return what it says.

    Raises ``invalid_signature`` (wrong key, changed document, tampered signature),
    ``unsupported_algorithm``, or ``malformed`` (not a document signature).
    """
    _check_document(content, limits)
    public = key if isinstance(key, PublicKey) else PublicKey.from_jwk(dict(key))
    if not isinstance(signature, str) or len(signature) > _SIGNATURE_CHARS:
        raise InputError("malformed", "a document signature is a short detached JWS string")
    # 1. the signature itself (alg allowlist, alg matching the key, no crit): verify_detached
    header = verify_detached(signature, content, public)
    # 2. explicit typing: a JWS made for another purpose is not a document signature
    if header.get("typ") != DOCUMENT_TYP:
        raise InputError("malformed", f"not a document signature (typ {header.get('typ')!r})")
    # 3. the header's claims about itself
    kid, signed_at = header.get("kid"), header.get("iat")
    if kid is not None and kid != public.thumbprint():
        raise VerificationError("invalid_signature", "the signature names another key")
    if not isinstance(signed_at, int) or isinstance(signed_at, bool) or signed_at < 0:
        raise InputError("malformed", "a document signature carries its signing time (iat)")
    return DocumentSignature(
        signature, public.alg, public.thumbprint(), signed_at, sha256_b64url(content)
    )
