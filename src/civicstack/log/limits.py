"""The size and count caps of the log recipes: one frozen :class:`Limits` value.

Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint) and tlog-proof receipts come
from other servers and witnesses; appends and reads come from callers. Each cap below has a
default an operator may lower or raise (``CIVIC_LIMIT_LOG_<FIELD>``) and is passed as
``limits=`` to the recipe that reads it. What the formats themselves fix is not a limit and
stays a constant: a tlog-tiles entry is at most 65,535 bytes (its 16-bit length prefix), a tree
at most 2^64 - 1 leaves, a proof at most 128 hashes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what the log recipes read and write.

    - ``note_bytes`` (262,144): one signed note (a checkpoint with its signatures), as bytes;
    - ``signatures`` (100): signature lines on one note;
    - ``key_name`` (256): characters of a note key's name;
    - ``extension_lines`` (16): extension lines of one checkpoint;
    - ``receipt_bytes`` (393,216): one tlog-proof receipt, its checkpoint note included;
    - ``append_entries`` (1,000,000): entries one append takes (larger imports go through
      ``LogStore.append_all``, in batches);
    - ``read_entries`` (10,000): entries one read returns.
    """

    note_bytes: int = 256 * 1024
    signatures: int = 100
    key_name: int = 256
    extension_lines: int = 16
    receipt_bytes: int = 256 * 1024 + 128 * 1024
    append_entries: int = 1_000_000
    read_entries: int = 10_000

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 1:
                raise ValueError(f"log limit {name} must be at least 1")


DEFAULT_LIMITS = Limits()
