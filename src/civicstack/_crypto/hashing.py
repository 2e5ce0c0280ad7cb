"""Hashing: SHA-256 through :mod:`hashlib` (about 3x pyca's speed on short inputs).

Also the RFC 9162 §2.1.1 Merkle tree hash prefixes, so that every hash this project relies on
is computed in this one package.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Iterable, Sequence

from civicstack._crypto.encoding import b64url_encode

_TO_URL = bytes.maketrans(b"+/", b"-_")

sha256 = hashlib.sha256

_LEAF = b"\x00"
_NODE = b"\x01"


def sha256_digest(data: bytes) -> bytes:
    """SHA-256 of ``data``."""
    return hashlib.sha256(data).digest()


def sha256_b64url(data: bytes) -> str:
    """Unpadded base64url of SHA-256 of ``data`` (SD-JWT digests, ``sd_hash``, thumbprints)."""
    return b64url_encode(hashlib.sha256(data).digest())


def b64url_with_digest(data: bytes) -> tuple[str, str]:
    """``(b64url(data), b64url(SHA-256(b64url(data))))``: an SD-JWT Disclosure and its digest.

    RFC 9901 §4.2.3 hashes the ASCII of the encoded Disclosure; doing both steps on bytes
    here saves a decode/encode round per claim on the issuance hot path.
    """
    encoded = binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=")
    return encoded.decode("ascii"), b64url_encode(hashlib.sha256(encoded).digest())


def merkle_leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(_LEAF + data).digest()


def merkle_node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(_NODE + left + right).digest()


#: RFC 9162 §2.1.1: the hash of an empty tree is the hash of the empty string.
MERKLE_EMPTY_ROOT = hashlib.sha256(b"").digest()


#: The subject map's (sparse Merkle tree) empty subtree, at any depth: no SHA-256 preimage of
#: 32 zero bytes is known, so it is distinct from every leaf and branch hash.
MAP_EMPTY = bytes(32)
_MAP_LEAF = b"\x02"
_MAP_NODE = b"\x03"


def map_leaf_hash(key: bytes, value: bytes) -> bytes:
    """A subject-map leaf: SHA-256(0x02 || key || value) (prefixes apart from RFC 9162's)."""
    return hashlib.sha256(_MAP_LEAF + key + value).digest()


def map_node_hash(left: bytes, right: bytes) -> bytes:
    """A subject-map branch: SHA-256(0x03 || left || right)."""
    return hashlib.sha256(_MAP_NODE + left + right).digest()


def merkle_leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """:func:`merkle_leaf_hash` of each entry, in one pass (bulk appends hash millions)."""
    h = hashlib.sha256
    return [h(_LEAF + e).digest() for e in entries]


def merkle_parents(hashes: Sequence[bytes]) -> list[bytes]:
    """The level above ``hashes`` (an even count): :func:`merkle_node_hash` of each pair."""
    if len(hashes) % 2:
        raise ValueError("merkle_parents needs an even number of hashes")
    h = hashlib.sha256
    it = iter(hashes)
    return [h(_NODE + left + right).digest() for left, right in zip(it, it, strict=True)]
