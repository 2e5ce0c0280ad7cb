"""The access-log entry: who asked whom for what about a subject, and whether data left.

An entry is one leaf of the access log (an RFC 9162 Merkle log, :mod:`civicstack.log`); its
bytes are what the leaf hash covers, so they have one canonical form:

    {"v":1,"time":T,"requester":R,"provider":P,"service":S,"purpose":U,
     "categories":[C,...],"outcome":"released"|"refused","refusal":CODE|null,
     "consent":ID|null,"consent_version":N|null,"subject":{"tag":..,"link":..}|null}

UTF-8 JSON, members in exactly that order, no whitespace, categories sorted and distinct
(:meth:`AccessEntry.to_bytes`). :func:`parse_entry` accepts only that form (it re-encodes what
it read and compares), so one access has exactly one leaf hash. The subject appears only as its
unlinkable mark (:mod:`civicstack.access.subject`); ``subject`` is null for a refused attempt
the platform could not attribute to any citizen it knows.

After each batch of entries the log holds one more leaf of another kind, the root of the
subject map (:mod:`civicstack.access.subject_map`) once the batch is in it:

    {"v":1,"subject_map":ROOT}

(ROOT base64url, 43 characters; :class:`SubjectMapRoot`), so every signed checkpoint of the
access log ends with the map root that covers every entry before it, and witnesses that check
the log's consistency check the map roots' history with it. :func:`parse_leaf` reads either
kind.

Sizes are capped (:data:`MAX_ENTRY_BYTES`, names and codes by :data:`NAME_CHARS`, at most
:data:`MAX_CATEGORIES` categories), so an entry stays small and every field is checked before
anything is logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from civicstack._crypto import (
    b64url_decode,
    b64url_encode,
    json_dumps,
    json_loads_strict,
    merkle_leaf_hash,
)
from civicstack.access.subject import ChainHead, SubjectMark, mark
from civicstack.errors import InputError

__all__ = [
    "CATEGORY",
    "MAX_CATEGORIES",
    "MAX_ENTRY_BYTES",
    "NAME_CHARS",
    "AccessEntry",
    "AppendedAccesses",
    "Outcome",
    "SubjectMapRoot",
    "chained",
    "check_categories",
    "parse_entry",
    "parse_leaf",
]

#: The largest entry, in bytes (every field capped below makes a much smaller one).
MAX_ENTRY_BYTES = 4096
#: Names (requester, provider, service, purpose, consent id, refusal code) are at most this long.
NAME_CHARS = 64
#: One access asks for at most this many categories.
MAX_CATEGORIES = 16
#: A personal-data category as a CURIE, e.g. ``dpv-pd:DrivingLicense`` (W3C DPV, PD extension).
CATEGORY = re.compile(r"[a-z][a-z0-9-]{0,15}:[A-Za-z][A-Za-z0-9]{0,47}")
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._:-]{0,63}")
_B64 = re.compile(r"[A-Za-z0-9_-]{43}")

Outcome = Literal["released", "refused"]
_KEYS = (
    "v",
    "time",
    "requester",
    "provider",
    "service",
    "purpose",
    "categories",
    "outcome",
    "refusal",
    "consent",
    "consent_version",
    "subject",
)


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InputError(
            "invalid_request",
            f"{what} is 1 to {NAME_CHARS} letters, digits and . _ : - (starting with one of the"
            " first two)",
        )
    return value


def check_categories(value: object) -> tuple[str, ...]:
    """Categories as asked: a list of 1 to :data:`MAX_CATEGORIES` distinct CURIEs; sorted."""
    if not isinstance(value, (list, tuple)) or not 0 < len(value) <= MAX_CATEGORIES:
        raise InputError(
            "invalid_request", f"categories is a list of 1 to {MAX_CATEGORIES} data categories"
        )
    for c in value:
        if not isinstance(c, str) or not CATEGORY.fullmatch(c):
            raise InputError(
                "invalid_request",
                "a category is a CURIE such as dpv-pd:DrivingLicense",
            )
    if len(set(value)) != len(value):
        raise InputError("invalid_request", "categories are listed once each")
    return tuple(sorted(value))


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access, released or refused, as the access log records it."""

    time: int
    requester: str
    provider: str
    service: str
    purpose: str
    categories: tuple[str, ...]
    outcome: Outcome
    refusal: str | None = None
    consent: str | None = None
    consent_version: int | None = None
    subject: SubjectMark | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.time, int) or isinstance(self.time, bool) or self.time < 0:
            raise InputError("invalid_request", "an entry's time is a non-negative integer")
        for what in ("requester", "provider", "service", "purpose"):
            _name(getattr(self, what), what)
        if check_categories(self.categories) != self.categories:
            raise InputError("invalid_request", "an entry's categories are sorted")
        if self.outcome == "released":
            if self.refusal is not None or self.consent is None:
                raise InputError("invalid_request", "a released access names its consent")
        elif self.outcome == "refused":
            _name(self.refusal, "refusal")
        else:
            raise InputError("invalid_request", "an outcome is released or refused")
        if self.consent is not None:
            _name(self.consent, "consent")
        if self.consent_version is not None and (
            not isinstance(self.consent_version, int)
            or isinstance(self.consent_version, bool)
            or not 0 <= self.consent_version < 1 << 31
        ):
            raise InputError("invalid_request", "a consent version is a small integer")
        if self.subject is not None and not all(
            isinstance(h, str) and _B64.fullmatch(h) for h in (self.subject.tag, self.subject.link)
        ):
            raise InputError("invalid_request", "a subject mark is two base64url hashes")

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object (members in canonical order)."""
        return {
            "v": 1,
            "time": self.time,
            "requester": self.requester,
            "provider": self.provider,
            "service": self.service,
            "purpose": self.purpose,
            "categories": list(self.categories),
            "outcome": self.outcome,
            "refusal": self.refusal,
            "consent": self.consent,
            "consent_version": self.consent_version,
            "subject": None
            if self.subject is None
            else {"tag": self.subject.tag, "link": self.subject.link},
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes: the log's leaf (see the module docstring)."""
        data = json_dumps(self.to_json())
        if len(data) > MAX_ENTRY_BYTES:  # pragma: no cover - the field caps keep it smaller
            raise InputError("too_large", f"an access entry is at most {MAX_ENTRY_BYTES} bytes")
        return data


