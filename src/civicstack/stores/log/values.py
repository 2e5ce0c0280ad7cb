"""What the log store hands out and takes in: :class:`LogHead`, limits, name and entry checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from civicstack.errors import InputError
from civicstack.log.tiles import MAX_ENTRY_BYTES

__all__ = ["MAX_APPEND", "MAX_READ", "LogHead"]

#: Entries one call may append (larger imports go through :meth:`LogStore.append_all`).
MAX_APPEND = 1_000_000
#: Entries one read may return.
MAX_READ = 10_000
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63}){0,3}")


@dataclass(frozen=True)
class LogHead:
    """A log's identity and latest signed state."""

    name: str
    origin: str
    verifier_key: str
    size: int
    root: bytes
    checkpoint: str


@dataclass(frozen=True)
class _Row:
    id: int
    origin: str
    verifier_key: str
    size: int


def _check_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > 128 or not _NAME.fullmatch(name):
        raise InputError("invalid_request", f"invalid log name {name!r}")
    return name


def _check_entries(entries: Iterable[bytes]) -> list[bytes]:
    out = entries if isinstance(entries, list) else list(entries)
    if not out:
        raise InputError("invalid_request", "nothing to append")
    if len(out) > MAX_APPEND:
        raise InputError("too_large", f"at most {MAX_APPEND} entries per append")
    # map() keeps these checks in C: bulk appends check millions of entries.
    if set(map(type, out)) != {bytes}:
        raise InputError("invalid_request", "log entries are bytes")
    if max(map(len, out)) > MAX_ENTRY_BYTES:
        raise InputError("too_large", f"a log entry is at most {MAX_ENTRY_BYTES} bytes")
    return out
