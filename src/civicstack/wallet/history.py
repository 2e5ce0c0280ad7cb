"""The wallet's history: every presentation, decline and refusal, in a hash chain.

Each :class:`PresentationRecord` is one encrypted file of the vault's ``history`` directory,
``1``, ``2``, ``3``... The chain is append-only and tamper-evident: each record carries the
SHA-256 of the previous record's file, records are created with a no-overwrite link, and
``head.rec`` (rewritten after each append) pins the count and the last hash, so removing,
reordering or truncating records is detected (``wallet_corrupted``). A crash between an append
and its head update leaves a valid longer chain, which is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from civicstack._crypto import sha256_b64url
from civicstack.errors import CivicError
from civicstack.wallet.consent import ConsentItem
from civicstack.wallet.vault import Vault

PresentationOutcome = Literal["presented", "declined", "refused"]
_LOG = "history"
_HEAD = "head"
_APPEND_RETRIES = 8


def _corrupted(detail: str) -> CivicError:
    return CivicError("wallet_corrupted", detail)


@dataclass(frozen=True, slots=True)
class PresentationRecord:
    """One entry of the wallet's history."""

    seq: int
    at: int
    outcome: PresentationOutcome
    relying_party: str
    purpose: str
    aud: str
    nonce: str
    relying_party_name: str = ""
    registrar: str = ""
    registration: str = ""
    purpose_description: str = ""
    items: tuple[ConsentItem, ...] = ()
    error: str = ""  # the code, when the wallet refused

    def to_json(self) -> dict[str, Any]:
        """The stored form (without ``seq``, which is the record's place in the log)."""
        return {
            "at": self.at,
            "outcome": self.outcome,
            "relying_party": self.relying_party,
            "relying_party_name": self.relying_party_name,
            "registrar": self.registrar,
            "registration": self.registration,
            "purpose": self.purpose,
            "purpose_description": self.purpose_description,
            "aud": self.aud,
            "nonce": self.nonce,
            "items": [i.to_json() for i in self.items],
            "error": self.error,
        }

    @classmethod
    def from_json(cls, seq: int, value: Mapping[str, Any]) -> PresentationRecord:
        """Read the stored form (KeyError or TypeError if it is not one)."""
        outcome = value["outcome"]
        if outcome not in ("presented", "declined", "refused"):
            raise TypeError("unknown outcome")
        return cls(
            seq=seq,
            at=int(value["at"]),
            outcome=outcome,
            relying_party=str(value["relying_party"]),
            purpose=str(value["purpose"]),
            aud=str(value["aud"]),
            nonce=str(value["nonce"]),
            relying_party_name=str(value["relying_party_name"]),
            registrar=str(value["registrar"]),
            registration=str(value["registration"]),
            purpose_description=str(value["purpose_description"]),
            items=tuple(ConsentItem.from_json(i) for i in value["items"]),
            error=str(value["error"]),
        )


class History:
    """The append-only, hash-chained log of a wallet's vault."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def append(self, value: dict[str, Any]) -> int:
        """Append ``value``; return its sequence number (from 1)."""
        count, prev = self._head()
        seq = count + 1
        if count:
            # O(1) guard: the record the head pins must still be there, unchanged (entries()
            # checks the whole chain).
            try:
                _, pinned = self._vault.sealed(_LOG, f"{count:010d}")
            except CivicError as exc:
                if exc.code != "not_found":
                    raise
                raise _corrupted(f"history record {count} is missing") from exc
            if sha256_b64url(pinned) != prev:
                raise _corrupted(f"history record {count} differs from the one the head pins")
        for _ in range(_APPEND_RETRIES):
            blob = self._vault.put_new(
                _LOG, f"{seq:010d}", {"seq": seq, "prev": prev, "entry": value}
            )
            if blob is None:
                # Another writer (or a crash before its head update) took this number: find
                # the true end of the chain and try again after it.
                chain = list(self._chain())
                seq, prev = len(chain) + 1, chain[-1][1] if chain else ""
                continue
            self._vault.put(_LOG, _HEAD, {"count": seq, "last": sha256_b64url(blob)}, replace=True)
            return seq
        raise CivicError("conflict", "the history is being appended to concurrently")

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first, after checking the chain and the head."""
        return [entry for entry, _ in self._chain()]

    def records(self) -> tuple[PresentationRecord, ...]:
        """Every entry as a :class:`PresentationRecord`, oldest first."""
        out: list[PresentationRecord] = []
        for seq, entry in enumerate(self.entries(), start=1):
            try:
                out.append(PresentationRecord.from_json(seq, entry))
            except (KeyError, TypeError, ValueError) as exc:
                raise _corrupted(f"history record {seq} is damaged") from exc
        return tuple(out)

    def _head(self) -> tuple[int, str]:
        try:
            head = self._vault.get(_LOG, _HEAD)
        except CivicError as exc:
            if exc.code != "not_found":
                raise
            if any(n != _HEAD for n in self._vault.names(_LOG)):
                raise _corrupted("the history head is missing") from exc
            return 0, ""
        count, last = head.get("count"), head.get("last")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _corrupted("the history head is damaged")
        if not isinstance(last, str):
            raise _corrupted("the history head is damaged")
        return count, last

    def _chain(self) -> Iterator[tuple[dict[str, Any], str]]:
        count, last = self._head()
        names = [n for n in self._vault.names(_LOG) if n != _HEAD]
        if len(names) < count:
            raise _corrupted("history records are missing")
        prev = ""
        for i, name in enumerate(names, start=1):
            if name != f"{i:010d}":
                raise _corrupted(f"history record {i} is missing")
            try:
                record, blob = self._vault.sealed(_LOG, name)
            except CivicError as exc:
                if exc.code != "not_found":
                    raise
                raise _corrupted(f"history record {i} vanished while reading") from exc
            entry = record.get("entry")
            if record.get("seq") != i or record.get("prev") != prev or not isinstance(entry, dict):
                raise _corrupted(f"history record {i} does not follow record {i - 1}")
            prev = sha256_b64url(blob)
            if i == count and prev != last:
                raise _corrupted(f"history record {i} differs from the one the head pins")
            yield entry, prev