def parse_entry(data: bytes) -> AccessEntry:
    """Read an access-log entry; ``malformed`` unless it is in the canonical form."""
    if not isinstance(data, bytes) or len(data) > MAX_ENTRY_BYTES:
        raise InputError("malformed", f"an access entry is at most {MAX_ENTRY_BYTES} bytes")
    try:
        value = json_loads_strict(data)
        if not isinstance(value, dict) or tuple(value) != _KEYS or value["v"] != 1:
            raise InputError("malformed", "not an access entry (version 1)")
        subject = value["subject"]
        if subject is not None:
            if not isinstance(subject, dict) or tuple(subject) != ("tag", "link"):
                raise InputError("malformed", "an entry's subject is {tag, link}")
            subject = SubjectMark(subject["tag"], subject["link"])
        categories = value["categories"]
        entry = AccessEntry(
            time=value["time"],
            requester=value["requester"],
            provider=value["provider"],
            service=value["service"],
            purpose=value["purpose"],
            categories=tuple(categories) if isinstance(categories, list) else categories,
            outcome=value["outcome"],
            refusal=value["refusal"],
            consent=value["consent"],
            consent_version=value["consent_version"],
            subject=subject,
        )
    except InputError as exc:
        raise InputError("malformed", f"not an access entry: {exc.detail}") from exc
    if entry.to_bytes() != data:
        raise InputError("malformed", "an access entry is not in its canonical form")
    return entry


@dataclass(frozen=True, slots=True)
class SubjectMapRoot:
    """The access log's other kind of leaf: the subject map's root after a batch."""

    root: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise InputError("invalid_request", "a subject map root is 32 bytes")

    def to_json(self) -> dict[str, Any]:
        """The leaf as a JSON object."""
        return {"v": 1, "subject_map": b64url_encode(self.root)}

    def to_bytes(self) -> bytes:
        """The canonical bytes (see the module docstring)."""
        return json_dumps(self.to_json())


def parse_leaf(data: bytes) -> AccessEntry | SubjectMapRoot:
    """Read an access-log leaf of either kind; ``malformed`` unless canonical."""
    if isinstance(data, bytes) and data.startswith(b'{"v":1,"subject_map":'):
        try:
            value = json_loads_strict(data)
            if not isinstance(value, dict) or tuple(value) != ("v", "subject_map"):
                raise InputError("malformed", "not a subject map root")
            encoded = value["subject_map"]
            if not isinstance(encoded, str) or not _B64.fullmatch(encoded):
                raise InputError("malformed", "a subject map root is a base64url hash")
            leaf = SubjectMapRoot(b64url_decode(encoded))
        except InputError as exc:
            raise InputError("malformed", f"not a subject map root: {exc.detail}") from exc
        if leaf.to_bytes() != data:
            raise InputError("malformed", "a subject map root is not in its canonical form")
        return leaf
    return parse_entry(data)


def chained(
    entry: AccessEntry, log_subject: str | None, head: ChainHead, key: bytes | None = None
) -> tuple[bytes, ChainHead]:
    """The bytes of ``entry`` as the next one on ``log_subject``'s chain after ``head``, and
    the chain's new head (:mod:`civicstack.access.subject`); without a subject, the entry as
    it is and ``head`` unchanged. The access store calls this inside its write transaction
    (passing ``key``, the subject's :func:`subject_key`, when it has it)."""
    if log_subject is None:
        if entry.outcome == "released":
            raise InputError("invalid_request", "a released access names its subject")
        return entry.to_bytes(), head
    # The entry was checked when made, and a mark is always well formed: its bytes with the
    # mark in place are those of replace(entry, subject=...), without checking it all again.
    value = entry.to_json()
    marked = mark(log_subject, head, key)
    value["subject"] = {"tag": marked.tag, "link": marked.link}
    data = json_dumps(value)
    if len(data) > MAX_ENTRY_BYTES:  # pragma: no cover - the field caps keep it smaller
        raise InputError("too_large", f"an access entry is at most {MAX_ENTRY_BYTES} bytes")
    return data, ChainHead(head.count + 1, merkle_leaf_hash(data))


@dataclass(frozen=True, slots=True)
class AppendedAccesses:
    """A batch of accesses durably in the log: their first index, their bytes, and the one
    checkpoint signed for the batch (at tree size ``size``)."""

    start: int
    entries: tuple[bytes, ...]
    size: int
    checkpoint: str
    #: Each entry's RFC 9162 inclusion proof in the checkpoint's tree, when the writer made
    #: them from memory (else the log store reads them).
    proofs: tuple[tuple[bytes, ...], ...] | None = None
