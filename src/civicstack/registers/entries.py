"""Entries, records and the bytes each entry contributes to the two Merkle trees.

An entry appends one or more items under a key at a timestamp. ``user`` entries carry the
register's data; ``system`` entries its metadata and schema (``name``, ``custodian``,
``field:<f>``, ``register:<r>``). GOV.UK numbered each scope from 1 separately, and the
``assert-root-hash`` of its RSF files covers the user entries only.

Two trees, two leaf rules:

1. **GOV.UK tree** (reproduces ``assert-root-hash``): one leaf per user entry, in user-entry
   order, the entry's v1 JSON exactly as openregister-java's ``V1EntryMerkleLeafStore`` wrote it
   (Jackson, ``EntryView`` property order, no whitespace, non-ASCII raw)::

     {"index-entry-number":"N","entry-number":"N","entry-timestamp":"T","key":"K","item-hash":["sha-256:..."]}

   with N the user-entry number as a decimal string. Checked against all 51 archived registers.
2. **Register log** (civicstack's verified sequence, what the durable log stores and signs): one
   leaf per entry of either scope, in the order appended. A user entry's leaf is byte for byte
   its GOV.UK leaf, so the GOV.UK tree is recomputable from the log's leaves and a GOV.UK leaf
   hash is the log's leaf hash; a system entry's leaf is the same object with ``"entry-type":
   "system"`` appended as the last member, so no system leaf equals any user leaf (N counts
   system entries then). Schema changes are therefore inside the proof: a checkpoint over the
   register log commits to every ``field:`` and ``register:`` change in its place in the
   sequence, which GOV.UK's tree of user entries did not.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from civicstack.errors import VerificationError
from civicstack.registers.canonical import Item, json_string

TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
ITEM_HASH_RE = re.compile(r"sha-256:[0-9a-f]{64}")


class Scope(StrEnum):
    """Which log an entry belongs to in GOV.UK's model: data (``user``) or metadata."""

    USER = "user"
    SYSTEM = "system"


def check_timestamp(text: str) -> int:
    """Seconds since the epoch for an RSF timestamp ``YYYY-MM-DDThh:mm:ssZ``.

    Raises ``invalid_entry`` for any other form or an impossible date.
    """
    if TIMESTAMP_RE.fullmatch(text) is None:
        raise VerificationError("invalid_entry", f"timestamp {text!r} is not YYYY-MM-DDThh:mm:ssZ")
    # Fixed positions, checked by hand: strptime costs a quarter of an archive import.
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if not (
        1 <= month <= 12
        and 1 <= day <= calendar.monthrange(year, month)[1]
        and hour < 24
        and minute < 60
        and second < 60
    ):
        raise VerificationError("invalid_entry", f"timestamp {text!r} is not a date")
    return calendar.timegm((year, month, day, hour, minute, second))


def format_timestamp(now: int) -> str:
    """The RSF timestamp for ``now`` (seconds since the epoch, UTC)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Entry:
    """One appended entry; ``position`` is its 0-based index in the register log."""

    scope: Scope
    number: int
    key: str
    timestamp: str
    item_hashes: tuple[str, ...]
    position: int

    def govuk_leaf(self) -> bytes:
        """The GOV.UK v1 entry JSON (the leaf of the ``assert-root-hash`` tree)."""
        return self._leaf_text().encode("utf-8")

    def log_leaf(self) -> bytes:
        """The leaf of the register log: the GOV.UK leaf, tagged for system entries."""
        text = self._leaf_text()
        if self.scope is Scope.SYSTEM:
            text = text[:-1] + ',"entry-type":"system"}'
        return text.encode("utf-8")

    def _leaf_text(self) -> str:
        number = str(self.number)
        hashes = ",".join(f'"{h}"' for h in self.item_hashes)
        return (
            f'{{"index-entry-number":"{number}","entry-number":"{number}",'
            f'"entry-timestamp":{json_string(self.timestamp)},"key":{json_string(self.key)},'
            f'"item-hash":[{hashes}]}}'
        )

    def rsf(self) -> str:
        """The ``append-entry`` line (without its newline)."""
        hashes = ";".join(self.item_hashes)
        return f"append-entry\t{self.scope.value}\t{self.key}\t{self.timestamp}\t{hashes}"

    def to_json(self) -> dict[str, object]:
        """The entry as the GOV.UK entry resource (plus its scope and log position)."""
        return {
            "index-entry-number": str(self.number),
            "entry-number": str(self.number),
            "entry-timestamp": self.timestamp,
            "key": self.key,
            "item-hash": list(self.item_hashes),
            "entry-type": self.scope.value,
            "log-index": self.position,
        }


@dataclass(frozen=True, slots=True)
class Record:
    """A key's latest entry and its items."""

    entry: Entry
    items: tuple[Item, ...]

    @property
    def key(self) -> str:
        """The record's key."""
        return self.entry.key

    @property
    def item(self) -> Item:
        """The first (in GOV.UK practice the only) item."""
        return self.items[0]
