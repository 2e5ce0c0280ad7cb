"""The subject of an access-log entry: an unlinkable tag on a per-subject chain.

An access log is public (anyone can read it through its tiles), so an entry must not name the
citizen, and two entries about the same citizen must not be linkable by outsiders. Yet the
citizen must be able to find every entry about them, and (issue 12) prove that they hold all of
them. Each entry therefore carries, instead of the subject:

1. ``K = HMAC-SHA256(log_subject, "civicstack/access-subject/v1")`` — the subject's tag key,
   derived from their *access-log handle* ``log_subject`` (their pairwise id at
   :data:`civicstack.pairwise.ACCESS_LOG_SECTOR`, :mod:`civicstack.pairwise`), which only the
   platform can compute and which the platform gives the citizen's wallet; nobody else holds it.
2. ``counter`` — 0 for the subject's first entry, then 1, 2, ... with no gaps: the platform keeps
   each subject's count and writes it in the same transaction as the entry.
3. ``tag = HMAC-SHA256(K, "tag" || counter)`` (counter as 8 bytes, big-endian): a pseudorandom
   value (HMAC as a PRF, RFC 2104) that no one without ``K`` can link to another tag or to a
   person; the wallet, holding ``K``, computes the tags of counters 0, 1, 2, ... and finds its
   entries by them.
4. ``link = HMAC-SHA256(K, "link" || counter || previous)``, ``previous`` the RFC 9162 leaf hash
   of the subject's entry ``counter - 1`` (32 zero bytes for the first): the entries of one
   subject form a hash chain that only ``K`` can follow. An entry removed, altered or inserted
   in a subject's history breaks the chain at the next entry.

Completeness (issue 12): the chain head per subject (its count and the leaf hash of its last
entry) is kept in the *subject map* (:mod:`civicstack.access.subject_map`), a sparse Merkle tree
whose root the log commits as a leaf after each batch. The subject's place in it and what it
holds there are blinded by ``K`` as well:

5. ``map key = HMAC-SHA256(K, "map")`` — one per subject, unlinkable to its tags;
6. ``map value = HMAC-SHA256(K, "head" || count || last)`` (count as 8 bytes, big-endian;
   ``last`` the leaf hash of entry ``count - 1``) — what the wallet, which knows its chain,
   recomputes and compares; the map's nodes reveal nothing to anyone without ``K``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from civicstack._crypto import b64url_encode
from civicstack.errors import InputError

__all__ = [
    "FIRST_PREVIOUS",
    "ChainHead",
    "SubjectMark",
    "head_value",
    "map_key",
    "mark",
    "subject_key",
    "subject_link",
    "subject_tag",
]

_KEY_LABEL = b"civicstack/access-subject/v1"
#: The ``previous`` of a subject's first entry.
FIRST_PREVIOUS = bytes(32)
_MAX_COUNTER = (1 << 63) - 1


def subject_key(log_subject: str) -> bytes:
    """``K`` of step 1: the tag key of the citizen whose access-log handle is ``log_subject``."""
    if not isinstance(log_subject, str) or not 0 < len(log_subject) <= 128:
        raise InputError("invalid_request", "an access-log handle is 1 to 128 characters")
    return hmac.new(log_subject.encode(), _KEY_LABEL, "sha256").digest()


def _counter(counter: int) -> bytes:
    if (
        not isinstance(counter, int)
        or isinstance(counter, bool)
        or not 0 <= counter <= _MAX_COUNTER
    ):
        raise InputError("invalid_request", "a subject counter is a non-negative 63-bit integer")
    return counter.to_bytes(8, "big")


def subject_tag(key: bytes, counter: int) -> bytes:
    """Step 3: the tag of the subject's entry number ``counter``."""
    return hmac.new(key, b"tag" + _counter(counter), "sha256").digest()


def subject_link(key: bytes, counter: int, previous: bytes) -> bytes:
    """Step 4: the link of entry ``counter`` to the leaf hash ``previous`` of the one before."""
    if len(previous) != 32:
        raise InputError("invalid_request", "a previous leaf hash is 32 bytes")
    return hmac.new(key, b"link" + _counter(counter) + previous, "sha256").digest()


def map_key(key: bytes) -> bytes:
    """Step 5: the subject's key in the subject map."""
    return hmac.new(key, b"map", "sha256").digest()


def head_value(key: bytes, head: ChainHead) -> bytes:
    """Step 6: what the subject map holds for the subject whose chain stands at ``head``."""
    if len(head.last) != 32:
        raise InputError("invalid_request", "a chain head's last leaf hash is 32 bytes")
    return hmac.new(key, b"head" + _counter(head.count) + head.last, "sha256").digest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a subject's chain stands: how many entries it has and its last entry's leaf hash."""

    count: int = 0
    last: bytes = FIRST_PREVIOUS


@dataclass(frozen=True, slots=True)
class SubjectMark:
    """What an entry says of its subject: the tag and the link (base64url, 43 characters)."""

    tag: str
    link: str


def mark(log_subject: str, head: ChainHead, key: bytes | None = None) -> SubjectMark:
    """The mark of the subject's next entry, after ``head`` (``key``: its :func:`subject_key`,
    if the caller has it)."""
    if key is None:
        key = subject_key(log_subject)
    return SubjectMark(
        b64url_encode(subject_tag(key, head.count)),
        b64url_encode(subject_link(key, head.count, head.last)),
    )
